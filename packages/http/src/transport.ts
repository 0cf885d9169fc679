/**
 * One HTTP exchange: picks the connection (direct, through a forward proxy, or
 * through a CONNECT tunnel), keeps connections alive per driver instance, and
 * bounds the time to connect and the time to the response headers.
 */
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { StoreError } from '@store/core';
import { timeoutError } from './errors.js';
import {
  absoluteUrl,
  basicAuthorization,
  displayUri,
  type HttpLocation,
  hostHeader,
  requestTarget,
} from './location.js';
import { type ProxyMap, TunnelAgent } from './proxy.js';

/** How the transport connects. */
export interface TransportSettings {
  /** CA bundle replacing the system trust store. */
  readonly ca?: Buffer;
  /** False only when verification was turned off (https_insecure). */
  readonly rejectUnauthorized: boolean;
  /**
   * Why https cannot be used (the CA file could not be loaded): https requests
   * fail with it, http ones go ahead, as glance_store's requests session does.
   */
  readonly httpsUnusable?: Error;
  readonly proxies: ProxyMap;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
}

/** A request's response (headers received, body not yet read). */
export interface Exchange {
  readonly response: http.IncomingMessage;
}

const USER_AGENT = '@store/http';
// Sockets kept per host: one image read uses one, so this bounds idle connections.
const MAX_FREE_SOCKETS = 16;

/** Names the proxy in a socket error's message, keeping its code for classification. */
function viaProxy(err: Error, shown: string): Error {
  if (err instanceof StoreError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  return Object.assign(new Error(`${err.message} (via proxy ${shown})`, { cause: err }), { code });
}

/** Sends requests over pooled keep-alive connections. One per driver instance. */
export class Transport {
  readonly #settings: TransportSettings;
  readonly #direct: http.Agent;
  readonly #secure: https.Agent;
  readonly #viaProxy: http.Agent | undefined;
  readonly #tunnel: TunnelAgent | undefined;

  constructor(settings: TransportSettings) {
    this.#settings = settings;
    const tlsOptions = {
      rejectUnauthorized: settings.rejectUnauthorized,
      ...(settings.ca ? { ca: settings.ca } : {}),
    };
    const pool = { keepAlive: true, maxFreeSockets: MAX_FREE_SOCKETS };
    this.#direct = new http.Agent(pool);
    this.#secure = new https.Agent({ ...pool, ...tlsOptions });
    this.#viaProxy = settings.proxies.http ? new http.Agent(pool) : undefined;
    this.#tunnel = settings.proxies.https
      ? new TunnelAgent(settings.proxies.https, settings.connectTimeoutMs, {
          ...pool,
          ...tlsOptions,
        })
      : undefined;
  }

  /**
   * Sends `method` for `location` and resolves once the response headers are in.
   * Rejects with the raw socket, TLS or timeout error (see toStoreError).
   */
  send(
    location: HttpLocation,
    method: 'GET' | 'HEAD',
    extraHeaders: Readonly<Record<string, string>>,
    signal: AbortSignal,
  ): Promise<Exchange> {
    const { connectTimeoutMs, readTimeoutMs } = this.#settings;
    if (location.scheme === 'https' && this.#settings.httpsUnusable) {
      return Promise.reject(this.#settings.httpsUnusable);
    }
    const shown = displayUri(location.uri);
    const authorization = basicAuthorization(location.user, location.password);
    const headers: Record<string, string> = {
      host: hostHeader(location),
      'user-agent': USER_AGENT,
      // Images are read byte for byte: no transparent compression.
      'accept-encoding': 'identity',
      ...extraHeaders,
      ...(authorization ? { authorization } : {}),
    };
    let request: http.ClientRequest;
    const proxy = this.#settings.proxies[location.scheme];
    if (location.scheme === 'http') {
      request = http.request({
        method,
        signal,
        ...(proxy && this.#viaProxy
          ? {
              host: proxy.hostname,
              port: proxy.port,
              path: absoluteUrl(location),
              agent: this.#viaProxy,
              headers: {
                ...headers,
                ...(proxy.authorization ? { 'proxy-authorization': proxy.authorization } : {}),
              },
            }
          : {
              host: location.hostname,
              port: location.port,
              path: requestTarget(location),
              agent: this.#direct,
              headers,
            }),
      });
    } else {
      request = https.request({
        method,
        signal,
        host: location.hostname,
        port: location.port,
        path: requestTarget(location),
        agent: this.#tunnel ?? this.#secure,
        headers,
        rejectUnauthorized: this.#settings.rejectUnauthorized,
        ...(this.#settings.ca ? { ca: this.#settings.ca } : {}),
      });
    }

    return new Promise<Exchange>((resolve, reject) => {
      let settled = false;
      let timer = setTimeout(
        () => request.destroy(timeoutError(`Connecting to ${shown}`, connectTimeoutMs / 1000)),
        connectTimeoutMs,
      );
      const connected = () => {
        clearTimeout(timer);
        timer = setTimeout(
          () =>
            request.destroy(
              timeoutError(`Waiting for the answer of ${shown}`, readTimeoutMs / 1000),
            ),
          readTimeoutMs,
        );
      };
      request.once('socket', (socket: Socket) => {
        if (request.reusedSocket) connected();
        else if (socket instanceof TLSSocket) socket.once('secureConnect', connected);
        else if (socket.connecting) socket.once('connect', connected);
        else connected();
      });
      request.once('response', (response) => {
        clearTimeout(timer);
        settled = true;
        resolve({ response });
      });
      // Kept for the request's whole life: a socket error after the headers
      // surfaces on the response stream, and must not crash the process here.
      request.on('error', (err) => {
        clearTimeout(timer);
        if (!settled) {
          settled = true;
          reject(proxy ? viaProxy(err, proxy.shown) : err);
        }
      });
      request.end();
    });
  }

  /** Closes pooled connections. */
  close(): void {
    for (const agent of [this.#direct, this.#secure, this.#viaProxy, this.#tunnel])
      agent?.destroy();
  }
}
