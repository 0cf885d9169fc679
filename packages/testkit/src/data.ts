/** Test data: deterministic bytes and sources with awkward chunking. */
import { createHash } from 'node:crypto';

/** `size` deterministic pseudo-random bytes derived from `seed` (xorshift). */
export function patternBytes(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Yields `data` in slices of the given sizes, cycling through them. */
export async function* chunked(
  data: Uint8Array,
  sizes: readonly number[] = [7, 65_536, 1_000_003, 13],
): AsyncGenerator<Uint8Array> {
  let offset = 0;
  let i = 0;
  while (offset < data.byteLength) {
    const take = Math.min(sizes[i++ % sizes.length]!, data.byteLength - offset);
    yield data.slice(offset, offset + take);
    offset += take;
    await Promise.resolve();
  }
}

/** Yields the first `failAfter` bytes of `data`, then throws `error`. */
export async function* failingSource(
  data: Uint8Array,
  failAfter: number,
  error = new Error('source failed midway'),
): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunked(data.subarray(0, failAfter), [64 * 1024])) yield chunk;
  throw error;
}

/** Hex digest of `data`. */
export function digest(algorithm: string, data: Uint8Array): string {
  return createHash(algorithm).update(data).digest('hex');
}

/** Reads a stream or async iterable to one buffer. */
export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}
