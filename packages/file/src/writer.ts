/**
 * Atomic image writes: data goes to a hidden temporary file in the target
 * directory and is linked to its final name only when complete, so readers never
 * see half an image and a failed or aborted write leaves nothing behind.
 */
import { chmod, type FileHandle, link, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BackendException, Duplicate, StorageFull, StorageWriteDenied } from '@store/core';
import type { FsDeadline } from './fs-deadline.js';
import { partialPath } from './partials.js';

/**
 * Prefix of temporary files (`<prefix><pid>-<uuid>`, see partials.ts); never a
 * valid image id (ids may not start with it).
 */
export const TEMP_PREFIX = '.store-partial-';

/** Coalesced writes of at least this many bytes, issued with writev. */
const WRITE_BATCH_BYTES = 1 << 20;
/** Writes in flight at once, so reading the source overlaps writing. */
const WRITES_IN_FLIGHT = 2;

export interface WriteOptions {
  readonly directory: string;
  readonly name: string;
  readonly data: AsyncIterable<Uint8Array>;
  /** Gives each chunk of `data` back once it is written (DriverAddRequest.release). */
  readonly release?: ((chunk: Uint8Array) => void) | undefined;
  /** Skip all-zero chunks of this size, leaving holes. */
  readonly thinChunkSize?: number;
  /** Mode of the image file (from fileModeOf); absent to leave it as created. */
  readonly fileMode?: number | undefined;
  readonly fsync: boolean;
  readonly signal: AbortSignal;
  /** Runs every call under filesystem_store_timeout. */
  readonly calls: FsDeadline;
}

function isAllZero(chunk: Uint8Array): boolean {
  // Compare 8 bytes at a time where alignment allows.
  const words = chunk.byteOffset % 8 === 0 ? Math.floor(chunk.byteLength / 8) : 0;
  if (words > 0) {
    const view = new BigUint64Array(chunk.buffer, chunk.byteOffset, words);
    for (let i = 0; i < words; i++) if (view[i] !== 0n) return false;
  }
  for (let i = words * 8; i < chunk.byteLength; i++) if (chunk[i] !== 0) return false;
  return true;
}

/** Maps a filesystem error to the store's typed errors. */
export function mapWriteError(err: unknown, path: string): Error {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EFBIG' || code === 'EDQUOT') {
    return new StorageFull(`No space left to write ${path}`, { cause: err });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new StorageWriteDenied(`Permission denied writing ${path}`, { cause: err });
  }
  if (code === 'EEXIST') return new Duplicate(`Image already exists at ${path}`, { cause: err });
  return err instanceof Error ? err : new BackendException(String(err));
}

/**
 * Streams `data` into `directory/name` atomically. Returns the bytes written.
 * @throws Duplicate when the name exists (checked atomically at the end as well),
 * StorageFull, StorageWriteDenied, or whatever the data source threw.
 */
export async function writeAtomically(options: WriteOptions): Promise<number> {
  const finalPath = join(options.directory, options.name);
  const tempPath = partialPath(options.directory, TEMP_PREFIX);
  const { calls } = options;
  let handle: FileHandle | undefined;
  let linked = false;
  try {
    handle = await calls.run(
      `open of ${tempPath}`,
      () => open(tempPath, 'wx'),
      // Opened after its timeout: nothing will write to it.
      (late) => calls.cleanup(() => late.close().then(() => unlink(tempPath))),
    );
    const written = await writeChunks(handle, options);
    const opened = handle;
    if (options.fsync) await calls.run(`fsync of ${tempPath}`, () => opened.sync());
    await calls.run(`close of ${tempPath}`, () => opened.close());
    handle = undefined;
    const mode = options.fileMode;
    if (mode !== undefined) await calls.run(`chmod of ${tempPath}`, () => chmod(tempPath, mode));
    options.signal.throwIfAborted();
    // link() fails with EEXIST if the name appeared meanwhile: no check-then-write race.
    await calls.run(`link to ${finalPath}`, () => link(tempPath, finalPath));
    linked = true;
    // The image is complete under its name: a hung unlink must not fail the add.
    await calls.cleanup(() => unlink(tempPath));
    return written;
  } catch (err) {
    throw mapWriteError(err, finalPath);
  } finally {
    const open = handle;
    if (open) await calls.cleanup(() => open.close());
    if (!linked) await calls.cleanup(() => unlink(tempPath));
  }
}

async function writeChunks(handle: FileHandle, options: WriteOptions): Promise<number> {
  const { data, thinChunkSize, signal } = options;
  let position = 0;
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  let batchStart = 0;
  const inFlight: Promise<unknown>[] = [];

  const flush = async () => {
    if (batchBytes === 0) return;
    const buffers = batch;
    const at = batchStart;
    batch = [];
    batchBytes = 0;
    if (inFlight.length >= WRITES_IN_FLIGHT) await inFlight.shift();
    // Thin pieces are parts of a chunk whose other parts may still be queued.
    const release = thinChunkSize ? undefined : options.release;
    const write = writeFully(handle, [...buffers], at, options).then(() => {
      if (release) for (const chunk of buffers) release(chunk);
    });
    write.catch(() => undefined);
    inFlight.push(write);
  };

  const append = async (chunk: Uint8Array) => {
    if (batchBytes === 0) batchStart = position;
    batch.push(chunk);
    batchBytes += chunk.byteLength;
    position += chunk.byteLength;
    if (batchBytes >= WRITE_BATCH_BYTES || batch.length >= 512) await flush();
  };

  try {
    for await (const chunk of data) {
      signal.throwIfAborted();
      if (!thinChunkSize) {
        await append(chunk);
        continue;
      }
      for (let offset = 0; offset < chunk.byteLength; offset += thinChunkSize) {
        const piece = chunk.subarray(offset, Math.min(offset + thinChunkSize, chunk.byteLength));
        if (isAllZero(piece)) {
          await flush();
          position += piece.byteLength;
        } else await append(piece);
      }
    }
    await flush();
    await Promise.all(inFlight);
  } catch (err) {
    // Let writes in flight settle before the caller closes the handle.
    await Promise.allSettled(inFlight);
    throw err;
  }
  // Sets the final length, which also covers trailing holes.
  if (thinChunkSize)
    await options.calls.run(`truncate of a temporary file in ${options.directory}`, () =>
      handle.truncate(position),
    );
  return position;
}

async function writeFully(
  handle: FileHandle,
  buffers: Uint8Array[],
  position: number,
  { calls, directory }: WriteOptions,
): Promise<void> {
  const pending = buffers;
  let at = position;
  while (pending.length > 0) {
    const { bytesWritten } = await calls.run(`write to a temporary file in ${directory}`, () =>
      handle.writev(pending, at),
    );
    at += bytesWritten;
    let skip = bytesWritten;
    while (pending.length > 0 && skip >= pending[0]!.byteLength)
      skip -= pending.shift()!.byteLength;
    if (skip > 0) pending[0] = pending[0]!.subarray(skip);
  }
}
