/**
 * glance_store's `_query`: one logical request, following redirects up to its
 * limit and repeating transient failures a bounded number of times.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BadStoreUri, type Logger, MaxRedirectsExceeded } from '@store/core';
import { isRetryable, statusError, toStoreError } from './errors.js';
import { displayUri, type HttpLocation, resolveRedirect } from './location.js';
import type { Exchange, Transport } from './transport.js';

/**
 * glance_store's MAX_REDIRECTS: it gives up when the fifth answer in a row is a
 * redirect, so at most four redirects are followed.
 */
export const MAX_REDIRECTS = 5;
/** Redirect statuses that are followed (glance_store only follows 301 and 302). */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5_000;

/** What {@link HttpClient.query} is asked. */
export interface QueryRequest {
  readonly method: 'GET' | 'HEAD';
  /** A `Range` header value; a 416 answer is then returned instead of thrown. */
  readonly range?: string;
  readonly signal: AbortSignal;
}

/** The final answer and the URL that gave it. */
export interface QueryResult extends Exchange {
  readonly location: HttpLocation;
}

export class HttpClient {
  readonly #transport: Transport;
  readonly #maxRetries: number;
  readonly #allowRedirectToHttp: boolean;
  readonly #logger: Logger;

  /** @param allowRedirectToHttp follow a redirect from https to plain http (https_allow_redirect_to_http). */
  constructor(
    transport: Transport,
    maxRetries: number,
    allowRedirectToHttp: boolean,
    logger: Logger,
  ) {
    this.#transport = transport;
    this.#maxRetries = maxRetries;
    this.#allowRedirectToHttp = allowRedirectToHttp;
    this.#logger = logger;
  }

  /**
   * Sends the request, following redirects. Resolves with a 2xx answer (or 416
   * for a range request) whose body is still unread.
   * @throws NotFound, Forbidden, BadStoreUri (also for an https -> http redirect
   * unless allowed), MaxRedirectsExceeded,
   * RemoteServiceUnavailable, OperationAborted
   */
  async query(start: HttpLocation, request: QueryRequest): Promise<QueryResult> {
    const chain: HttpLocation[] = [start];
    let location = start;
    for (;;) {
      const exchange = await this.#attempt(location, request);
      const { response } = exchange;
      const status = response.statusCode ?? 0;
      if (status < 300 || (status === 416 && request.range)) return { ...exchange, location };
      response.destroy();
      const header = response.headers.location;
      if (!REDIRECTS.has(status) || !header) {
        throw new BadStoreUri(
          `${request.method} ${displayUri(location.uri)} answered HTTP ${status}, which is not a redirect that can be followed`,
        );
      }
      const next = resolveRedirect(location, header);
      if (location.scheme === 'https' && next.scheme === 'http' && !this.#allowRedirectToHttp) {
        // The image (and any credentials on the way) would travel unencrypted and unverified.
        throw new BadStoreUri(
          `${request.method} ${displayUri(location.uri)} redirects from https to plain http (${displayUri(next.uri)}); refused unless https_allow_redirect_to_http is set`,
        );
      }
      const redirects = chain.length;
      const path = [...chain, next].map((l) => displayUri(l.uri)).join(' -> ');
      if (chain.some((seen) => seen.uri === next.uri)) {
        throw new MaxRedirectsExceeded(
          `The HTTP URL redirects in a loop (chain of ${redirects} redirects): ${path}`,
        );
      }
      if (redirects >= MAX_REDIRECTS) {
        throw new MaxRedirectsExceeded(
          `The HTTP URL exceeded ${MAX_REDIRECTS} maximum redirects (chain of ${redirects} redirects): ${path}`,
        );
      }
      this.#logger.debug(
        `Following HTTP ${status} redirect ${redirects} of at most ${MAX_REDIRECTS - 1}`,
        { from: displayUri(location.uri), to: displayUri(next.uri) },
      );
      chain.push(next);
      location = next;
    }
  }

  /** One request with bounded retries; statuses of 400 and more become errors. */
  async #attempt(location: HttpLocation, request: QueryRequest): Promise<Exchange> {
    const shown = displayUri(location.uri);
    const headers: Record<string, string> = request.range ? { range: request.range } : {};
    for (let attempt = 0; ; attempt++) {
      try {
        let exchange: Exchange;
        try {
          exchange = await this.#transport.send(location, request.method, headers, request.signal);
        } catch (err) {
          throw toStoreError(err, { shown, signal: request.signal });
        }
        const status = exchange.response.statusCode ?? 0;
        if (status >= 400 && !(status === 416 && request.range)) {
          exchange.response.destroy();
          throw statusError(status, shown, request.method);
        }
        return exchange;
      } catch (err) {
        if (!isRetryable(err) || attempt >= this.#maxRetries || request.signal.aborted) throw err;
        const delay = Math.min(FIRST_BACKOFF_MS * 2 ** attempt, MAX_BACKOFF_MS);
        this.#logger.warn(
          `HTTP ${request.method} failed, retrying in ${delay} ms (retry ${attempt + 1} of ${this.#maxRetries})`,
          { url: shown, error: (err as Error).message },
        );
        try {
          await sleep(delay, undefined, { signal: request.signal });
        } catch (aborted) {
          throw toStoreError(aborted, { shown, signal: request.signal });
        }
      }
    }
  }
}
