/**
 * The library's own source for adding a file: positional reads of whole blocks,
 * one read ahead, instead of a stream's small reads into new memory. Given to
 * add(), it reads into the blocks add recycles once the driver has written them;
 * iterated by anything else, every chunk is new memory the caller owns.
 */
import * as fs from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { promisify } from 'node:util';
import { brandPrototype, isBrandedInstance } from './brand.js';
import { type ChunkAllocator, freshChunk } from './chunk-buffers.js';
import { abortError, ImageSizeMismatch, Invalid, NotFound, throwIfAborted } from './errors.js';
import { readAhead } from './read-ahead.js';

/** Options of {@link fileSource}. */
export interface FileSourceOptions {
  /** Stops the reads; pass the same signal to add(). */
  readonly signal?: AbortSignal;
  /** Bytes per read (default 1 MiB, the size add hashes and writes in). */
  readonly chunkSize?: number;
}

const DEFAULT_CHUNK = 1 << 20;
const FILE_SOURCE_BRAND = Symbol.for('@store/core.FileSource');

/**
 * An open file to add, read once from start to end. Give it to
 * `store.add(id, source, source.size)`; add closes it. A file whose size
 * changes while it is read fails the read with {@link ImageSizeMismatch}.
 */
export class FileSource implements AsyncIterable<Uint8Array> {
  /** The file's path, as given. */
  readonly path: string;
  /** The file's size when it was opened (fstat), in bytes. */
  readonly size: number;
  readonly #handle: FileHandle;
  readonly #signal: AbortSignal | undefined;
  readonly #chunkSize: number;
  #used = false;
  #closing: Promise<void> | undefined;

