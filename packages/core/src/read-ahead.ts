/**
 * The read loop of drivers whose backend reads at a position into a buffer (a
 * file, an RBD image): a bounded number of reads in flight ahead of the consumer,
 * handed out in order. Memory is `unit` × `depth`, whatever the range.
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
  /** Reads in flight ahead of the consumer. */
  readonly depth: number;
  readonly signal: AbortSignal;
  /** Fills `target` from `position`; resolves with the bytes read. */
  readonly read: (position: number, target: Buffer) => Promise<number>;
  /** The request's allocator ({@link DriverGetRequest.allocate}). */
  readonly allocate: ChunkAllocator;
  /** Names the source in errors, e.g. `image 0f3c…`. */
  readonly source: string;
  /** Called once, however the stream ends (closes the file or image). */
  readonly onEnd?: () => Promise<void>;
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
  const { start, end, unit, depth, signal, read, allocate, source } = options;
  const queue: { done: boolean; buffer: Promise<Buffer> }[] = [];
  let next = start;
  try {
    for (;;) {
      throwIfAborted(signal, 'get');
      while (queue.length < depth && next < end) {
        const at = next;
        const length = Math.min(end, (Math.floor(at / unit) + 1) * unit) - at;
        const target = allocate(length);
        const entry = {
          done: false,
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
      yield await head.buffer;
      // A read that was ready before the consumer asked never went through the
      // event loop: without a turn here, a busy consumer would run on microtasks
      // alone and starve timers and I/O.
      if (ready) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    await Promise.allSettled(queue.map((entry) => entry.buffer));
    await options.onEnd?.();
  }
}
