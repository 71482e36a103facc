/**
 * Go `http.DetectContentType` (net/http/sniff.go), reduced to the answers Helm's "does not
 * appear to be a gzipped archive; got '...'" message needs for what is not gzip: zip,
 * binary, or text. The HTML, image, font and media signatures are not reproduced, so such
 * input reads as text or binary here where Go would name its type.
 */

/** Roughly Go's http.DetectContentType on the first 512 bytes (zero-padded, as Helm reads). */
export function detectContentType(b: Uint8Array): string {
  const head = Buffer.alloc(512);
  head.set(b.subarray(0, 512));
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'application/zip';
  for (const c of head) if (c <= 0x08 || c === 0x0b || (c >= 0x0e && c <= 0x1a) || (c >= 0x1c && c <= 0x1f)) return 'application/octet-stream';
  return 'text/plain; charset=utf-8';
}
