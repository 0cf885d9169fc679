/**
 * The inbound data path of add(): accepts the data forms callers have, and wraps
 * them in one async iterable that hashes, counts, enforces the declared size and
 * the size cap, feeds the verifier, reports progress and honours the AbortSignal.
 */
import { Readable } from 'node:stream';
import { LentBuffers } from './chunk-buffers.js';
import { abortError, ImageSizeLimitExceeded, ImageSizeMismatch, Invalid } from './errors.js';
import { type FileSource, isFileSource, readStreamBlocks } from './file-source.js';
import type { ImageHasher } from './hashing.js';

/**
 * Bytes per block that small chunks are gathered into before hashing and writing:
 * the per-chunk costs (hash hand-off, driver write, await) then do not depend on
 * how the caller reads its data.
 */
export const BLOCK_BYTES = 1 << 20;
/** A chunk at least this large goes on as it is: gathering it would only add a copy. */
const LARGE_CHUNK_BYTES = BLOCK_BYTES / 4;
/** Bytes of blocks kept for reuse per add, once its driver gives them back. */
const KEPT_BLOCK_BYTES = 8 << 20;

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
  | Uint8Array
  | FileSource;

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
  /** Gives a delivered chunk's block back for reuse ({@link DriverAddRequest.release}). */
  readonly release: (chunk: Uint8Array) => void;
  /** Closes a file source the driver never read (add calls it when done). */
  close(): void;
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

/**
 * Wraps `data` for a driver: see the module comment. Chunks smaller than
 * {@link LARGE_CHUNK_BYTES} are copied into blocks of {@link BLOCK_BYTES}
 * (a chunk handed to add belongs to the store, so the copy may be taken at any
 * time); larger ones go on as they are.
 */
export function meterIngest(data: ImageData, options: IngestOptions): Ingest {
  const { size, sizeCap, signal, hasher, verifier, onProgress } = options;
  const blocks = new LentBuffers({ maxBytes: KEPT_BLOCK_BYTES });
  const source: AsyncIterable<Uint8Array> = isFileSource(data)
    ? data.read(blocks.allocate)
    : (readStreamBlocks(data, blocks.allocate, signal) ?? toAsyncChunks(data));
  const state = { bytes: 0, delivered: 0, complete: false };
  /** Hashes, verifies and counts `chunk` just before the driver gets it. */
  async function deliver(chunk: Uint8Array): Promise<Uint8Array> {
    await hasher.update(chunk);
    verifier?.update(chunk);
    state.delivered += chunk.byteLength;
    onProgress?.(state.delivered);
    return chunk;
  }
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const iterator = source[Symbol.asyncIterator]();
    let finished = false;
    let block: Buffer | undefined;
    let filled = 0;
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
        if (chunk.byteLength >= LARGE_CHUNK_BYTES) {
          if (block) yield await deliver(block.subarray(0, filled));
          block = undefined;
          filled = 0;
          yield await deliver(chunk);
          continue;
        }
        for (let offset = 0; offset < chunk.byteLength; ) {
          block ??= blocks.allocate(BLOCK_BYTES);
          const take = Math.min(chunk.byteLength - offset, BLOCK_BYTES - filled);
          block.set(chunk.subarray(offset, offset + take), filled);
          filled += take;
          offset += take;
          if (filled === BLOCK_BYTES) {
            const full = block;
            block = undefined;
            filled = 0;
            yield await deliver(full);
          }
        }
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
    if (block) yield await deliver(block.subarray(0, filled));
    state.complete = true;
  }
  return {
    chunks: chunks(),
    get bytes() {
      return state.delivered;
    },
    get complete() {
      return state.complete;
    },
    release: blocks.giveBack,
    close() {
      if (isFileSource(data)) void data.close();
    },
  };
}
