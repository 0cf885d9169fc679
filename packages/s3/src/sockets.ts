/**
 * The socket budget: one token per socket of the keep-alive pool, taken before a
 * request is handed to the HTTP agent and given back when its response body is
 * finished with. Requests then wait here (in order, abortable, for as long as it
 * takes) instead of in the agent's queue, where the SDK's connection timeout
 * fails them after a few seconds; and a read can ask for a socket only if one is
 * free now, so it never holds one socket while waiting for another.
 */
import type { Readable } from 'node:stream';
import type { RuntimeExtension, S3ExtensionConfiguration } from '@aws-sdk/client-s3';

/** Gives a token back; calling it again does nothing. */
export type Release = () => void;

/** Handler option: fail at once with {@link SocketBusy} when no token is free. */
export const IF_FREE = 'storeSocketIfFree';

/** Thrown instead of waiting for a token by a request sent with {@link IF_FREE}. */
export class SocketBusy extends Error {
  override readonly name = 'SocketBusy';
  constructor() {
    super('No socket of the S3 connection pool is free');
  }
}

/** A counting semaphore with first-come, first-served waiters. */
export class SocketBudget {
  readonly capacity: number;
  #free: number;
  readonly #waiters: { grant: (release: Release) => void }[] = [];

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#free = capacity;
  }

  /** Tokens free now. */
  get free(): number {
    return this.#free;
  }

  /** Requests waiting for a token. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** A token if one is free now (and nobody waits before us), else undefined. */
  tryAcquire(): Release | undefined {
    if (this.#free === 0 || this.#waiters.length > 0) return undefined;
    this.#free -= 1;
    return this.#releaser();
  }

  /** A token, waiting in turn; rejects with the signal's reason if it aborts first. */
  acquire(signal?: AbortSignal): Promise<Release> {
    const now = this.tryAcquire();
    if (now) return Promise.resolve(now);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: (release: Release) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
      };
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #releaser(): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.#waiters.shift();
      if (next) next.grant(this.#releaser());
      else this.#free += 1;
    };
  }
}

/** The SDK client's request handler, as its runtime extensions see it. */
type SdkHandler = ReturnType<S3ExtensionConfiguration['httpHandler']>;
type SdkRequest = Parameters<SdkHandler['handle']>[0];
type SdkHandlerOptions = NonNullable<Parameters<SdkHandler['handle']>[1]>;

/**
 * A client extension (the SDK's `extensions` option) that puts the client's
 * own request handler, the one it built from `requestHandler`'s options, behind
 * `budget`: every request (each retry attempt too) holds a token from before it
 * is sent until its response body ends, errors or is destroyed.
 */
export function socketBudgetExtension(budget: SocketBudget): RuntimeExtension {
  return {
    configure: (config) => config.setHttpHandler(new BudgetedHandler(config.httpHandler(), budget)),
  };
}

/** A request handler that takes a token of the budget before its inner handler sends. */
class BudgetedHandler implements SdkHandler {
  readonly #inner: SdkHandler;
  readonly #budget: SocketBudget;

  constructor(inner: SdkHandler, budget: SocketBudget) {
    this.#inner = inner;
    this.#budget = budget;
  }

  get metadata(): SdkHandler['metadata'] {
    return this.#inner.metadata;
  }

  async handle(
    request: SdkRequest,
    options: SdkHandlerOptions & { [IF_FREE]?: boolean } = {},
  ): ReturnType<SdkHandler['handle']> {
    let release: Release | undefined;
    if (options[IF_FREE]) {
      release = this.#budget.tryAcquire();
      if (!release) throw new SocketBusy();
    } else {
      release = await this.#budget.acquire(options.abortSignal as AbortSignal | undefined);
    }
    try {
      const result = await this.#inner.handle(request, options);
      const body: unknown = result.response?.body;
      if (isStream(body)) {
        if (body.destroyed || body.readableEnded) release();
        else {
          body.once('end', release);
          body.once('close', release);
          body.once('error', release);
        }
      } else release();
      return result;
    } catch (err) {
      release();
      throw err;
    }
  }

  updateHttpClientConfig(...args: Parameters<SdkHandler['updateHttpClientConfig']>): void {
    this.#inner.updateHttpClientConfig(...args);
  }

  httpHandlerConfigs(): ReturnType<SdkHandler['httpHandlerConfigs']> {
    return this.#inner.httpHandlerConfigs();
  }

  destroy(): void {
    this.#inner.destroy?.();
  }
}

function isStream(body: unknown): body is Readable {
  return typeof (body as Readable | undefined)?.once === 'function';
}
