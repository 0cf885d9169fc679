/**
 * Manager-wide bounds on work in flight (issue 19, "Bounds"): how many adds and
 * gets run at once, and how many bytes of image data they may buffer together.
 * Work over a limit waits in a first-in, first-out queue that honours its
 * AbortSignal, as OpenDAL's ConcurrentLimitLayer and object_store's LimitStore
 * do, but as options of one MultiStore (no global state).
 *
 * Memory is one budget, the store's {@link ReadAheadBudget} extended: an add
 * reserves what its driver declares it can hold ({@link Driver.addBufferBytes})
 * before it starts and waits while that does not fit; gets' reads ahead take from
 * the same budget without waiting (a get that finds it spent reads one chunk at a
 * time), and take nothing while an add waits, so adds are not starved by reads.
 */
import { abortError, Invalid } from './errors.js';
import { BLOCK_BYTES } from './ingest.js';
import { ReadAheadBudget } from './read-ahead.js';

/**
 * What an add is assumed to hold in a driver that does not say
 * ({@link Driver.addBufferBytes}): two of the manager's blocks handed over (one
 * being written, one pulled next).
 */
export const DEFAULT_ADD_BUFFER_BYTES = 2 * BLOCK_BYTES;

/**
 * The hash workers' batches of one image (hashing.ts's default window: 4 of
 * 2 MiB), for images hashed off the event loop.
 */
export const HASH_BATCH_BYTES = 4 * (2 << 20);

/**
 * The buffer memory an add of `size` bytes (0: unknown) reserves: the manager's
 * block being filled, the hash workers' batches when `parallelHash`, and what the
 * driver declares. No more than one copy of the image in each of those, so an
 * image of known size reserves at most that many times its size.
 */
export function addBufferBytes(
  size: number,
  driverBytes: number | undefined,
  parallelHash: boolean,
): number {
  const bytes =
    BLOCK_BYTES + (parallelHash ? HASH_BATCH_BYTES : 0) + (driverBytes ?? DEFAULT_ADD_BUFFER_BYTES);
  const copies = parallelHash ? 3 : 2;
  return size > 0 ? Math.min(bytes, copies * size) : bytes;
}

/**
 * The bounds of one MultiStore ({@link MultiStoreOptions.limits}). Every field is
 * optional; an absent one does not limit. See docs/operations.md for sizing.
 */
export interface StoreLimits {
  /**
   * Adds running at once, across all backends (copies' adds included). Further
   * adds wait, in order, until one finishes.
   */
  readonly concurrentAdds?: number;
  /**
   * Gets open at once, across all backends (copies' reads included). A get holds
   * its place from the call until its stream ends, fails or is destroyed, so a
   * caller must read or destroy every stream it gets.
   */
  readonly concurrentGets?: number;
  /**
   * Bytes of image data that adds and reads ahead may buffer at once. An add
   * waits until what its driver can hold fits (an add that needs more than the
   * whole budget waits until nothing else holds any, then runs alone); reads
   * ahead shrink to one chunk at a time when it is spent. Not counted: the one
   * chunk each open get's consumer is waiting for.
   */
  readonly bufferMemory?: number;
}

/** One limit's state, as {@link MultiStore.stats} reports it. */
export interface LimitState {
  /** Operations (or, for memory, bytes) holding the limit now. */
  readonly inUse: number;
  /** Operations waiting in the queue. */
  readonly queued: number;
  /** The configured limit; absent when there is none. */
  readonly limit?: number;
}

/** What {@link MultiStore.stats} returns: each bound's use and queue. */
export interface LimitStats {
  /** Adds running (`inUse`) and waiting for a place (`queued`). */
  readonly adds: LimitState;
  /** Gets open (`inUse`, until their stream closes) and waiting for a place. */
  readonly gets: LimitState;
  /**
   * Buffer memory in bytes: `inUse` is what running adds reserved plus what reads
   * ahead hold (`readAhead`); `queued` counts adds waiting for memory, `queuedBytes`
   * what they ask for.
   */
  readonly memory: LimitState & { readonly readAhead: number; readonly queuedBytes: number };
}

/** Gives back what an acquire took; calling it again does nothing. */
export type Release = () => void;

interface Waiter {
  readonly need: number;
  readonly grant: () => void;
}

/**
 * Waiters in arrival order. Only the head may be granted, so a large request is
 * not overtaken by a stream of small ones.
 */
class WaitQueue {
  readonly #waiters: Waiter[] = [];

  get length(): number {
    return this.#waiters.length;
  }

  get bytes(): number {
    return this.#waiters.reduce((sum, w) => sum + w.need, 0);
  }

