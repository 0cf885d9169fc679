/**
 * `filesystem_store_timeout`: filesystem calls that give up waiting. A call on a
 * dead network mount (NFS hard mount, a stuck FUSE server) waits in the kernel
 * and holds one of libuv's threads, which every backend, DNS lookup and zlib call
 * of the process shares (4 by default, UV_THREADPOOL_SIZE). No thread can be
 * freed from JavaScript, so the guard:
 *
 * - frees the caller after the timeout with RemoteServiceUnavailable;
 * - keeps this backend's calls in libuv's pool to at most half of its threads,
 *   so a dead mount cannot take all of them;
 * - once a call has timed out, makes no new call on the backend until the stuck
 *   ones return: new operations fail at once, and clean-up (closing a file,
 *   removing a temporary one) waits to run after them.
 */
import { RemoteServiceUnavailable } from '@store/core';

/** What a timed-out or refused call says about the backend. */
function stalledError(backendId: string, what: string, timeoutMs: number, cause?: unknown) {
  return new RemoteServiceUnavailable(
    `Backend '${backendId}': ${what} did not return within ${timeoutMs / 1000} s (filesystem_store_timeout); the filesystem may be hung, as a dead network mount is`,
    cause === undefined ? undefined : { cause },
  );
}

/** A call waiting for a slot: started when one frees, refused when a call gets stuck. */
interface Waiter {
  readonly start: () => void;
  readonly refuse: () => void;
}

/** The size of libuv's thread pool, as Node reads it at start-up (1 to 1024, 4 by default). */
export function libuvPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number.parseInt(env.UV_THREADPOOL_SIZE ?? '', 10);
  return Number.isSafeInteger(n) && n > 0 ? Math.min(n, 1024) : 4;
}

/** Runs one backend's filesystem calls under `filesystem_store_timeout`. */
export class FsDeadline {
  readonly #backendId: string;
  readonly #timeoutMs: number;
  readonly #maxInFlight: number;
  #inFlight = 0;
  /** Calls that timed out and have not returned yet. */
  #stuck = 0;
  /** What the first stuck call was, for the errors of refused calls. */
  #stuckWhat = '';
  /** Calls waiting for a slot under #maxInFlight. */
  readonly #waiting: Waiter[] = [];
  /** Clean-ups deferred until no call is stuck. */
  #deferred: Array<() => Promise<unknown>> = [];

  /**
   * @param timeoutMs 0: no timeout, calls run as they come.
   * @param maxInFlight calls in libuv's pool at once; half the pool by default.
   */
  constructor(
    backendId: string,
    timeoutMs: number,
    maxInFlight = Math.max(1, Math.floor(libuvPoolSize() / 2)),
  ) {
    this.#backendId = backendId;
    this.#timeoutMs = timeoutMs;
    this.#maxInFlight = maxInFlight;
  }

  /** Whether a timeout is set. */
  get enabled(): boolean {
    return this.#timeoutMs > 0;
  }

  /** Calls that timed out and are still waiting in the kernel. */
  get stuck(): number {
    return this.#stuck;
  }

  /**
   * Runs the call `op` (`what` names it and its path in errors). The timeout
   * counts from now, waiting for a slot included.
   * @param late receives what a timed-out call returns in the end (a file handle
   * to close), so nothing it made is leaked.
   * @throws RemoteServiceUnavailable on timeout, or at once while an earlier call
   * is stuck.
   */
  run<T>(what: string, op: () => Promise<T>, late?: (value: T) => unknown): Promise<T> {
    if (this.#timeoutMs <= 0) return op();
    if (this.#stuck > 0) return Promise.reject(this.#refused(what));
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let started = false;
      const settle = (how: () => void) => {
        settled = true;
        clearTimeout(timer);
        how();
      };
      const waiter: Waiter = {
        start: () => {
          started = true;
          this.#inFlight++;
          let promise: Promise<T>;
          try {
            promise = op();
          } catch (err) {
            promise = Promise.reject(err);
          }
          promise.then(
            (value) => {
              this.#returned(settled);
              if (settled) late?.(value);
              else settle(() => resolve(value));
            },
            (err) => {
              this.#returned(settled);
              if (!settled) settle(() => reject(err));
            },
          );
        },
        refuse: () => settle(() => reject(this.#refused(what))),
      };
      const timer = setTimeout(() => {
        settled = true;
        if (started) {
          // Its slot stays taken until the kernel lets the thread go.
          if (this.#stuck++ === 0) this.#stuckWhat = what;
          for (const other of this.#waiting.splice(0)) other.refuse();
          reject(stalledError(this.#backendId, what, this.#timeoutMs));
        } else {
          this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
          reject(stalledError(this.#backendId, `${what} (queued)`, this.#timeoutMs));
        }
      }, this.#timeoutMs);
      if (this.#inFlight < this.#maxInFlight) waiter.start();
      else this.#waiting.push(waiter);
    });
  }

  /**
   * Runs a clean-up call (close, unlink of a temporary file) now, under the
   * timeout, or, while a call is stuck, once none is: its caller never waits
   * longer than the timeout for a hung filesystem. Its failure is ignored.
   */
  cleanup(op: () => Promise<unknown>): Promise<void> {
    const ignore = () => undefined;
    if (this.#timeoutMs <= 0) return op().then(ignore, ignore);
    if (this.#stuck > 0) {
      this.#deferred.push(op);
      return Promise.resolve();
    }
    let started = false;
    const call = () => {
      started = true;
      return op();
    };
    return this.run('a clean-up call (close or unlink)', call).then(ignore, () => {
      // Refused or timed out in the queue before it ran: it still has to run.
      if (started) return;
      if (this.#stuck > 0) this.#deferred.push(op);
      else op().catch(ignore);
    });
  }

  #refused(what: string): RemoteServiceUnavailable {
    return new RemoteServiceUnavailable(
      `Backend '${this.#backendId}': ${what} not attempted: an earlier call (${this.#stuckWhat}) has not returned after ${this.#timeoutMs / 1000} s (filesystem_store_timeout); the filesystem may be hung, as a dead network mount is`,
    );
  }

  #returned(timedOut: boolean): void {
    this.#inFlight--;
    if (timedOut && --this.#stuck === 0) {
      const deferred = this.#deferred.splice(0);
      for (const op of deferred) op().catch(() => undefined);
    }
    if (this.#stuck === 0) this.#waiting.shift()?.start();
  }
}
