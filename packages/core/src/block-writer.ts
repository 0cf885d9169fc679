/**
 * Writing an image in fixed-size blocks with a bounded window of writes in
 * flight: the loop behind S3 multipart parts, Azure staged blocks, RBD object
 * writes and the hasher's worker batches, in the shape of a multipart upload
 * (a sink that writes blocks, then completes or aborts).
 *
 * Bytes are copied into block buffers (the caller may reuse a chunk once
 * `write` resolved), so memory is at most `buffers` × `blockSize`, whatever the
 * image size; a buffer is reused once the write that carried it succeeded.
 * Reading waits while every buffer is taken (backpressure). Any failure (a
 * block's, the completion's, the caller's abort) stops the writes in flight
 * through their signal, waits for them, then calls the sink's `abort`, so a
 * sink that removes what it wrote there leaves nothing behind.
 */
import { LentBuffers } from './chunk-buffers.js';
import { abortError } from './errors.js';

/** One block handed to a {@link BlockSink}. */
export interface Block {
  /** Position of the block, from 0. */
  readonly index: number;
  /** Offset of its first byte in the image. */
  readonly offset: number;
  /**
   * Its bytes: `blockSize` of them, except for the last block. The memory is
   * lent: it is reused once the write's promise has resolved.
   */
  readonly bytes: Uint8Array;
}

/**
 * Where a {@link BlockWriter} writes: a multipart upload (object_store's
 * `MultipartUpload`: put_part, complete, abort). Blocks arrive in order, each as
 * soon as it is full; up to the writer's window run at once and may finish in
 * any order.
 */
export interface BlockSink {
  /**
   * Writes one block, done with `block.bytes` when the promise settles. `signal`
   * fires when the write is abandoned: the caller aborted, or another block or
   * the data failed.
   */
  writeBlock(block: Block, signal: AbortSignal): Promise<void>;
  /**
   * Called once, after every block was written: makes the image whole (commits
   * the upload). When it throws, `abort` follows.
   */
  complete?(bytes: number, signal: AbortSignal): Promise<void>;
  /**
   * Called once when the write failed or was aborted, after every block write
   * has settled: removes what was written. It should not throw (log instead);
   * the writer reports the original failure either way.
   */
  abort?(reason: unknown): Promise<void>;
}

/** Options of a {@link BlockWriter}. */
export interface BlockWriterOptions {
  /** Bytes per block. */
  readonly blockSize: number;
  /** Block writes in flight at most. */
  readonly window: number;
  /**
   * Block buffers at most, the one being filled included (default `window`:
   * no block is filled while `window` writes are in flight; `window + 1` fills
   * the next one meanwhile). Memory is `buffers` × `blockSize`.
   */
  readonly buffers?: number;
  /** Declared image size (0 or absent: unknown); a smaller image gets buffers of its size. */
  readonly size?: number;
  /** The caller's signal: the write fails with OperationAborted when it fires. */
  readonly signal: AbortSignal;
  /** What the abort error calls the operation (default `add`). */
  readonly operation?: string;
  /**
   * Called with each chunk once its bytes are copied, e.g. the add request's
   * `release`, so the manager can reuse the chunk's memory.
   */
  readonly release?: (chunk: Uint8Array) => void;
  /**
   * Where block buffers come from and go back to (default: a pool of this
   * writer's own). It must lend at least `buffers` × block bytes.
   */
  readonly pool?: LentBuffers;
}

/**
 * Cuts a stream of chunks into blocks and writes them to a {@link BlockSink}
 * with at most `window` writes in flight; see the module comment. Use
 * {@link writeBlocks} for an iterable; this class is for data that is pushed.
 *
 * ```ts
 * const writer = new BlockWriter(sink, { blockSize, window: 4, signal });
 * try {
 *   for await (const chunk of data) await writer.write(chunk);
 * } catch (err) {
 *   await writer.abort(err);
 *   throw err;
 * }
 * const bytes = await writer.finish();
 * ```
 */
export class BlockWriter {
  readonly #sink: BlockSink;
  readonly #bufferBytes: number;
  readonly #window: number;
  readonly #buffers: number;
  readonly #signal: AbortSignal;
  readonly #operation: string;
  readonly #release: ((chunk: Uint8Array) => void) | undefined;
  readonly #pool: LentBuffers;
  readonly #controller = new AbortController();
  readonly #onAbort: () => void;
  readonly #inFlight = new Set<Promise<void>>();
  #waiters: (() => void)[] = [];
  /** Buffers taken from the pool and not given back: in flight or being filled. */
  #held = 0;
  #current: Buffer | undefined;
  #filled = 0;
  #index = 0;
  #bytes = 0;
  #failure: { error: unknown } | undefined;
  #aborted: Promise<void> | undefined;
  #finished = false;

