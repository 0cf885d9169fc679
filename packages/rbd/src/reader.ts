/**
 * Reads a range of an open RBD image as a stream of chunks, with a bounded
 * read-ahead of aio reads so the network stays busy while the consumer works.
 * Memory is unit × depth. Reads start only when the consumer starts pulling.
 */
import { BackendException, throwIfAborted } from '@store/core';
import type { ImageHandle } from './connection.js';

/** Largest chunk the stream yields (slices of the object-sized reads, not copies). */
const YIELD_BYTES = 1 << 20;

export interface ReadImageOptions {
  /** First byte. */
  readonly start: number;
  /** One past the last byte. */
  readonly end: number;
  /** Read size; reads are aligned to multiples of it (the image's object size). */
  readonly unit: number;
  /** Reads in flight ahead of the consumer. */
  readonly depth: number;
  readonly signal: AbortSignal;
  /** Called once at the end, however the stream ends (closes the image). */
  readonly onEnd: () => Promise<void>;
}

/** The bytes `start`..`end` of `image`; the image is closed when the stream ends. */
export async function* readImage(
  image: ImageHandle,
  options: ReadImageOptions,
): AsyncGenerator<Uint8Array> {
  const { start, end, unit, depth, signal } = options;
  const queue: Promise<Buffer>[] = [];
  let next = start;
  try {
    for (;;) {
      throwIfAborted(signal, 'get');
      while (queue.length < depth && next < end) {
        const at = next;
        const length = Math.min(end, (Math.floor(at / unit) + 1) * unit) - at;
        const buffer = Buffer.allocUnsafe(length);
        const read = image.read(at, buffer).then((bytes) => {
          if (bytes !== length) {
            throw new BackendException(
              `Short read from image ${image.name} at ${at}: ${bytes} of ${length} bytes`,
            );
          }
          return buffer;
        });
        read.catch(() => undefined);
        queue.push(read);
        next = at + length;
      }
      const head = queue.shift();
      if (!head) return;
      const buffer = await head;
      // Hand out reads in slices, so backpressure and aborts act at a finer grain.
      for (let at = 0; at < buffer.byteLength; at += YIELD_BYTES) {
        if (at > 0) throwIfAborted(signal, 'get');
        yield buffer.subarray(at, at + YIELD_BYTES);
        // Reads are often ready before the consumer asks: without this, a busy
        // consumer would run on microtasks alone and starve timers and I/O.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  } finally {
    await Promise.allSettled(queue);
    await options.onEnd();
  }
}
