/**
 * The total time a server may take for one read (`http_total_timeout`): its
 * answer (connection, redirects, retries) plus every wait for body data while
 * the reader is waiting. The idle timeout (`http_read_timeout`) alone lets a
 * server that sends a byte now and then hold a read forever; this does not.
 * Time the reader spends elsewhere (backpressure) is not counted, so a slow
 * consumer is never blamed for it.
 */
import { performance } from 'node:perf_hooks';
import { RemoteServiceUnavailable } from '@store/core';

export class ServerDeadline {
  readonly #totalMs: number;
  #leftMs: number;

  /** @param totalMs the budget; 0 means no limit. */
  constructor(totalMs: number) {
    this.#totalMs = totalMs;
    this.#leftMs = totalMs > 0 ? totalMs : Number.POSITIVE_INFINITY;
  }

  /** The error for a read that ran out of time; `what` names the read. */
  exceeded(what: string): RemoteServiceUnavailable {
    return new RemoteServiceUnavailable(
      `${what}: the server took more than http_total_timeout (${this.#totalMs / 1000} s) in all`,
    );
  }

  /**
   * Awaits `wait` (a wait on the server), counting its duration against the
   * budget. When the budget runs out first, `expire` is called with the error
   * (it should end the wait, e.g. destroy the connection).
   */
  async during<T>(wait: Promise<T>, what: string, expire: (err: Error) => void): Promise<T> {
    const started = performance.now();
    const timer = Number.isFinite(this.#leftMs)
      ? setTimeout(() => expire(this.exceeded(what)), Math.max(this.#leftMs, 0))
      : undefined;
    try {
      return await wait;
    } finally {
      clearTimeout(timer);
      this.#leftMs -= performance.now() - started;
    }
  }
}
