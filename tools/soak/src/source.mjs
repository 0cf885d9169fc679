// @ts-check
/**
 * Image sources for the soak: random bytes made chunk by chunk (memory bounded by
 * the chunk size, never the image size), hashed as they are made so every read
 * can be checked against digests the store did not compute; and the faulty
 * variants the soak injects.
 */
import { createHash, randomFillSync } from 'node:crypto';

export const CHUNK_BYTES = 64 * 1024;

/**
 * A source of `size` random bytes. `digests()` is valid once the source ended.
 * @param {number} size
 * @param {{ failAt?: number, onChunk?: (offset: number) => void }} [fault]
 *   `failAt`: throw after this many bytes (a source that breaks midway);
 *   `onChunk`: called before each chunk with the bytes produced so far.
 */
export function randomSource(size, fault = {}) {
  const md5 = createHash('md5');
  const sha512 = createHash('sha512');
  /** @type {{ checksum: string, multihash: string } | undefined} */
  let result;
  async function* chunks() {
    let offset = 0;
    while (offset < size) {
      if (fault.failAt !== undefined && offset >= fault.failAt) {
        throw new Error(`soak: injected source failure at byte ${offset}`);
      }
      fault.onChunk?.(offset);
      const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(CHUNK_BYTES, size - offset)));
      md5.update(chunk);
      sha512.update(chunk);
      offset += chunk.byteLength;
      yield chunk;
      // Let other workers run between chunks, as a network source would.
      await new Promise((resolve) => setImmediate(resolve));
    }
    result = { checksum: md5.digest('hex'), multihash: sha512.digest('hex') };
  }
  return {
    chunks: chunks(),
    /** The md5 and sha512 of every byte produced; throws if the source did not finish. */
    digests() {
      if (!result) throw new Error('soak: the source did not finish');
      return result;
    },
  };
}

/**
 * Reads a stream to its end, hashing it with sha512, and returns the digest and
 * byte count.
 * @param {AsyncIterable<Uint8Array>} stream
 */
export async function hashStream(stream) {
  const sha512 = createHash('sha512');
  let bytes = 0;
  for await (const chunk of stream) {
    sha512.update(chunk);
    bytes += chunk.byteLength;
  }
  return { multihash: sha512.digest('hex'), bytes };
}