  /**
   * Waits until `pump` grants this waiter; on abort leaves the queue at once and
   * rejects with OperationAborted naming `what`.
   */
  wait(need: number, signal: AbortSignal | undefined, what: string): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal, what));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(abortError(signal, what));
      };
      const waiter: Waiter = {
        need,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Grants waiters from the head while `fits` says the head's need fits (and takes it). */
  pump(fits: (need: number) => boolean): void {
    while (this.#waiters.length > 0 && fits(this.#waiters[0]!.need)) this.#waiters.shift()!.grant();
  }
}

/** A count of places (adds or gets running at once), with a queue. */
export class ConcurrencyLimit {
  readonly #limit: number;
  readonly #queue = new WaitQueue();
  #inUse = 0;

  /** @param limit places; `Infinity` for no limit (places are still counted). */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /**
   * Takes a place, waiting in order when none is free.
   * @throws OperationAborted (naming `what`) when `signal` fires first; the
   * waiter has then left the queue.
   */
  async acquire(signal: AbortSignal | undefined, what: string): Promise<Release> {
    if (this.#queue.length > 0 || this.#inUse >= this.#limit) {
      await this.#queue.wait(1, signal, what);
    } else {
      if (signal?.aborted) throw abortError(signal, what);
      this.#inUse++;
    }
    return once(() => {
      this.#inUse--;
      this.#pump();
    });
  }

  #pump(): void {
    this.#queue.pump(() => {
      if (this.#inUse >= this.#limit) return false;
      this.#inUse++;
      return true;
    });
  }

  state(): LimitState {
    return {
      inUse: this.#inUse,
      queued: this.#queue.length,
      ...(Number.isFinite(this.#limit) ? { limit: this.#limit } : {}),
    };
  }
}

/**
 * The store's buffer memory: its {@link ReadAheadBudget} (reads ahead take and
 * give without waiting, up to their own `readAheadLimit`) extended with
 * reservations that wait ({@link MemoryBudget.reserve}), under one total.
 */
export class MemoryBudget extends ReadAheadBudget {
  readonly #total: number;
  readonly #queue = new WaitQueue();
  #reserved = 0;

  /**
   * @param readAheadLimit the most reads ahead may hold (bytes; 0 turns them off)
   * @param total the most reads ahead and reservations hold together; `Infinity` for no limit
   */
  constructor(readAheadLimit: number, total: number) {
    super(readAheadLimit);
    this.#total = total;
  }

  /** Reads ahead yield to waiting reservations, and fit under the total. */
  override take(bytes: number): boolean {
    if (this.#queue.length > 0 || super.used + this.#reserved + bytes > this.#total) return false;
    return super.take(bytes);
  }

  override give(bytes: number): void {
    super.give(bytes);
    this.#pump();
  }

  /**
   * Reserves `bytes` (at most the total: a larger request waits until nothing
   * else is held), waiting in order while they do not fit.
   * @throws OperationAborted (naming `what`) when `signal` fires first.
   */
  async reserve(bytes: number, signal: AbortSignal | undefined, what: string): Promise<Release> {
    const need = Math.min(bytes, this.#total);
    if (this.#queue.length > 0 || !this.#fits(need)) {
      await this.#queue.wait(need, signal, what);
    } else {
      if (signal?.aborted) throw abortError(signal, what);
      this.#reserved += need;
    }
    return once(() => {
      this.#reserved -= need;
      this.#pump();
    });
  }

  #fits(need: number): boolean {
    return super.used + this.#reserved + need <= this.#total;
  }

  #pump(): void {
    this.#queue.pump((need) => {
      if (!this.#fits(need)) return false;
      this.#reserved += need;
      return true;
    });
  }

  state(): LimitStats['memory'] {
    return {
      inUse: super.used + this.#reserved,
      readAhead: super.used,
      queued: this.#queue.length,
      queuedBytes: this.#queue.bytes,
      ...(Number.isFinite(this.#total) ? { limit: this.#total } : {}),
    };
  }
}

function once(release: () => void): Release {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    release();
  };
}

function checkLimit(name: string, value: unknown): number {
  if (value === undefined) return Infinity;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new Invalid(`limits.${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/**
 * A MultiStore's bounds: places for adds and gets and the buffer memory. Places
 * are counted and memory accounted even where no limit is set, so
 * {@link Limiter.stats} is meaningful either way.
 */
export class Limiter {
  readonly adds: ConcurrencyLimit;
  readonly gets: ConcurrencyLimit;
  /** Also the store's read-ahead budget, handed to drivers' gets. */
  readonly memory: MemoryBudget;

  /**
   * @param limits as configured (validated here)
   * @param readAheadLimit the read-ahead share of the memory (MultiStoreOptions.readAheadLimit)
   * @throws Invalid naming a limit that is not a positive integer.
   */
  constructor(limits: StoreLimits | undefined, readAheadLimit: number) {
    this.adds = new ConcurrencyLimit(checkLimit('concurrentAdds', limits?.concurrentAdds));
    this.gets = new ConcurrencyLimit(checkLimit('concurrentGets', limits?.concurrentGets));
    this.memory = new MemoryBudget(
      readAheadLimit,
      checkLimit('bufferMemory', limits?.bufferMemory),
    );
  }

  /**
   * An add's place, then its `bufferBytes` of memory (in that order, always, so
   * waiters cannot deadlock). A place taken is given back if the memory wait is
   * aborted.
   * @throws OperationAborted when `signal` fires while waiting.
   */
  async acquireAdd(bufferBytes: number, signal: AbortSignal | undefined): Promise<Release> {
    const place = await this.adds.acquire(signal, 'add');
    let memory: Release;
    try {
      memory = await this.memory.reserve(bufferBytes, signal, 'add');
    } catch (err) {
      place();
      throw err;
    }
    return once(() => {
      memory();
      place();
    });
  }

  /** A get's place. @throws OperationAborted when `signal` fires while waiting. */
  acquireGet(signal: AbortSignal | undefined): Promise<Release> {
    return this.gets.acquire(signal, 'get');
  }

  stats(): LimitStats {
    return { adds: this.adds.state(), gets: this.gets.state(), memory: this.memory.state() };
  }
}
