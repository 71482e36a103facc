/**
 * The Go types Helm decodes YAML into, described as much as Go `reflect` tells
 * sigs.k8s.io/yaml and encoding/json about them: kinds, struct fields with their JSON names in
 * declaration order, element types, element sizes (slice growth depends on them), and
 * `reflect.Type.String()` for error messages. JS values carry no static type, so the target
 * type that guides both libraries has to be written down.
 */

export type GoType =
  | { kind: 'string' }
  | { kind: 'bool' }
  | { kind: 'any' }
  /** a json.Unmarshaler (time.Time): no coercion; must be an RFC 3339 JSON string */
  | { kind: 'time' }
  /** `pkg.name`, as reflect prints it */
  | { kind: 'struct'; pkg: string; name: string; fields: GoField[] }
  | { kind: 'slice'; elem: GoType; elemSize: number }
  | { kind: 'map'; elem: GoType }
  | { kind: 'ptr'; elem: GoType };

export interface GoField {
  /** JSON name */
  json: string;
  /** JS property */
  prop: string;
  type: GoType;
}

/** Go `reflect.Type.String()`, for `json: cannot unmarshal ... of type ...`. */
export function goTypeName(t: GoType): string {
  switch (t.kind) {
    case 'string':
    case 'bool':
      return t.kind;
    case 'any':
      return 'interface {}';
    case 'time':
      return 'time.Time';
    case 'struct':
      return `${t.pkg}.${t.name}`;
    case 'slice':
      return '[]' + goTypeName(t.elem);
    case 'map':
      return 'map[string]' + goTypeName(t.elem);
    case 'ptr':
      return '*' + goTypeName(t.elem);
  }
}
