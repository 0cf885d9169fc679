/**
 * Streams image data into an open RBD image: data is gathered into object-sized
 * buffers and written with a bounded window of aio writes in flight, so reading
 * the source, hashing (in the manager's workers) and writing overlap. Memory is
 * object size × (window + 1), whatever the image size.
 *
 * Module-level state, on purpose: `zeroes` holds one all-zero buffer per write
 * unit, only ever read, shared by every image in the process so thin writes do
 * not allocate a unit of zeroes each. Units are object sizes (powers of two
 * from 4 KiB to 32 MiB), so it holds a few entries at most.
 */
import { type Block, type BlockSink, writeBlocks } from '@store/core';
import type { ImageHandle } from './client.js';

/** glance_store grows an image of unknown size by doubling steps up to this. */
const MAX_GROWTH = 8 * 1024 ** 3;

export interface WriteImageOptions {
  readonly data: AsyncIterable<Uint8Array>;
  /** Declared size the image was created with; 0 = unknown (grow, then trim). */
  readonly declaredSize: number;
  /** Bytes per write: the image's object size, so each write touches one object. */
  readonly unit: number;
  /** Writes in flight at once. */
  readonly window: number;
  /** Skip all-zero units, leaving holes. */
  readonly thin: boolean;
  readonly signal: AbortSignal;
  /** Gives a chunk of `data` back once copied (DriverAddRequest.release). */
  readonly release?: ((chunk: Uint8Array) => void) | undefined;
}

const zeroes = new Map<number, Buffer>();

function isAllZero(bytes: Uint8Array, unit: number): boolean {
  let zero = zeroes.get(unit);
  if (!zero) {
    zero = Buffer.alloc(unit);
    zeroes.set(unit, zero);
  }
  // memcmp-speed comparison.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).equals(
    zero.subarray(0, bytes.byteLength),
  );
}

/** An open image as core's block writer sees it: each block written at its offset. */
class ImageSink implements BlockSink {
  readonly #image: ImageHandle;
  readonly #options: WriteImageOptions;
  readonly #writes = new Set<Promise<void>>();
  /** Settles when the last resize is done: writes after it wait for it. */
  #resized: Promise<void> = Promise.resolve();
  #capacity: number;
  #growth: number;

  constructor(image: ImageHandle, options: WriteImageOptions) {
    this.#image = image;
    this.#options = options;
    this.#capacity = options.declaredSize;
    this.#growth = options.unit;
  }

  writeBlock({ offset, bytes }: Block): Promise<void> {
    const { thin, declaredSize, unit } = this.#options;
    if (thin && isAllZero(bytes, unit)) return Promise.resolve();
    const end = offset + bytes.byteLength;
    if (declaredSize === 0 && end > this.#capacity) {
      while (end > this.#capacity) {
        this.#capacity += this.#growth;
        this.#growth = Math.min(this.#growth * 2, MAX_GROWTH);
      }
      // No write may be in flight across a resize: it waits for those before it, and
      // those after it wait for it.
      const capacity = this.#capacity;
      const earlier = [...this.#writes];
      this.#resized = this.#resized
        .then(() => Promise.allSettled(earlier))
        .then(() => this.#image.resize(capacity));
    }
    const write = this.#resized.then(() => this.#image.write(offset, bytes));
    this.#writes.add(write);
    const forget = () => this.#writes.delete(write);
    write.then(forget, forget);
    return write;
  }

  /** Trims the growth margin (and covers trailing holes left by thin provisioning), then flushes. */
  async complete(bytes: number): Promise<void> {
    if (this.#options.declaredSize === 0 && this.#capacity !== bytes) {
      await this.#image.resize(bytes);
    }
    await this.#image.flush();
  }
}

/**
 * Writes `data` to `image` and returns the number of bytes, with core's block
 * writer: `window` writes in flight while the next unit fills (window + 1
 * buffers). With an unknown size the image grows ahead of the data and is
 * trimmed to the exact size at the end. On failure every write has settled
 * before it throws; the caller removes the image.
 */
export function writeImage(image: ImageHandle, options: WriteImageOptions): Promise<number> {
  const { unit, window, declaredSize, signal, release } = options;
  return writeBlocks(options.data, new ImageSink(image, options), {
    blockSize: unit,
    window,
    buffers: window + 1,
    size: declaredSize,
    signal,
    release,
  });
}
