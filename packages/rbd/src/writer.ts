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
import { throwIfAborted } from '@store/core';
import type { ImageHandle } from './connection.js';

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
}

const zeroes = new Map<number, Buffer>();

function isAllZero(buffer: Buffer, length: number): boolean {
  let zero = zeroes.get(buffer.byteLength);
  if (!zero) {
    zero = Buffer.alloc(buffer.byteLength);
    zeroes.set(buffer.byteLength, zero);
  }
  // memcmp-speed comparison.
  return buffer.subarray(0, length).equals(zero.subarray(0, length));
}

/**
 * Writes `data` to `image` and returns the number of bytes. With an unknown size
 * the image grows ahead of the data and is trimmed to the exact size at the end.
 * On failure, writes in flight are left to settle by the handle's close().
 */
export async function writeImage(image: ImageHandle, options: WriteImageOptions): Promise<number> {
  const { unit, window, thin, declaredSize, signal } = options;
  const free: Buffer[] = [];
  const inFlight: Promise<void>[] = [];
  let capacity = declaredSize;
  let growth = unit;

  const drain = async () => {
    while (inFlight.length > 0) await inFlight.shift();
  };

  const submit = async (buffer: Buffer, offset: number, length: number) => {
    if (thin && isAllZero(buffer, length)) {
      free.push(buffer);
      return;
    }
    if (declaredSize === 0 && offset + length > capacity) {
      // No write may be in flight across a resize.
      await drain();
      while (offset + length > capacity) {
        capacity += growth;
        growth = Math.min(growth * 2, MAX_GROWTH);
      }
      await image.resize(capacity);
    }
    while (inFlight.length >= window) await inFlight.shift();
    const write = image.write(offset, buffer.subarray(0, length)).then(() => {
      free.push(buffer);
    });
    write.catch(() => undefined);
    inFlight.push(write);
    // A source that is always ready keeps this loop in microtasks; let timers and
    // I/O callbacks run between units.
    await new Promise<void>((resolve) => setImmediate(resolve));
  };

  let current: Buffer | undefined;
  let filled = 0;
  let position = 0;
  for await (const chunk of options.data) {
    throwIfAborted(signal, 'add');
    let at = 0;
    while (at < chunk.byteLength) {
      // Copy: the source may reuse its chunk once we ask for the next one.
      current ??= free.pop() ?? Buffer.allocUnsafeSlow(unit);
      const take = Math.min(unit - filled, chunk.byteLength - at);
      current.set(chunk.subarray(at, at + take), filled);
      filled += take;
      at += take;
      position += take;
      if (filled === unit) {
        const full = current;
        current = undefined;
        filled = 0;
        await submit(full, position - unit, unit);
      }
    }
  }
  if (current && filled > 0) await submit(current, position - filled, filled);
  await drain();
  // Trim the growth margin (and cover trailing holes left by thin provisioning).
  if (declaredSize === 0 && capacity !== position) await image.resize(position);
  await image.flush();
  return position;
}
