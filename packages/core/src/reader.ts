/**
 * The read path: the stream {@link MultiStore.get} hands back, wrapped around
 * the driver's source stream. It passes the driver's chunks through as they
 * come (no async-iteration layer in between, which cost time per chunk), feeds
 * them to the optional verification hasher, turns every failure into a typed,
 * redacted error, and releases the source and the per-get resources whenever
 * it ends, fails or is destroyed, even before its first read.
 *
 * A failure (an abort included) reaches the caller only where it can be
 * received: at once when the stream has an 'error' listener or a read is
 * waiting; otherwise the source is let go at once and the failure waits for the
 * next read or the first 'error' listener (for-await and pipeline add one). A
 * caller that holds the stream without reading yet never gets an unhandled
 * 'error', which would end the process.
 */
import { Readable } from 'node:stream';
import type { RecycledChunks } from './chunk-buffers.js';
import { abortError, BackendException } from './errors.js';
import type { ImageHasher } from './hashing.js';
import { checkDigests, type Verification } from './verify.js';

/** What {@link imageReadStream} needs besides the source. */
export interface ImageReadOptions {
  /** Destroys the stream with OperationAborted when it fires. */
  readonly signal: AbortSignal;
  /** Turns any failure into the typed, redacted error the caller sees. */
  readonly normalize: (err: unknown) => Error;
  /** Hashes the bytes read, checked against `verification` at the end. */
  readonly hasher?: ImageHasher;
  readonly verification?: Verification;
  /** Frees per-get resources (a driver instance made for this read); called once. */
  readonly release?: () => Promise<void> | undefined;
  /**
   * The byte count the driver announced (0 = unknown, as for an HTTP answer without
   * Content-Length). A source that ends short of it, or runs past it, fails the
   * stream: a truncated image must never look whole, `verify` or not.
   */
  readonly expectedBytes?: number;
  /** The get's reusable buffers (`reuseBuffers`): told what the consumer takes. */
  readonly recycled?: RecycledChunks;
}

/** A Node Readable, recognised by shape: drivers may use another copy of the class. */
function isNodeReadable(source: unknown): source is Readable {
  const s = source as Partial<Readable> | null;
  return (
    typeof s?.on === 'function' &&
    typeof s.pause === 'function' &&
    typeof s.resume === 'function' &&
    typeof s.destroy === 'function'
  );
}

