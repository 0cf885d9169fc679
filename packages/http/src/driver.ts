/**
 * The http driver: images read from any web server, by their URL. Read-only: it
 * has no add or delete, and the manager refuses both (StoreAddDisabled,
 * StoreDeleteNotSupported) as glance_store's capability check does.
 */
import {
  BackendException,
  BadStoreConfiguration,
  type Driver,
  type DriverContext,
  type DriverGetRequest,
  type DriverGetResult,
  type DriverRequest,
  type Logger,
  loadCaFile,
} from '@store/core';
import { bodyRead, contentLength } from './body.js';
import { HttpClient, type QueryRequest, type QueryResult } from './client.js';
import { ServerDeadline } from './deadline.js';
import { displayUri, type HttpLocation, parseHttpLocation } from './location.js';
import type { HttpOptions } from './options.js';
import { parseProxyInformation } from './proxy.js';
import { Transport } from './transport.js';

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;

export class HttpDriver implements Driver<HttpLocation> {
  readonly #client: HttpClient;
  readonly #transport: Transport;
  readonly #readTimeoutMs: number;
  readonly #totalTimeoutMs: number;
  readonly #logger: Logger;

  private constructor(transport: Transport, options: HttpOptions, logger: Logger) {
    this.#transport = transport;
    this.#client = new HttpClient(
      transport,
      options.http_max_retries,
      options.https_allow_redirect_to_http,
      logger,
    );
    this.#readTimeoutMs = options.http_read_timeout * 1000;
    this.#totalTimeoutMs = options.http_total_timeout * 1000;
    this.#logger = logger;
  }

  /**
   * Loads the CA bundle and the proxy settings. A CA file that cannot be used
   * leaves the backend reading http locations, with https ones failing with
   * BadStoreConfiguration naming the file (glance_store hands the file to each
   * https request, which fails the same way); never falls back to no verification.
   * @throws BadStoreConfiguration for a bad proxy entry.
   */
  static async create(context: DriverContext): Promise<HttpDriver> {
    const options = context.options as unknown as HttpOptions;
    const proxies = parseProxyInformation(context.backendId, options.http_proxy_information);
    const caFile = options.https_ca_certificates_file;
    let ca: Buffer | undefined;
    let httpsUnusable: BadStoreConfiguration | undefined;
    if (caFile) {
      try {
        ca = await loadCaFile(context.backendId, 'https_ca_certificates_file', caFile);
      } catch (err) {
        if (!(err instanceof BadStoreConfiguration)) throw err;
        httpsUnusable = err;
        context.logger.warn(`${err.message}: https locations cannot be read, http ones still are`);
      }
    }
    const rejectUnauthorized = caFile !== undefined || !options.https_insecure;
    if (!rejectUnauthorized) {
      context.logger.warn(
        `Backend '${context.backendId}': https_insecure is set, HTTPS server certificates are not verified`,
      );
    }
    const transport = new Transport({
      ...(ca ? { ca } : {}),
      ...(httpsUnusable ? { httpsUnusable } : {}),
      rejectUnauthorized,
      proxies,
      connectTimeoutMs: options.http_connect_timeout * 1000,
      readTimeoutMs: options.http_read_timeout * 1000,
    });
    return new HttpDriver(transport, options, context.logger);
  }

  /** Every http(s) URL, as glance_store's url_prefix `http`. */
  owns(): boolean {
    return true;
  }

  parseLocation(uri: string): HttpLocation {
    return parseHttpLocation(uri);
  }

  /**
   * The client's query within the read's total time limit: when it runs out,
   * the request is aborted and the deadline's error raised, not OperationAborted.
   */
  async #query(
    location: HttpLocation,
    request: QueryRequest,
    deadline: ServerDeadline,
  ): Promise<QueryResult> {
    const expiry = new AbortController();
    const signal = AbortSignal.any([request.signal, expiry.signal]);
    let expired: Error | undefined;
    try {
      return await deadline.during(
        this.#client.query(location, { ...request, signal }),
        `${request.method} ${displayUri(location.uri)}`,
        (err) => {
          expired = err;
          expiry.abort(err);
        },
      );
    } catch (err) {
      throw expired && !request.signal.aborted ? expired : err;
    }
  }

  /**
   * Streams the image. An offset or chunk is asked for with a Range header; when
   * the server ignores it and sends the whole image, the prefix is skipped and
   * the rest cut off here, so the reader always gets exactly the bytes asked for.
   */
  async get(
    location: HttpLocation,
    request: DriverGetRequest,
  ): Promise<DriverGetResult | undefined> {
    const { offset, chunkSize, signal } = request;
    const ranged = offset > 0 || chunkSize !== undefined;
    const range = ranged
      ? `bytes=${offset}-${chunkSize !== undefined ? offset + chunkSize - 1 : ''}`
      : undefined;
    const deadline = new ServerDeadline(this.#totalTimeoutMs);
    const { response, location: served } = await this.#query(
      location,
      { method: 'GET', ...(range ? { range } : {}), signal },
      deadline,
    );
    const shown = displayUri(served.uri);
    const context = { shown, readTimeoutMs: this.#readTimeoutMs, deadline, signal };
    let length: number | undefined;
    try {
      length = contentLength(response, shown);
    } catch (err) {
      response.destroy();
      throw err;
    }
    const status = response.statusCode ?? 0;

    if (status === 416) {
      // The offset is at or past the end: the manager checks the size.
      response.destroy();
      return undefined;
    }
    if (status === 206) {
      const match = CONTENT_RANGE.exec(String(response.headers['content-range'] ?? ''));
      const first = match ? Number(match[1]) : Number.NaN;
      const last = match ? Number(match[2]) : Number.NaN;
      if (match && !Number.isSafeInteger(last)) {
        response.destroy();
        throw new BackendException(
          `${shown} sent Content-Range '${String(response.headers['content-range']).slice(0, 80)}', larger than a size can be (Number.MAX_SAFE_INTEGER, ${Number.MAX_SAFE_INTEGER} bytes)`,
        );
      }
      if (!match || first !== offset || last < first) {
        response.destroy();
        throw new BackendException(
          `${shown} answered the range ${range} with Content-Range '${String(response.headers['content-range'] ?? '')}', not the bytes asked for`,
        );
      }
      const size = Math.min(last - first + 1, chunkSize ?? Number.POSITIVE_INFINITY);
      return { ...bodyRead(response, { skip: 0, limit: size, exact: true }, context), size };
    }
    if (ranged) {
      this.#logger.warn('The HTTP server ignored the Range header: skipping to the offset', {
        url: shown,
        offset,
      });
    }
    // As glance_store, a missing Content-Length gives size 0 ("unknown").
    const size =
      length === undefined
        ? 0
        : Math.min(Math.max(length - offset, 0), chunkSize ?? Number.POSITIVE_INFINITY);
    const plan = { skip: offset, ...(chunkSize !== undefined ? { limit: chunkSize } : {}) };
    return { ...bodyRead(response, plan, context), size };
  }

  /**
   * The Content-Length of a HEAD request; 0 when the server does not send one,
   * as glance_store.
   */
  async getSize(location: HttpLocation, request: DriverRequest): Promise<number> {
    const { response, location: served } = await this.#query(
      location,
      { method: 'HEAD', signal: request.signal },
      new ServerDeadline(this.#totalTimeoutMs),
    );
    response.resume();
    return contentLength(response, displayUri(served.uri)) ?? 0;
  }

  async close(): Promise<void> {
    this.#transport.close();
  }
}
