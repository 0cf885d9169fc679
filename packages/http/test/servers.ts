/**
 * Real servers on 127.0.0.1 for the tests: an image server (HTTP or HTTPS) whose
 * behaviour each test shapes, a forward proxy (absolute-URI requests and
 * CONNECT tunnels), and a CA made with the openssl CLI.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Logger, MultiStore } from '@store/core';
import httpDriver from '../src/index.js';

/** What a promise rejects with (the test fails if it resolves). */
export { failure } from '@store/testkit';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A running server and how to stop it. */
export interface Running {
  readonly port: number;
  /** `http://127.0.0.1:<port>` (or https). */
  readonly base: string;
  /** Every request seen: method, URL and headers. */
  readonly seen: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  close(): Promise<void>;
}

function track(server: net.Server): () => Promise<void> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Starts an HTTP server (HTTPS when `tls` is given) running `handler`. */
export async function startServer(
  handler: Handler,
  tls?: { key: Buffer; cert: Buffer },
): Promise<Running> {
  const seen: Running['seen'] = [];
  const wrapped: Handler = (req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    handler(req, res);
  };
  const server = tls ? https.createServer(tls, wrapped) : http.createServer(wrapped);
  const close = track(server);
  const port = await listen(server);
  return { port, base: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, seen, close };
}

/** How {@link serveBytes} answers. */
export interface ServeOptions {
  /** Honour single byte ranges (default true). */
  readonly ranges?: boolean;
  /** Send Content-Length (default true); otherwise chunked. */
  readonly length?: boolean;
  /** Bytes after which the connection is cut (the headers promised them all). */
  readonly dropAfter?: number;
}

/** Answers GET/HEAD for `data`, with ranges as RFC 9110 says unless told not to. */
export function serveBytes(
  req: IncomingMessage,
  res: ServerResponse,
  data: Uint8Array,
  options: ServeOptions = {},
): void {
  const { ranges = true, length = true } = options;
  let body = data;
  const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
  if (ranges && range) {
    const first = Number(range[1]);
    const last = Math.min(range[2] ? Number(range[2]) : data.byteLength - 1, data.byteLength - 1);
    if (first >= data.byteLength) {
      res.writeHead(416, { 'content-range': `bytes */${data.byteLength}` }).end();
      return;
    }
    body = data.subarray(first, last + 1);
    res.statusCode = 206;
    res.setHeader('content-range', `bytes ${first}-${last}/${data.byteLength}`);
  } else res.statusCode = 200;
  if (length) res.setHeader('content-length', body.byteLength);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  if (options.dropAfter !== undefined) {
    res.flushHeaders();
    res.write(body.subarray(0, options.dropAfter), () => setTimeout(() => res.destroy(), 20));
    return;
  }
  if (!length) {
    // A write before end() keeps Node from adding a Content-Length: chunked encoding.
    res.write(body);
    res.end();
    return;
  }
  res.end(body);
}

// The forward proxy lives in @store/testkit (the s3 tests use it too).
export { type ForwardProxy, startProxy } from '@store/testkit';

/** A CA and a server certificate for 127.0.0.1 and localhost, made with openssl. */
export interface Pki {
  readonly caFile: string;
  readonly key: Buffer;
  readonly cert: Buffer;
  /** A second, unrelated CA (to show verification really happens). */
  readonly otherCaFile: string;
  cleanup(): void;
}

/** Generates a throw-away CA and a server certificate signed by it. */
export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'store-http-pki-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const name of ['ca', 'other']) {
    ssl(
      'req',
      '-x509',
      ...newKey,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=store-http test ${name} CA`,
    );
  }
  ssl('req', ...newKey, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  // The server certificate, signed by `ca`.
  ssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  );
  return {
    caFile: join(dir, 'ca.pem'),
    otherCaFile: join(dir, 'other.pem'),
    key: readFileSync(join(dir, 'server.key')),
    cert: readFileSync(join(dir, 'server.pem')),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A store with one http backend `web` configured with `options`. */
export function openStore(
  options: Record<string, unknown> = {},
  logger?: Logger,
): Promise<MultiStore> {
  return MultiStore.create(
    { enabledBackends: { web: 'http' }, defaultBackend: 'web', backends: { web: options } },
    { drivers: [httpDriver], ...(logger ? { logger } : {}) },
  );
}

/** The `code` of what `promise` rejects with ('no error' if it resolves). */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  return 'no error';
}
