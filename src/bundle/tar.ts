/**
 * Writing a bundle's tar on node-tar's header codec: entries we choose, in an order we choose,
 * with fixed metadata, so the same content gives the same bytes. (Reading is
 * content/tar-index.ts: a bundle is read as a read-only OCI layout.)
 */
import { Header } from 'tar';

const BLOCK = 512;

/** A file to put in a tar: its bytes, or a producer of exactly `size` bytes. */
export type TarInput =
  | { kind: 'dir'; path: string }
  | { kind: 'file'; path: string; size: number; data: Buffer | (() => AsyncIterable<Buffer>) };

/** Fixed metadata: the same entries give the same archive, byte for byte. */
const EPOCH = new Date(0);

function header(path: string, type: 'File' | 'Directory', size: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  const h = new Header({ path, type, size, mode: type === 'File' ? 0o644 : 0o755, uid: 0, gid: 0, uname: '', gname: '', mtime: EPOCH });
  h.encode(block, 0);
  if (h.needPax) throw new Error(`tar: ${path} does not fit a ustar header`);
  return block;
}

/** The archive as a stream of chunks; a producer that yields the wrong number of bytes is an error. */
export async function* tarStream(entries: Iterable<TarInput>): AsyncGenerator<Buffer> {
  for (const e of entries) {
    if (e.kind === 'dir') {
      yield header(`${e.path.replace(/\/+$/, '')}/`, 'Directory', 0);
      continue;
    }
    yield header(e.path, 'File', e.size);
    let written = 0;
    if (Buffer.isBuffer(e.data)) {
      written = e.data.length;
      yield e.data;
    } else {
      for await (const chunk of e.data()) {
        written += chunk.length;
        yield chunk;
      }
    }
    if (written !== e.size) throw new Error(`tar: ${e.path} gave ${written} bytes, expected ${e.size}`);
    const pad = (BLOCK - (e.size % BLOCK)) % BLOCK;
    if (pad) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(2 * BLOCK);
}
