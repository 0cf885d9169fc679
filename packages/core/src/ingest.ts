/**
 * The inbound data path of add(): accepts the data forms callers have, and wraps
 * them in one async iterable that hashes, counts, enforces the declared size and
 * the size cap, feeds the verifier, reports progress and honours the AbortSignal.
 */
import { Readable } from 'node:stream';
import { abortError, ImageSizeLimitExceeded, ImageSizeMismatch, Invalid } from './errors.js';
import type { ImageHasher } from './hashing.js';

/**
 * Image data as a caller may pass it; `Uint8Array` includes Buffer. A chunk once
 * yielded belongs to the store (drivers may still be writing it after asking for
 * the next): a source must not refill a buffer it has handed over.
 */
export type ImageData =
  | Readable
  | NodeJS.ReadableStream
  | AsyncIterable<Uint8Array>
  | Iterable<Uint8Array>
  | Uint8Array;

/** Receives every chunk of an image, e.g. to check a signature (glance's verifier). */
export interface ImageVerifier {
  update(chunk: Uint8Array): void;
}

/** Normalises any accepted data form to an async iterable of byte chunks. */
export function toAsyncChunks(data: ImageData): AsyncIterable<Uint8Array> {
  if (data instanceof Uint8Array) {
    return (async function* () {
      if (data.byteLength > 0) yield data;
    })();
  }
  if (data && typeof (data as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
    return data as AsyncIterable<Uint8Array>;
  }
  if (data && typeof (data as Iterable<Uint8Array>)[Symbol.iterator] === 'function') {
    const iterable = data as Iterable<Uint8Array>;
    return (async function* () {
      yield* iterable;
    })();
  }
  if (data && typeof (data as NodeJS.ReadableStream).pipe === 'function') {
    return Readable.from(data as NodeJS.ReadableStream);
  }
  throw new Invalid(
    'Image data must be a Uint8Array, a Readable or an (async) iterable of Uint8Array',
  );
}

/** Settings of one metered ingest. */
export interface IngestOptions {
  /** Declared size; 0 = unknown. */
  readonly size: number;
  /** Maximum bytes accepted; 0 or undefined = no cap. */
  readonly sizeCap?: number;
  readonly signal: AbortSignal;
  readonly hasher: ImageHasher;
  readonly verifier?: ImageVerifier;
  readonly onProgress?: (bytes: number) => void;
}

/** The metered data stream plus what it learned. */
export interface Ingest {
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Bytes delivered so far. */
  readonly bytes: number;
  /** True once the source ended normally and every check passed. */
  readonly complete: boolean;
}

/** Resolves with the next item of `iterator`, or rejects as soon as `signal` fires. */
function nextOrAbort<T>(
  iterator: AsyncIterator<T>,
  signal: AbortSignal,
): Promise<IteratorResult<T>> {
  if (signal.aborted) return Promise.reject(abortError(signal, 'add'));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortError(signal, 'add'));
    signal.addEventListener('abort', onAbort, { once: true });
    iterator.next().then(
      (r) => {
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Wraps `data` for a driver: see the module comment. */
export function meterIngest(data: ImageData, options: IngestOptions): Ingest {
  const { size, sizeCap, signal, hasher, verifier, onProgress } = options;
  const source = toAsyncChunks(data);
  const state = { bytes: 0, complete: false };
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const iterator = source[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        const next = await nextOrAbort(iterator, signal);
        if (next.done) break;
        const chunk = next.value as unknown;
        if (!(chunk instanceof Uint8Array)) {
          throw new Invalid(`Image data yielded a ${typeof chunk}, expected Uint8Array chunks`);
        }
        if (chunk.byteLength === 0) continue;
        state.bytes += chunk.byteLength;
        if (size > 0 && state.bytes > size) {
          throw new ImageSizeMismatch(
            `Image data is longer than the declared size of ${size} bytes`,
          );
        }
        if (sizeCap && state.bytes > sizeCap) {
          throw new ImageSizeLimitExceeded(`Image exceeds the size cap of ${sizeCap} bytes`);
        }
        await hasher.update(chunk);
        verifier?.update(chunk);
        onProgress?.(state.bytes);
        yield chunk;
      }
      finished = true;
    } finally {
      // Stop the source when we end early (error, abort, or the driver gave up).
      if (!finished) void Promise.resolve(iterator.return?.()).catch(() => undefined);
    }
    if (signal.aborted) throw abortError(signal, 'add');
    if (size > 0 && state.bytes !== size) {
      throw new ImageSizeMismatch(
        `Image data is ${state.bytes} bytes, shorter than the declared size of ${size} bytes`,
      );
    }
    state.complete = true;
  }
  return {
    chunks: chunks(),
    get bytes() {
      return state.bytes;
    },
    get complete() {
      return state.complete;
    },
  };
}
