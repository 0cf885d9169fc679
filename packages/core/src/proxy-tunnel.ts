/**
 * A CONNECT tunnel through an HTTP forward proxy: the one request both the http
 * and the s3 drivers send before a connection of theirs goes through a proxy.
 * Which proxy serves which endpoint (options, HTTPS_PROXY, NO_PROXY) is the
 * driver's to decide; so is the error a failed tunnel becomes.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { abortError } from './errors.js';

/** A forward proxy to open CONNECT tunnels through. */
export interface TunnelProxy {
  readonly hostname: string;
  readonly port: number;
  /** `Proxy-Authorization` value, from credentials in the proxy URL. */
  readonly authorization?: string | undefined;
  /** The proxy URL without credentials, for messages. */
  readonly shown: string;
}

/** Why a tunnel was not opened, as handed to {@link ProxyTunnelOptions.mapError}. */
export type ProxyTunnelFailure =
  /** The proxy answered CONNECT with a status other than 200. */
  | { readonly kind: 'refused'; readonly status: number; readonly message: string }
  /** No answer within the timeout; `error` carries the code `ETIMEDOUT`. */
  | { readonly kind: 'timeout'; readonly error: Error }
  /** The request to the proxy failed (refused connection, reset, DNS, …). */
  | { readonly kind: 'error'; readonly error: Error };

/** What {@link openProxyTunnel} needs. */
export interface ProxyTunnelOptions {
  readonly proxy: TunnelProxy;
  /** The host to reach through the proxy (an IPv6 address is bracketed here). */
  readonly host: string;
  readonly port: number | string;
  /** How long the proxy has to answer the CONNECT, in milliseconds. */
  readonly timeoutMs: number;
  /** Aborts the CONNECT; the promise rejects with OperationAborted. */
  readonly signal?: AbortSignal | undefined;
  /**
   * The error to reject with for a failure. By default: an `Error` naming the
   * proxy, the target and the status for a refusal; the timeout's error; the
   * request's own error.
   */
  readonly mapError?: (failure: ProxyTunnelFailure) => Error;
}

function defaultError(failure: ProxyTunnelFailure): Error {
  return failure.kind === 'refused' ? new Error(failure.message) : failure.error;
}

/**
 * Asks `proxy` for a CONNECT tunnel to `host:port` and resolves with the
 * socket of the open tunnel (bytes the proxy sent after its answer put back
 * first), ready for TLS or plain HTTP. The request never uses a pooled agent:
 * each tunnel is a connection of its own.
 * @throws (rejects with) what `mapError` makes of a refusal, a timeout or a
 * failed request; OperationAborted when `signal` aborts first.
 */
export function openProxyTunnel(options: ProxyTunnelOptions): Promise<Duplex> {
  const { proxy, host, port, timeoutMs, signal } = options;
  const mapError = options.mapError ?? defaultError;
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const what = `CONNECT to ${authority} through ${proxy.shown}`;
  if (signal?.aborted) return Promise.reject(abortError(signal, what));
  return new Promise<Duplex>((resolve, reject) => {
    const request = http.request({
      host: proxy.hostname,
      port: proxy.port,
      method: 'CONNECT',
      path: authority,
      agent: false,
      headers: {
        host: authority,
        ...(proxy.authorization ? { 'proxy-authorization': proxy.authorization } : {}),
      },
    });
    let settled = false;
    const settle = (err: Error | null, socket?: Duplex): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(socket as Duplex);
    };
    const onAbort = (): void => {
      const err = abortError(signal, what);
      request.destroy(err);
      settle(err);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      const error = Object.assign(
        new Error(`proxy ${proxy.shown} did not open a tunnel to ${authority} in time`),
        { code: 'ETIMEDOUT' },
      );
      request.destroy(error);
      settle(mapError({ kind: 'timeout', error }));
    }, timeoutMs);
    request.once('connect', (response, socket, head) => {
      if (settled) {
        socket.destroy();
        return;
      }
      const status = response.statusCode ?? 0;
      if (status !== 200) {
        socket.destroy();
        const message = `proxy ${proxy.shown} refused to open a tunnel to ${authority} (HTTP ${status})`;
        settle(mapError({ kind: 'refused', status, message }));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      settle(null, socket);
    });
    request.on('error', (error) => settle(mapError({ kind: 'error', error })));
    request.end();
  });
}