class ImageReadStream extends Readable {
  readonly #source: Readable;
  readonly #options: ImageReadOptions;
  /** A chunk is with the hasher: the source stays paused until it is pushed. */
  #hashing = false;
  #sourceEnded = false;
  #finishing = false;
  #started = false;
  /** Bytes the source delivered so far. */
  #delivered = 0;
  /** A failure no one could receive yet: surfaced by the next read or 'error' listener. */
  #undelivered: Error | undefined;
  /** Node called _read and no chunk has been pushed since: a reader is waiting. */
  #wanted = false;
  #tornDown = false;
  #released: Promise<void> | undefined;
  readonly #onAbort = () => this.#fail(abortError(this.#options.signal, 'get'));
  readonly #onNewListener = (event: string | symbol): void => {
    if (event !== 'error' || !this.#undelivered) return;
    // The listener is added right after this event: fail once it is in place.
    queueMicrotask(() => this.destroy(this.#undelivered));
  };

  constructor(source: Readable, options: ImageReadOptions) {
    super();
    this.#source = source;
    this.#options = options;
    source.on('error', this.#onError);
    source.on('close', this.#onClose);
    // A source handed over already failed or closed sends no more events.
    if (source.errored) this.#onError(source.errored);
    else if (source.destroyed) this.#onClose();
    this.on('newListener', this.#onNewListener);
    if (options.signal.aborted) this.#onAbort();
    else options.signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Bytes read from the backend so far (what tracing reports for a get). */
  get bytesRead(): number {
    return this.#delivered;
  }

  #pushChunk(chunk: Uint8Array): boolean {
    this.#options.recycled?.pushed(chunk);
    this.#wanted = false;
    return this.push(chunk);
  }

  /**
   * Every chunk reaches the caller through a 'data' emit (read() makes one even
   * without listeners, for async iteration too), and the next one comes only
   * once the caller asked for more: so at each delivery, what it took before is
   * done with and those buffers may be reused.
   */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const recycled = this.#options.recycled;
    if (recycled && event === 'data') {
      recycled.releaseTaken();
      recycled.took((args[0] as Uint8Array).byteLength);
    }
    return super.emit(event, ...args);
  }

  override _read(): void {
    if (this.#undelivered) return void this.destroy(this.#undelivered);
    this.#wanted = true;
    if (!this.#started) {
      // Flowing mode hands chunks over as the source made them (read() would
      // concatenate what is buffered); pause/resume carry the backpressure.
      this.#started = true;
      this.#source.on('data', this.#onData);
      this.#source.on('end', this.#onEnd);
      if (this.#source.readableEnded) return void this.#onEnd();
    }
    if (!this.#hashing) this.#source.resume();
  }

  /**
   * Fails the stream with `err`, typed and redacted. When no one can receive the
   * error yet (no 'error' listener, no read waiting), the source and the per-get
   * resources are let go now and the error waits for a read or a listener.
   */
  #fail(err: unknown): void {
    if (this.destroyed || this.#undelivered) return;
    const failure = this.#options.normalize(err);
    if (this.#wanted || this.listenerCount('error') > 0) return void this.destroy(failure);
    this.#undelivered = failure;
    this.#teardown();
  }

  readonly #onData = (chunk: Uint8Array): void => {
    if (this.destroyed) return;
    const { signal, hasher, expectedBytes = 0 } = this.#options;
    if (signal.aborted) return void this.#onAbort();
    this.#delivered += chunk.byteLength;
    if (expectedBytes > 0 && this.#delivered > expectedBytes) {
      return void this.#fail(this.#lengthError());
    }
    let pending: Promise<void> | void;
    try {
      pending = hasher?.update(chunk);
    } catch (err) {
      return void this.#fail(err);
    }
    if (!pending) {
      if (!this.#pushChunk(chunk)) this.#source.pause();
      return;
    }
    // The hasher applies backpressure: hold the source until it has the chunk.
    this.#hashing = true;
    this.#source.pause();
    pending.then(
      () => {
        this.#hashing = false;
        if (this.destroyed || this.#undelivered) return;
        if (this.#pushChunk(chunk)) this.#source.resume();
        if (this.#sourceEnded) this.#finish();
      },
      (err: unknown) => this.#fail(err),
    );
  };

  readonly #onEnd = (): void => {
    this.#sourceEnded = true;
    if (!this.#hashing) this.#finish();
  };

  readonly #onError = (err: unknown): void => this.#fail(err);

  readonly #onClose = (): void => {
    // A source that closes without ending or failing cut the image short.
    if (!this.#sourceEnded)
      this.#fail(new BackendException('The image stream closed before its end'));
  };

  #finish(): void {
    if (this.#finishing) return;
    this.#finishing = true;
    const { hasher, verification, expectedBytes = 0 } = this.#options;
    if (expectedBytes > 0 && this.#delivered !== expectedBytes) {
      return void this.#fail(this.#lengthError());
    }
    const digests = hasher && verification ? hasher.digest() : undefined;
    Promise.resolve(digests)
      .then(async (actual) => {
        if (actual) checkDigests(actual, verification!);
        // Resources go back before the caller sees the end, as they did before.
        await this.#release();
        if (!this.destroyed && !this.#undelivered) this.push(null);
      })
      .catch((err: unknown) => this.#fail(err));
  }

  #lengthError(): Error {
    const expected = this.#options.expectedBytes ?? 0;
    const why =
      this.#delivered > expected
        ? `ran past the ${expected} bytes the backend announced`
        : `ended after ${this.#delivered} of the ${expected} bytes the backend announced`;
    return this.#options.normalize(new BackendException(`The image stream ${why}`));
  }

  #release(): Promise<void> {
    this.#released ??= Promise.resolve()
      .then(() => this.#options.release?.())
      .catch(() => undefined);
    return this.#released;
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.off('newListener', this.#onNewListener);
    this.#teardown();
    this.#release().then(() => callback(err));
  }

  /** Lets go of the source, the hasher and the per-get resources; once. */
  #teardown(): void {
    if (this.#tornDown) return;
    this.#tornDown = true;
    const source = this.#source;
    source.off('data', this.#onData);
    source.off('end', this.#onEnd);
    source.off('close', this.#onClose);
    source.off('error', this.#onError);
    // A late error from the source's own teardown has nowhere to go.
    source.on('error', () => undefined);
    source.destroy();
    this.#options.hasher?.dispose();
    this.#options.signal.removeEventListener('abort', this.#onAbort);
    void this.#release();
  }
}

/**
 * Destroys a get stream nobody will read (its signal fired before get
 * resolved) and waits until the source and per-get resources are let go.
 */
export function discardUnread(stream: Readable): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return new Promise((resolve) => stream.once('close', () => resolve()).destroy());
}

/** Bytes a get's stream has read from its backend; undefined for another stream. */
export function imageBytesRead(stream: Readable): number | undefined {
  return stream instanceof ImageReadStream ? stream.bytesRead : undefined;
}

/**
 * The stream {@link MultiStore.get} returns: a byte-mode Readable, so its chunks are
 * Buffers; typed so that `for await (const chunk of stream)` gives a Buffer, not `any`.
 */
export type ImageStream = Readable & AsyncIterable<Buffer>;

/**
 * An async iterable as a Readable that asks it for one chunk per read and holds
 * none itself (Readable.from asks again whenever a push is handed on at once,
 * so a stalled caller held one more chunk there).
 */
function pullOnDemand(source: AsyncIterable<Uint8Array>): Readable {
  const iterator = source[Symbol.asyncIterator]();
  return new Readable({
    highWaterMark: 0,
    read() {
      iterator.next().then(
        ({ done, value }) => this.push(done ? null : value),
        (err: unknown) => this.destroy(err as Error),
      );
    },
    destroy(err, callback) {
      // Ends the iterator (readAhead closes its file), even before a first read.
      Promise.resolve(iterator.return?.()).then(
        () => callback(err),
        (failure: unknown) => callback((failure as Error) ?? err),
      );
    },
  });
}

/**
 * Wraps a driver's source (a Readable or any async iterable of bytes) in the
 * stream a caller of get receives. Destroying the returned stream at any time
 * destroys the source and releases the per-get resources.
 */
export function imageReadStream(
  source: AsyncIterable<Uint8Array> | Readable,
  options: ImageReadOptions,
): ImageStream {
  const readable = isNodeReadable(source)
    ? source
    : pullOnDemand(source as AsyncIterable<Uint8Array>);
  return new ImageReadStream(readable, options);
}