  constructor(sink: BlockSink, options: BlockWriterOptions) {
    const { blockSize, window, size = 0 } = options;
    if (!(blockSize >= 1 && window >= 1)) {
      throw new RangeError(`BlockWriter needs blockSize and window of 1 or more`);
    }
    this.#sink = sink;
    this.#bufferBytes = size > 0 ? Math.min(blockSize, size) : blockSize;
    this.#window = window;
    this.#buffers = Math.max(1, options.buffers ?? window);
    this.#signal = options.signal;
    this.#operation = options.operation ?? 'add';
    this.#release = options.release;
    this.#pool = options.pool ?? new LentBuffers({ maxBytes: this.#buffers * this.#bufferBytes });
    // The caller's abort is the failure, named as such, before the writes it stops report theirs.
    this.#onAbort = () => this.#fail(abortError(this.#signal, this.#operation));
    if (this.#signal.aborted) this.#onAbort();
    else this.#signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Bytes accepted so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Copies `chunk` into blocks, handing each full one to the sink. Resolves once
   * the bytes are copied; waits while every buffer is taken. On a failure it
   * aborts (see {@link abort}) and throws it.
   */
  async write(chunk: Uint8Array): Promise<void> {
    await this.#check();
    let at = 0;
    while (at < chunk.byteLength) {
      if (!this.#current) await this.#take();
      const current = this.#current;
      // A failure meanwhile gave the buffer back.
      if (!current) {
        await this.#check();
        continue;
      }
      const take = Math.min(chunk.byteLength - at, this.#bufferBytes - this.#filled);
      current.set(chunk.subarray(at, at + take), this.#filled);
      this.#filled += take;
      at += take;
      if (this.#filled === this.#bufferBytes) await this.#dispatch();
    }
    this.#bytes += chunk.byteLength;
    this.#release?.(chunk);
  }

  /**
   * Writes the last (short) block, waits for every write, then completes the
   * sink. @returns the bytes written. On a failure it aborts and throws it.
   */
  async finish(): Promise<number> {
    await this.#check();
    if (this.#finished) throw new Error('BlockWriter.finish() was already called');
    this.#finished = true;
    if (this.#current && this.#filled > 0) await this.#dispatch();
    this.#giveBackCurrent();
    while (this.#inFlight.size > 0 && !this.#failure) await this.#settled();
    await this.#check();
    try {
      await this.#sink.complete?.(this.#bytes, this.#controller.signal);
    } catch (err) {
      this.#fail(err);
      await this.#check();
    }
    this.#signal.removeEventListener('abort', this.#onAbort);
    return this.#bytes;
  }

  /**
   * Stops: the writes in flight are signalled, waited for, then the sink's
   * `abort` runs. For a failure outside the writer (the data source's); safe
   * to call more than once and after a failure (it resolves once cleaned up).
   */
  abort(reason: unknown): Promise<void> {
    this.#fail(reason);
    this.#aborted ??= (async () => {
      while (this.#inFlight.size > 0) await this.#settled();
      this.#signal.removeEventListener('abort', this.#onAbort);
      await this.#sink.abort?.(this.#failure?.error ?? reason);
    })();
    return this.#aborted;
  }

  /** Records the first failure, stops the writes in flight and wakes every wait. */
  #fail(error: unknown): void {
    if (this.#failure) return;
    this.#failure = { error };
    this.#giveBackCurrent();
    this.#controller.abort(error);
    this.#wake();
  }

  /** After a failure: cleans up, then throws it. */
  async #check(): Promise<void> {
    if (!this.#failure) return;
    await this.abort(this.#failure.error);
    throw this.#failure.error;
  }

  /** Takes a buffer to fill, waiting while `buffers` are in flight or being filled. */
  async #take(): Promise<void> {
    while (this.#held >= this.#buffers && !this.#failure) await this.#settled();
    await this.#check();
    this.#held += 1;
    this.#current = this.#pool.allocate(this.#bufferBytes);
  }

  /** Hands the filled block to the sink once fewer than `window` writes are in flight. */
  async #dispatch(): Promise<void> {
    while (this.#inFlight.size >= this.#window && !this.#failure) await this.#settled();
    await this.#check();
    const buffer = this.#current!;
    const block: Block = {
      index: this.#index,
      offset: this.#index * this.#bufferBytes,
      bytes: buffer.subarray(0, this.#filled),
    };
    this.#current = undefined;
    this.#filled = 0;
    this.#index += 1;
    let write: Promise<void>;
    try {
      write = this.#sink.writeBlock(block, this.#controller.signal);
    } catch (err) {
      write = Promise.reject(err);
    }
    const tracked = write
      .then(
        // Reused only after a write that succeeded: a failed one may still hold the bytes.
        () => this.#pool.giveBack(buffer),
        (err: unknown) => this.#fail(err),
      )
      .finally(() => {
        this.#held -= 1;
        this.#inFlight.delete(tracked);
        this.#wake();
      });
    this.#inFlight.add(tracked);
    // A source that is always ready would keep this loop in microtasks: let I/O callbacks run.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  #giveBackCurrent(): void {
    if (!this.#current) return;
    this.#pool.giveBack(this.#current);
    this.#current = undefined;
    this.#filled = 0;
    this.#held -= 1;
  }

  /** Resolves at the next settled write or failure. */
  #settled(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * Writes `data` to `sink` in blocks ({@link BlockWriter}) and completes it.
 * When anything fails (the data, a block, the completion, an abort) the writes
 * in flight are stopped and waited for and the sink's `abort` runs before the
 * error is thrown. @returns the bytes written.
 */
export async function writeBlocks(
  data: AsyncIterable<Uint8Array>,
  sink: BlockSink,
  options: BlockWriterOptions,
): Promise<number> {
  const writer = new BlockWriter(sink, options);
  try {
    for await (const chunk of data) await writer.write(chunk);
  } catch (err) {
    await writer.abort(err);
    throw err;
  }
  return writer.finish();
}
