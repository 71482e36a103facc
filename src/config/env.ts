import { ConfigError } from '../errors.js';
import { registerSecret } from '../util/secrets.js';
import { formatPath } from './paths.js';

const VAR_RE = /\$\$|\$\{([^}]*)\}/g;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Keys whose values are secrets wherever they sit; they are registered for redaction. */
const SECRET_KEYS = new Set(['password', 'token', 'identityToken']);

/**
 * Replace `${VAR}` in every string of the parsed config with the environment's value; `$$`
 * is a literal `$`. An unset variable is a config error naming it and where it was used.
 */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv, path: (string | number)[] = []): unknown {
  if (typeof value === 'string') {
    const out = value.replace(VAR_RE, (whole, name: string | undefined) => {
      if (whole === '$$') return '$';
      if (!name || !NAME_RE.test(name)) {
        throw new ConfigError(`${formatPath(path)}: "${whole}" is not a valid variable reference (use \${NAME})`);
      }
      const v = env[name];
      if (v === undefined) {
        throw new ConfigError(`${formatPath(path)}: environment variable ${name} is not set`);
      }
      return v;
    });
    const key = path[path.length - 1];
    if (typeof key === 'string' && SECRET_KEYS.has(key)) registerSecret(out);
    return out;
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, [...path, i]));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnv(v, env, [...path, k]);
    return out;
  }
  return value;
}
