/**
 * The read loop of drivers whose backend reads at a position into a buffer (a
 * file, an RBD image): reads in flight ahead of the consumer, handed out in order.
 * It reads ahead only as far as the consumer has shown it keeps up: one read at a
 * time at first, the window doubling (up to `depth`) each time the consumer
 * asked for a chunk that was not read yet. A reader that stalls holds at most
 * the window it had reached, and every read beyond the one the consumer waits
 * for takes bytes from a {@link ReadAheadBudget} shared by the gets of one
 * MultiStore, so stalled readers together hold no more than its limit.
 */
import type { ChunkAllocator } from './chunk-buffers.js';
import { BackendException, throwIfAborted } from './errors.js';

/** What {@link readAhead} reads and how. */
export interface ReadAheadOptions {
  /** First byte. */
  readonly start: number;
  /** One past the last byte. */
  readonly end: number;
  /** Bytes per read; reads end on multiples of it (e.g. an RBD object boundary). */
  readonly unit: number;
  /** The most reads in flight at once, the one the consumer waits for included. */
  readonly depth: number;
  /** Bytes the reads beyond the first come from ({@link DriverGetRequest.readAheadBudget}). */
  readonly budget?: ReadAheadBudget;
  readonly signal: AbortSignal;
  /** Fills `target` from `position`; resolves with the bytes read. */
  readonly read: (position: number, target: Buffer) => Promise<number>;
  /**
   * The request's allocator ({@link DriverGetRequest.allocate}); a buffer shorter
   * than asked is filled and handed out as it is, the next read going on from there.
   */
  readonly allocate: ChunkAllocator;
  /** Names the source in errors, e.g. `image 0f3c…`. */
  readonly source: string;
  /** Called once, however the stream ends (closes the file or image). */
  readonly onEnd?: () => Promise<void>;
}

/**
 * The memory a MultiStore's gets may hold in reads ahead of their consumers
 * (beyond the one chunk each consumer waits for). One per MultiStore, owned by
 * it; when it is spent, gets read one chunk at a time until some is given back.
 */
export class ReadAheadBudget {
  readonly #limit: number;
  #used = 0;

  /** @param limit bytes; 0 turns read-ahead off. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Takes `bytes` if they fit under the limit. */
  take(bytes: number): boolean {
    if (this.#used + bytes > this.#limit) return false;
    this.#used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.#used -= bytes;
  }

  /** Bytes taken now. */
  get used(): number {
    return this.#used;
  }
}

/**
 * The bytes `start`..`end` as a stream of chunks, read ahead as
 * {@link ReadAheadOptions} says. Reads start when the consumer first pulls;
 * `onEnd` runs however the stream ends, even when it is given up before that
 * first pull (a plain generator would skip its `finally` then).
 */
export function readAhead(options: ReadAheadOptions): AsyncGenerator<Buffer> {
  const reads = readInOrder(options);
  let started = false;
  const endUnstarted = async () => {
    if (started) return;
    started = true;
    await options.onEnd?.();
  };
  const stream: AsyncGenerator<Buffer> = {
    next: () => {
      started = true;
      return reads.next();
    },
    return: async (value) => {
      await endUnstarted();
      return reads.return(value);
    },
    throw: async (err) => {
      await endUnstarted();
      return reads.throw(err);
    },
    [Symbol.asyncIterator]: () => stream,
  };
  return stream;
}

async function* readInOrder(options: ReadAheadOptions): AsyncGenerator<Buffer> {
  const { start, end, unit, depth, signal, read, allocate, source, budget } = options;
  const queue: { done: boolean; reserved: number; buffer: Promise<Buffer> }[] = [];
  let next = start;
  let window = 1;
  /** Chunks the consumer has asked for. */
  let asks = 0;
  try {
    for (;;) {
      throwIfAborted(signal, 'get');
      while (queue.length < window && next < end) {
        const at = next;
        const wanted = Math.min(end, (Math.floor(at / unit) + 1) * unit) - at;
        // The read the consumer waits for is free; reads ahead need budget.
        let reserved = queue.length === 0 ? 0 : wanted;
        if (reserved > 0 && budget && !budget.take(reserved)) break;
        const target = allocate(wanted);
        // The allocator may give less (fresh memory comes in smaller pieces): read that much.
        const length = Math.min(wanted, target.byteLength);
        if (reserved > length) {
          budget?.give(reserved - length);
          reserved = length;
        }
        const entry = {
          done: false,
          reserved,
          buffer: read(at, target).then((bytes) => {
            entry.done = true;
            if (bytes !== length) {
              throw new BackendException(
                `Short read from ${source} at ${at}: ${bytes} of ${length} bytes`,
              );
            }
            return target;
          }),
        };
        entry.buffer.catch(() => undefined);
        queue.push(entry);
        next = at + length;
      }
      const head = queue.shift();
      if (!head) return;
      const ready = head.done;
      // The consumer asked before its chunk was read: it keeps up, read further
      // ahead. (The first two asks say nothing: nothing could be read before them.)
      asks += 1;
      if (!ready && asks > 2) window = Math.min(depth, window * 2);
      let chunk: Buffer;
      try {
        chunk = await head.buffer;
      } finally {
        if (head.reserved > 0) budget?.give(head.reserved);
      }
      yield chunk;
      // A read that was ready before the consumer asked never went through the
      // event loop: without a turn here, a busy consumer would run on microtasks
      // alone and starve timers and I/O.
      if (ready) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    await Promise.allSettled(queue.map((entry) => entry.buffer));
    for (const entry of queue) if (entry.reserved > 0) budget?.give(entry.reserved);
    await options.onEnd?.();
  }
}
