/**
 * Bounds on what a server can make a read do, against real servers on
 * 127.0.0.1: a total time limit (a server trickling bytes cannot hold a read
 * forever, a slow reader is never blamed), no silent https -> http downgrade on
 * redirect, and no Content-Length beyond what a JavaScript number holds exactly.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import type { MultiStore } from '@store/core';
import { collect, patternBytes } from '@store/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  codeOf,
  failure,
  makePki,
  openStore,
  type Pki,
  type Running,
  serveBytes,
  startServer,
} from './servers.js';

const stores: MultiStore[] = [];
const servers: Running[] = [];
const timers = new Set<NodeJS.Timeout>();

async function store(options: Record<string, unknown> = {}) {
  const s = await openStore({ http_max_retries: 0, ...options });
  stores.push(s);
  return s;
}

async function server(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  tls?: { key: Buffer; cert: Buffer },
) {
  const s = await startServer(handler, tls);
  servers.push(s);
  return s;
}

/** A server speaking raw HTTP/1.1: `head` is sent as is, then `body`, and the socket held open. */
async function rawServer(head: string, body = 'abc'): Promise<{ base: string; close(): void }> {
  const sockets: Socket[] = [];
  const raw = net.createServer((socket) => {
    sockets.push(socket);
    socket.once('data', () => socket.write(`${head}\r\n\r\n${body}`));
  });
  await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(raw.address() as AddressInfo).port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      raw.close();
    },
  };
}

afterEach(async () => {
  for (const t of timers) clearInterval(t);
  timers.clear();
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('http_total_timeout', () => {
  it('ends a read from a server trickling one byte at a time, though it is never idle', async () => {
    const web = await server((_req, res) => {
      res.writeHead(200, { 'content-length': 100_000 });
      res.write('x');
      const t = setInterval(() => res.write('x'), 50);
      timers.add(t);
      res.once('close', () => clearInterval(t));
    });
    // The idle timeout alone never fires: a byte comes every 50 ms.
    const s = await store({ http_read_timeout: 5, http_total_timeout: 0.6 });
    const got = await s.get(`${web.base}/trickle`);
    const err = await failure(collect(got.stream));
    expect(err.code).toBe('RemoteServiceUnavailable');
    // The total timeout ended it, not the idle one (5 s) nor the server's end.
    expect(err.message).toMatch(/http_total_timeout \(0.6 s\)/);
  });

  it('bounds the wait for an answer too, for get and getSize', async () => {
    const web = await server(() => undefined);
    const s = await store({ http_read_timeout: 30, http_total_timeout: 0.3 });
    for (const call of [() => s.get(`${web.base}/silent`), () => s.getSize(`${web.base}/x`)]) {
      const err = await failure(call());
      expect(err.code).toBe('RemoteServiceUnavailable');
      // The total timeout ended the wait, not the read timeout (30 s).
      expect(err.message).toMatch(/http_total_timeout \(0.3 s\)/);
    }
  });

  it('never counts the time the reader takes: a slow reader of a fast server finishes', async () => {
    const image = patternBytes(1 << 20, 5);
    const web = await server((req, res) => serveBytes(req, res, image));
    const s = await store({ http_total_timeout: 0.3 });
    const got = await s.get(`${web.base}/image`);
    let bytes = 0;
    let pauses = 0;
    for await (const chunk of got.stream) {
      bytes += (chunk as Uint8Array).byteLength;
      await new Promise((r) => setTimeout(r, 60));
      pauses++;
    }
    expect(bytes).toBe(image.byteLength);
    // The reader's own pauses alone outlast http_total_timeout (0.3 s).
    expect(pauses * 60).toBeGreaterThan(300);
  });
});

describe('redirects from https to plain http', () => {
  let pki: Pki;
  beforeAll(() => {
    pki = makePki();
  });
  afterAll(() => pki.cleanup());

  it('are refused by default with BadStoreUri, and followed with https_allow_redirect_to_http', async () => {
    const image = patternBytes(1000, 3);
    const plain = await server((req, res) => serveBytes(req, res, image));
    const secure = await server(
      (_req, res) => {
        res.writeHead(302, { location: `${plain.base}/image` }).end();
      },
      { key: pki.key, cert: pki.cert },
    );
    const s = await store({ https_ca_certificates_file: pki.caFile });
    for (const call of [
      () => s.get(`${secure.base}/image`),
      () => s.getSize(`${secure.base}/image`),
    ]) {
      const err = await failure(call());
      expect(err.code).toBe('BadStoreUri');
      expect(err.message).toMatch(/https_allow_redirect_to_http/);
    }
    expect(plain.seen).toEqual([]);
    const allowing = await store({
      https_ca_certificates_file: pki.caFile,
      https_allow_redirect_to_http: true,
    });
    const got = await allowing.get(`${secure.base}/image`);
    expect(Buffer.from(await collect(got.stream)).equals(Buffer.from(image))).toBe(true);
  });
});

describe('sizes beyond Number.MAX_SAFE_INTEGER', () => {
  it('refuses a Content-Length above 2^53 - 1 with BackendException, for get and getSize', async () => {
    const raw = await rawServer('HTTP/1.1 200 OK\r\nContent-Length: 9007199254740993');
    try {
      const s = await store();
      const err = await failure(s.get(`${raw.base}/huge`));
      expect(err.code).toBe('BackendException');
      expect(err.message).toMatch(/Content-Length 9007199254740993/);
      expect(await codeOf(s.getSize(`${raw.base}/huge`))).toBe('BackendException');
    } finally {
      raw.close();
    }
  });

  it('refuses a Content-Range beyond 2^53 - 1 with BackendException', async () => {
    const raw = await rawServer(
      'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 5-9007199254740999/9007199254741000\r\nContent-Length: 9007199254740995',
    );
    try {
      const s = await store();
      const err = await failure(s.get(`${raw.base}/huge`, { offset: 5 }));
      expect(err.code).toBe('BackendException');
    } finally {
      raw.close();
    }
  });
});
