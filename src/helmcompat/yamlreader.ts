/**
 * k8s.io/apimachinery `pkg/util/yaml` YAMLReader.Read (decoder.go, v0.35.1 as in Helm 4.1.4),
 * which Helm 4's LoadValues splits values.yaml into documents with: a line starting with
 * `---` ends a document and may only be followed by blanks or a comment. It is a line
 * splitter, not a YAML parser, so js-yaml's document handling would not fail where it fails.
 */

/** A YAMLReader error; the message is the reader's. */
export class YamlReaderError extends Error {}

/** The documents YAMLReader returns one by one, in order; throws YamlReaderError. */
export function splitYamlDocuments(text: string): string[] {
  const docs: string[] = [];
  let buf = '';
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const raw of lines) {
    const line = raw.replace(/\r$/, '') + '\n';
    if (line.startsWith('---')) {
      const trimmed = line.slice(3).replace(/^[\s\u0085\u00a0]+|[\s\u0085\u00a0]+$/g, '');
      if (trimmed.length > 0 && trimmed[0] !== '#') throw new YamlReaderError(`invalid Yaml document separator: ${trimmed}`);
      if (buf.length) {
        docs.push(buf);
        buf = '';
        continue;
      }
    }
    buf += line;
  }
  if (buf.length) docs.push(buf);
  return docs;
}
