/**
 * Reaching the S3 endpoint through a forward proxy, as botocore does: the
 * backend's `s3_store_proxies` (botocore's `Config(proxies=...)`) when set, else
 * HTTPS_PROXY / HTTP_PROXY (either case) unless NO_PROXY names the host
 * (urllib's `proxy_bypass_environment`, which botocore uses).
 */
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import {
  BadStoreConfiguration,
  openProxyTunnel,
  type ProxyTunnelFailure,
  type TunnelProxy,
} from '@store/core';

/** A proxy to open CONNECT tunnels through. */
export type S3Proxy = TunnelProxy;

type Callback = (err: Error | null, socket?: Duplex) => void;

/** `name` from `env` in either case, lower case first (as urllib's getproxies_environment). */
function envValue(env: Readonly<Record<string, string | undefined>>, name: string): string {
  return env[name.toLowerCase()] ?? env[name.toUpperCase()] ?? '';
}

/** True when NO_PROXY names `host` (or `host:port`), as urllib's proxy_bypass_environment. */
export function bypassesProxy(noProxy: string, host: string, port: string): boolean {
  if (noProxy.trim() === '*') return true;
  const hostOnly = host.toLowerCase();
  const hostPort = `${hostOnly}:${port}`;
  for (const raw of noProxy.split(',')) {
    const name = raw.trim().replace(/^\./, '').toLowerCase();
    if (name === '') continue;
    for (const candidate of [hostOnly, hostPort]) {
      if (candidate === name || candidate.endsWith(`.${name}`)) return true;
    }
  }
  return false;
}

/**
 * The proxy for `endpoint`, if any: the option's entry for the endpoint's
 * scheme, else the environment's.
 * @throws BadStoreConfiguration for a proxy that is not an http:// URL.
 */
export function proxyFor(
  backendId: string,
  endpoint: URL,
  proxies: Readonly<Record<string, string>> | undefined,
  env: Readonly<Record<string, string | undefined>>,
): S3Proxy | undefined {
  const scheme = endpoint.protocol.replace(':', '');
  const port = endpoint.port || (scheme === 'https' ? '443' : '80');
  let raw: string;
  let where: string;
  if (proxies && Object.keys(proxies).length > 0) {
    raw = proxies[scheme] ?? '';
    where = `option 's3_store_proxies' (${scheme})`;
  } else {
    if (bypassesProxy(envValue(env, 'no_proxy'), endpoint.hostname, port)) return undefined;
    raw = envValue(env, `${scheme}_proxy`);
    where = `${scheme.toUpperCase()}_PROXY`;
  }
  if (raw.trim() === '') return undefined;
  const fail = (why: string): never => {
    throw new BadStoreConfiguration(`Backend '${backendId}' (s3): ${where} ${why}`);
  };
  let url: URL;
  try {
    // botocore (urllib3) takes a bare host:port as http://host:port.
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw.trim() : `http://${raw.trim()}`);
  } catch {
    return fail('is not a URL');
  }
  if (url.protocol !== 'http:') fail(`must be an http:// proxy, got ${url.protocol}//`);
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  return {
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || 80),
    authorization: user
      ? `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
      : undefined,
    shown: `http://${url.host}`,
  };
}

/**
 * A CONNECT tunnel through `proxy` to the connection's host; `secure` wraps it in
 * TLS with the connection's options. An http:// endpoint goes through a tunnel
 * too (botocore sends absolute-URI requests there): one code path, and the proxy
 * sees no request.
 */
function tunnel(
  proxy: S3Proxy,
  options: tls.ConnectionOptions,
  timeoutMs: number,
  secure: boolean,
  callback: Callback,
): void {
  openProxyTunnel({
    proxy,
    host: String(options.host ?? options.servername),
    port: options.port ?? (secure ? 443 : 80),
    timeoutMs,
    mapError: (failure) => tunnelError(proxy, failure),
  }).then(
    (socket) => callback(null, secure ? tls.connect({ ...options, socket }) : socket),
    callback,
  );
}

/**
 * A failed tunnel as a network error the SDK and toStoreError know: 407 and 403
 * are not worth retrying, other refusals may be transient.
 */
function tunnelError(proxy: S3Proxy, failure: ProxyTunnelFailure): Error {
  if (failure.kind === 'timeout') return failure.error;
  if (failure.kind === 'refused') {
    const code = failure.status === 407 || failure.status === 403 ? 'EPROXYREFUSED' : 'ECONNRESET';
    return Object.assign(new Error(failure.message), { code });
  }
  const { error } = failure;
  return Object.assign(new Error(`proxy ${proxy.shown}: ${error.message}`, { cause: error }), {
    code: (error as NodeJS.ErrnoException).code,
  });
}

/** An http agent whose connections are CONNECT tunnels through `proxy`. */
export class TunnelHttpAgent extends http.Agent {
  readonly #proxy: S3Proxy;
  readonly #timeoutMs: number;
  constructor(proxy: S3Proxy, timeoutMs: number, options: http.AgentOptions) {
    super(options);
    this.#proxy = proxy;
    this.#timeoutMs = timeoutMs;
  }
  override createConnection(options: tls.ConnectionOptions, callback: Callback): undefined {
    tunnel(this.#proxy, options, this.#timeoutMs, false, callback);
    return undefined;
  }
}

/** An https agent whose connections are TLS sessions inside CONNECT tunnels through `proxy`. */
export class TunnelHttpsAgent extends https.Agent {
  readonly #proxy: S3Proxy;
  readonly #timeoutMs: number;
  constructor(proxy: S3Proxy, timeoutMs: number, options: https.AgentOptions) {
    super(options);
    this.#proxy = proxy;
    this.#timeoutMs = timeoutMs;
  }
  override createConnection(options: tls.ConnectionOptions, callback: Callback): undefined {
    tunnel(this.#proxy, options, this.#timeoutMs, true, callback);
    return undefined;
  }
}
