/**
 * Verify content while it streams (oras-go `content.NewVerifyReader`): never more bytes than
 * the descriptor's size, and at the end exactly that size with exactly that digest. A reader
 * that trusted its source would push a lie on to the next store.
 */
import { createHash } from 'node:crypto';
import { ChartMirrorError } from '../errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import { isDigest } from '../oci/reference.js';
import type { ContentOpener, ContentStream } from './store.js';
import { friendlyTransportError } from '../http/errors.js';

/** Thrown for content that does not match its descriptor; `retryable`: a fresh read may be right. */
function mismatch(what: string, desc: Descriptor, detail: string): ChartMirrorError {
  return new ChartMirrorError('DIGEST', `${what} ${desc.digest}: ${detail}`, { retryable: true });
}

/** A failure of the stream itself (a reset connection, an unreadable file), as one retryable line. */
function readError(what: string, desc: Descriptor, e: unknown, received: number): ChartMirrorError {
  if (e instanceof ChartMirrorError) return e;
  const code = (e as { code?: unknown })?.code;
  if ((e as { name?: unknown })?.name === 'AbortError' || code === 'ABORT_ERR' || code === 'UND_ERR_ABORTED') {
    return new ChartMirrorError('ABORTED', `${what} ${desc.digest}: aborted`, { cause: e });
  }
  const why = friendlyTransportError(e);
  return new ChartMirrorError('NETWORK', `${what} ${desc.digest}: reading failed after ${received} of ${desc.size} bytes: ${why.text}`, {
    cause: e,
    retryable: true,
  });
}

/** The chunks of `stream`, checked against `desc` on the way through. */
export async function* verified(stream: ContentStream, desc: Descriptor, what = 'blob'): AsyncGenerator<Buffer> {
  if (!isDigest(desc.digest)) throw new ChartMirrorError('DIGEST', `${what} ${desc.digest}: unsupported digest`);
  const hash = createHash('sha256');
  let size = 0;
  const it = stream[Symbol.asyncIterator]();
  try {
    for (;;) {
      let r: IteratorResult<Uint8Array>;
      try {
        r = await it.next();
      } catch (e) {
        throw readError(what, desc, e, size);
      }
      if (r.done) break;
      const chunk = r.value;
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      size += b.length;
      if (size > desc.size) throw mismatch(what, desc, `more than the ${desc.size} bytes its descriptor says`);
      hash.update(b);
      yield b;
    }
  } finally {
    if (size < desc.size || size > desc.size) await it.return?.().catch(() => undefined);
  }
  if (size !== desc.size) throw mismatch(what, desc, `${size} bytes, its descriptor says ${desc.size} (truncated)`);
  if (`sha256:${hash.digest('hex')}` !== desc.digest) throw mismatch(what, desc, 'content does not match its digest');
}

/** An opener whose every stream is verified. */
export function verifiedOpener(open: ContentOpener, desc: Descriptor, what?: string): ContentOpener {
  return async (signal) => verified(await open(signal), desc, what);
}

/** The whole (verified) content; refuses a descriptor larger than `maxBytes` before reading. */
export async function readVerified(stream: ContentStream, desc: Descriptor, maxBytes: number, what = 'blob'): Promise<Buffer> {
  if (desc.size > maxBytes) {
    await drain(stream);
    throw new ChartMirrorError('DIGEST', `${what} ${desc.digest}: ${desc.size} bytes is more than the ${maxBytes} allowed`);
  }
  const chunks: Buffer[] = [];
  for await (const c of verified(stream, desc, what)) chunks.push(c);
  return Buffer.concat(chunks, desc.size);
}

/** Let go of a stream we will not read (a Readable is destroyed; an iterator is returned). */
export async function drain(stream: ContentStream): Promise<void> {
  const s = stream as { destroy?: () => void };
  if (typeof s.destroy === 'function') {
    s.destroy();
    return;
  }
  await stream[Symbol.asyncIterator]().return?.();
}

/** A buffer as a content stream. */
export async function* bufferStream(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}
