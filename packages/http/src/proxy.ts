/**
 * Forward proxies (`http_proxy_information`): which proxy serves which scheme,
 * and the agent that tunnels HTTPS through a proxy with CONNECT.
 */
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import {
  BadStoreConfiguration,
  Forbidden,
  openProxyTunnel,
  type ProxyTunnelFailure,
  RemoteServiceUnavailable,
  type TunnelProxy,
} from '@store/core';
import { markRetryable } from './errors.js';
import {
  basicAuthorization,
  displayUri,
  type HttpLocation,
  parseHttpLocation,
} from './location.js';

/** One configured forward proxy. */
export type ProxyEndpoint = TunnelProxy;

/** Proxies by target scheme. */
export interface ProxyMap {
  readonly http?: ProxyEndpoint;
  readonly https?: ProxyEndpoint;
}

const KEYS = new Set(['http', 'https', 'all']);

/**
 * Parses `http_proxy_information` (oslo's dict: `http:10.0.0.1:3128, https:…`).
 * A scheme-specific entry wins over `all`.
 * @throws BadStoreConfiguration for an unknown key or a proxy that is not an
 * http:// URL (a missing scheme means http://, as in requests).
 */
export function parseProxyInformation(
  backendId: string,
  info: Readonly<Record<string, string>> | undefined,
): ProxyMap {
  const out: Record<string, ProxyEndpoint> = {};
  for (const [rawKey, value] of Object.entries(info ?? {})) {
    const key = rawKey.trim().toLowerCase();
    const where = `Backend '${backendId}': option 'http_proxy_information'`;
    if (!KEYS.has(key)) {
      throw new BadStoreConfiguration(
        `${where} has the key '${rawKey}'; expected http, https or all`,
      );
    }
    const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
    if (!/^http:\/\//i.test(url)) {
      throw new BadStoreConfiguration(
        `${where}: proxy '${displayUri(url)}' for '${key}' must be an http:// proxy`,
      );
    }
    let parsed: HttpLocation;
    try {
      parsed = parseHttpLocation(url);
    } catch (err) {
      throw new BadStoreConfiguration(`${where}: ${(err as Error).message}`, { cause: err });
    }
    const authorization = basicAuthorization(parsed.user, parsed.password);
    out[key] = {
      hostname: parsed.hostname,
      port: parsed.port,
      ...(authorization ? { authorization } : {}),
      shown: displayUri(url),
    };
  }
  const { all, http: forHttp = all, https: forHttps = all } = out;
  return { ...(forHttp ? { http: forHttp } : {}), ...(forHttps ? { https: forHttps } : {}) };
}

type Callback = (err: Error | null, socket?: Duplex) => void;

/**
 * An https agent whose connections are TLS sessions inside CONNECT tunnels
 * through one proxy. Keep-alive pooling works as for direct connections: a
 * pooled socket is a tunnel already open to its origin.
 */
export class TunnelAgent extends https.Agent {
  readonly #proxy: ProxyEndpoint;
  readonly #connectTimeoutMs: number;

  constructor(proxy: ProxyEndpoint, connectTimeoutMs: number, options: https.AgentOptions) {
    super(options);
    this.#proxy = proxy;
    this.#connectTimeoutMs = connectTimeoutMs;
  }

  /** Called by the agent for every new connection; answers through `callback`. */
  override createConnection(options: tls.ConnectionOptions, callback: Callback): undefined {
    openProxyTunnel({
      proxy: this.#proxy,
      host: String(options.host),
      port: options.port ?? 443,
      timeoutMs: this.#connectTimeoutMs,
      mapError: tunnelError,
    }).then((socket) => callback(null, tls.connect({ ...options, socket })), callback);
    return undefined;
  }
}

/** A refusal as a typed error; a timeout or failed request as it was, for toStoreError. */
function tunnelError(failure: ProxyTunnelFailure): Error {
  if (failure.kind !== 'refused') return failure.error;
  const why = `The ${failure.message}`;
  if (failure.status === 407 || failure.status === 403) return new Forbidden(why);
  const err = new RemoteServiceUnavailable(why);
  return failure.status >= 500 || failure.status === 429 ? markRetryable(err) : err;
}