  /** Use {@link fileSource}. */
  private constructor(path: string, handle: FileHandle, size: number, options: FileSourceOptions) {
    this.path = path;
    this.size = size;
    this.#handle = handle;
    this.#signal = options.signal;
    this.#chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  }

  /** @internal Opens `path`; see {@link fileSource}. */
  static async open(path: string, options: FileSourceOptions): Promise<FileSource> {
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
    if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
      throw new Invalid(`fileSource chunkSize must be a positive integer, got ${chunkSize}`);
    }
    throwIfAborted(options.signal, 'file read');
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const Type = code === 'ENOENT' || code === 'ENOTDIR' ? NotFound : Invalid;
      throw new Type(`Cannot read the file to add, ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    try {
      const info = await handle.stat();
      // A FIFO or device has no size to declare: stream it instead.
      if (!info.isFile()) throw new Invalid(`Not a regular file: ${path}; stream it instead`);
      return new FileSource(path, handle, info.size, options);
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  /** Chunks of new memory (the caller owns each). */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.read(freshChunk);
  }

  /**
   * @internal The file's bytes read into `allocate`'s buffers (add lends its
   * recycled blocks); closes the file however the reading ends.
   */
  read(allocate: ChunkAllocator): AsyncGenerator<Buffer> {
    if (this.#used) throw new Invalid(`The file source of ${this.path} was read already`);
    this.#used = true;
    const { path, size } = this;
    const handle = this.#handle;
    return readAhead({
      start: 0,
      end: size,
      unit: this.#chunkSize,
      depth: 2,
      signal: this.#signal ?? new AbortController().signal,
      allocate,
      source: `file ${path}`,
      read: async (position, target) => {
        const { bytesRead } = await handle.read(target, 0, target.byteLength, position);
        if (bytesRead < target.byteLength) throw changedSize(path, size, 'shorter');
        // The last read also looks one byte further: a file still growing is refused.
        if (position + bytesRead === size) {
          const probe = await handle.read(Buffer.alloc(1), 0, 1, size);
          if (probe.bytesRead > 0) throw changedSize(path, size, 'longer');
        }
        return bytesRead;
      },
      onEnd: () => this.close(),
    });
  }

  /** Closes the file (add does; needed only for a source never given to add). */
  close(): Promise<void> {
    this.#used = true;
    this.#closing ??= this.#handle.close().catch(() => undefined);
    return this.#closing;
  }
}
// The cast: brandPrototype takes public constructors; this one is private to fileSource().
brandPrototype(FileSource as unknown as abstract new () => unknown, FILE_SOURCE_BRAND);

function changedSize(path: string, size: number, now: string): ImageSizeMismatch {
  return new ImageSizeMismatch(
    `The file ${path} changed size while it was read: it is now ${now} than the ${size} bytes it had when opened`,
  );
}

/** True for a {@link FileSource} of any copy of core. */
export function isFileSource(value: unknown): value is FileSource {
  return isBrandedInstance(FileSource, value, FILE_SOURCE_BRAND);
}

/**
 * Opens `path` for add(): `const source = await fileSource(path, { signal });
 * await store.add(id, source, source.size, { signal })`. Reads are positional,
 * a block at a time, into memory add recycles; the size comes from fstat.
 * @throws NotFound when the file does not exist, Invalid when it cannot be
 * opened or is not a regular file, OperationAborted.
 */
export function fileSource(path: string, options: FileSourceOptions = {}): Promise<FileSource> {
  return FileSource.open(path, options);
}

const readAt = promisify(fs.read);
const fstatOf = promisify(fs.fstat);

/** The `fs` module a ReadStream reads through: another one (its `fs` option) is not taken over. */
function readsThroughNodeFs(stream: fs.ReadStream): boolean {
  const kFs = Object.getOwnPropertySymbols(stream).find((key) => key.description === 'kFs');
  const used = kFs && ((stream as unknown as Record<symbol, unknown>)[kFs] as Partial<typeof fs>);
  // Compared by function: the module object differs between ESM and CommonJS.
  return !!used && used.open === fs.open && used.read === fs.read && used.close === fs.close;
}

/**
 * Add's reading of `fs.createReadStream(path)`, the obvious way to pass a file:
 * when `data` is such a stream of a regular file that nobody has read from,
 * listened to for data or set an encoding on, add reads the file itself through
 * the stream's own descriptor, positionally, a block at a time into the blocks
 * it recycles (what {@link fileSource} does), instead of the stream's 64 KiB
 * reads into new memory, each a hand-off to the thread pool. The bytes are the
 * same (its `start` and `end` are honoured, and a file that grows is read to its
 * end as the stream would); the stream is destroyed (its file closed) when the
 * reading ends. Undefined for any other data, which is read as it is.
 */
export function readStreamBlocks(
  data: unknown,
  allocate: ChunkAllocator,
  signal: AbortSignal,
): AsyncIterable<Uint8Array> | undefined {
  if (!(data instanceof fs.ReadStream)) return undefined;
  const stream = data;
  const untouched =
    !stream.readableDidRead &&
    stream.readableFlowing === null &&
    !stream.destroyed &&
    stream.readableLength === 0 &&
    stream.readableEncoding === null &&
    stream.listenerCount('data') === 0 &&
    stream.listenerCount('readable') === 0;
  // A stream opened on a descriptor reads from its current offset: left to itself.
  const byPath = typeof stream.path === 'string' || Buffer.isBuffer(stream.path);
  if (!untouched || !byPath || !readsThroughNodeFs(stream)) return undefined;
  const { start = 0, end = Number.POSITIVE_INFINITY } = stream as unknown as {
    start?: number;
    end?: number;
  };
  // From now on its failures are add's: one before the first read (a missing
  // file) must not go unhandled.
  let failure: unknown;
  stream.on('error', (err) => {
    failure ??= err;
  });
  return {
    [Symbol.asyncIterator]: () =>
      readStreamFile(stream, start, end + 1, allocate, signal, () => failure),
  };
}

/** Waits until `stream` has opened its file (or failed to). */
function opened(stream: fs.ReadStream, signal: AbortSignal, failure: () => unknown): Promise<void> {
  if (failure() !== undefined) return Promise.reject(failure());
  if (!stream.pending) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: unknown) => {
      stream.off('ready', onReady);
      stream.off('error', done);
      signal.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onReady = () => done();
    const onAbort = () => done(abortError(signal, 'add'));
    stream.once('ready', onReady);
    stream.once('error', done);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

async function* readStreamFile(
  stream: fs.ReadStream,
  start: number,
  stop: number,
  allocate: ChunkAllocator,
  signal: AbortSignal,
  failure: () => unknown,
): AsyncGenerator<Uint8Array> {
  let pending: Promise<Uint8Array> | undefined;
  try {
    await opened(stream, signal, failure);
    const { fd } = stream as unknown as { fd: number };
    if (!(await fstatOf(fd)).isFile()) {
      // A FIFO or device: no positions to read at, so the stream reads it.
      yield* stream;
      return;
    }
    const readBlock = async (position: number): Promise<Uint8Array> => {
      const target = allocate(Math.min(DEFAULT_CHUNK, stop - position));
      const { bytesRead } = await readAt(fd, target, 0, target.byteLength, position);
      return target.subarray(0, bytesRead);
    };
    let position = start;
    let next = readBlock(position);
    pending = next;
    for (;;) {
      throwIfAborted(signal, 'add');
      const chunk = await next;
      pending = undefined;
      // End of file (or of the range): the stream would end here too.
      if (chunk.byteLength === 0) return;
      position += chunk.byteLength;
      if (position < stop) {
        // One read ahead, as fileSource: it runs while the block before is hashed.
        next = readBlock(position);
        pending = next;
        next.catch(() => undefined);
      }
      yield chunk;
      if (position >= stop) return;
    }
  } finally {
    // No read may still be filling a block once the file is closed.
    if (pending) await pending.catch(() => undefined);
    // A failure to close has nowhere to go (the listener above takes it).
    stream.destroy();
  }
}
