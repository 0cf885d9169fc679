/**
 * Reading an object: Swift's answer passed on as one Readable, chunk for chunk as
 * the socket delivers them ('data' events, with no async-iteration layer in
 * between, which costs time per chunk), and a body that breaks off resumed with a ranged
 * GET from the first byte not delivered, as glance_store's swift driver does up to
 * swift_store_retry_get_count times.
 */
import type http from 'node:http';
import { Readable } from 'node:stream';
import { abortError, type Logger, RemoteServiceUnavailable } from '@store/core';

/** How a {@link ResumingBody} reads and resumes. */
export interface ResumingBodyOptions {
  /** The byte of the object the first answer starts at. */
  readonly offset: number;
  /** Bytes the first answer announced (Content-Length); 0 = unknown: never resumed. */
  readonly size: number;
  /** Resumptions allowed (swift_store_retry_get_count). */
  readonly retries: number;
  /** Opens the object again from byte `from` (undefined: nothing left there). */
  readonly reopen: (from: number) => Promise<http.IncomingMessage | undefined>;
  readonly signal: AbortSignal;
  /** What the read is, for its abort error. */
  readonly action: string;
  readonly logger: Logger;
}

/**
 * An object's bytes, from the first answer and the answers that resume it. Reading
 * starts at the first `read()`; backpressure pauses the socket being read.
 */
export class ResumingBody extends Readable {
  readonly #options: ResumingBodyOptions;
  #response: http.IncomingMessage;
  #started = false;
  #delivered = 0;
  #resumptions = 0;
  readonly #onAbort = () => this.destroy(abortError(this.#options.signal, this.#options.action));

  constructor(first: http.IncomingMessage, options: ResumingBodyOptions) {
    super();
    this.#options = options;
    this.#response = first;
    // Until it is read, a body torn down by an abort must not throw an 'error'
    // nobody listens to; reading attaches the listener that handles it.
    first.on('error', ignore);
    if (options.signal.aborted) this.#onAbort();
    else options.signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  override _read(): void {
    if (!this.#started) {
      this.#started = true;
      this.#attach(this.#response); // a 'data' listener sets it flowing
    } else this.#response.resume();
  }

  #attach(response: http.IncomingMessage): void {
    response.on('data', this.#onData);
    response.on('end', this.#onEnd);
    response.on('error', this.#onBroken);
    response.on('close', this.#onClose);
    // An answer that broke before it was read sends no more events.
    if (response.errored) this.#onBroken(response.errored);
    else if (response.destroyed) this.#onClose();
  }

  #detach(response: http.IncomingMessage): void {
    response.off('data', this.#onData);
    response.off('end', this.#onEnd);
    response.off('error', this.#onBroken);
    response.off('close', this.#onClose);
    response.on('error', ignore);
    response.destroy();
  }

  /** Closed without its end and without an error: cut short all the same. */
  readonly #onClose = (): void => {
    if (this.#response.readableEnded) return;
    this.#onBroken(
      new RemoteServiceUnavailable(
        `Swift's answer closed after ${this.#delivered} bytes, before its end`,
      ),
    );
  };

  readonly #onData = (chunk: Buffer): void => {
    this.#delivered += chunk.byteLength;
    if (!this.push(chunk)) this.#response.pause();
  };

  readonly #onEnd = (): void => {
    const { size } = this.#options;
    if (size === 0 || this.#delivered >= size) return void this.push(null);
    this.#onBroken(
      new RemoteServiceUnavailable(
        `Swift ended the body after ${this.#delivered} of ${size} bytes`,
      ),
    );
  };

  /** The answer failed or ended short: resume from the first byte not delivered, or fail. */
  readonly #onBroken = (err: Error): void => {
    this.#detach(this.#response);
    const { signal, retries, size, offset, logger } = this.#options;
    if (this.destroyed) return;
    if (signal.aborted || size === 0 || this.#resumptions >= retries) {
      return void this.destroy(err);
    }
    this.#resumptions++;
    const from = offset + this.#delivered;
    logger.info(`Retrying Swift read (${this.#resumptions}/${retries}) from byte ${from}`);
    this.#options.reopen(from).then(
      (response) => {
        if (!response) return void this.destroy(err);
        if (this.destroyed) return void response.destroy();
        this.#response = response;
        this.#attach(response);
      },
      (failure: unknown) => this.destroy(failure as Error),
    );
  };

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#options.signal.removeEventListener('abort', this.#onAbort);
    this.#detach(this.#response);
    callback(err);
  }
}

function ignore(): void {}
