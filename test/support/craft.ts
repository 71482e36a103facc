import { gzipSync } from 'node:zlib';

/**
 * Hand-made tar.gz archives for hostile-input tests (path traversal, absolute paths): tar
 * tools refuse to write such names, so the ustar headers are built here.
 */
export function craftTgz(entries: Array<{ name: string; data: string | Buffer; mtime?: number }>, opts: { level?: number } = {}): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : e.data;
    const h = Buffer.alloc(512);
    h.write(e.name, 0, 100, 'utf8');
    h.write('0000644\0', 100, 'ascii');
    h.write('0000000\0', 108, 'ascii');
    h.write('0000000\0', 116, 'ascii');
    h.write(data.length.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
    h.write((e.mtime ?? 1_700_000_000).toString(8).padStart(11, '0') + '\0', 136, 'ascii');
    h.write('        ', 148, 'ascii');
    h.write('0', 156, 'ascii');
    h.write('ustar\0', 257, 'ascii');
    h.write('00', 263, 'ascii');
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks), opts.level !== undefined ? { level: opts.level } : {});
}

export function chartYaml(name: string, version: string, extra = ''): string {
  return `apiVersion: v2\nname: ${name}\nversion: ${version}\ndescription: crafted\n${extra}`;
}
