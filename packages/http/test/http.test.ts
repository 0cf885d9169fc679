import type { IncomingMessage, ServerResponse } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import type { LogFields, MultiStore } from '@store/core';
import { collect, countRequests, digest, patternBytes } from '@store/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, failure, openStore, type Running, serveBytes, startServer } from './servers.js';

const image = patternBytes(1_000_003, 42);
const stores: MultiStore[] = [];
const servers: Running[] = [];

async function store(
  options: Record<string, unknown> = {},
  logger?: Parameters<typeof openStore>[1],
) {
  const s = await openStore({ http_max_retries: 0, ...options }, logger);
  stores.push(s);
  return s;
}

async function server(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const s = await startServer(handler);
  servers.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

describe('reading from a plain HTTP server', () => {
  let web: Running;
  beforeAll(async () => {
    web = await startServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/image') return serveBytes(req, res, image);
      if (url.pathname === '/no-ranges') return serveBytes(req, res, image, { ranges: false });
      if (url.pathname === '/chunked') return serveBytes(req, res, image, { length: false });
      if (url.pathname === '/empty') return serveBytes(req, res, new Uint8Array(0));
      res.writeHead(404).end('no such image');
    });
  });
  afterAll(() => web.close());

  it('streams the whole image and sizes it from HEAD', async () => {
    const s = await store();
    const got = await s.get(`${web.base}/image`);
    expect(got.size).toBe(image.byteLength);
    expect(digest('sha256', await collect(got.stream))).toBe(digest('sha256', image));
    expect(await s.getSize(`${web.base}/image`)).toBe(image.byteLength);
    expect(web.seen.at(-1)?.method).toBe('HEAD');
    expect(await s.getSize(`${web.base}/empty`)).toBe(0);
  });

  it('reads offsets and chunks with Range requests', async () => {
    const s = await store();
    const cases: [number, number | undefined][] = [
      [0, 10],
      [1, undefined],
      [500_000, 1234],
      [image.byteLength - 5, 100],
      [999_999, undefined],
    ];
    for (const [offset, chunkSize] of cases) {
      const got = await s.get(`${web.base}/image`, {
        offset,
        ...(chunkSize !== undefined ? { chunkSize } : {}),
      });
      const want = image.subarray(offset, chunkSize === undefined ? undefined : offset + chunkSize);
      expect(got.size).toBe(want.byteLength);
      expect(same(await collect(got.stream), want)).toBe(true);
      expect(web.seen.at(-1)?.headers.range).toBe(
        `bytes=${offset}-${chunkSize === undefined ? '' : offset + chunkSize - 1}`,
      );
    }
  });

  it('returns an empty read for an offset at or past the end (416)', async () => {
    const s = await store();
    for (const offset of [image.byteLength, image.byteLength + 10]) {
      const got = await s.get(`${web.base}/image`, { offset });
      expect(got.size).toBe(0);
      expect((await collect(got.stream)).byteLength).toBe(0);
    }
    const none = await s.get(`${web.base}/image`, { chunkSize: 0 });
    expect((await collect(none.stream)).byteLength).toBe(0);
    expect(await codeOf(s.get(`${web.base}/missing`, { chunkSize: 0 }))).toBe('NotFound');
  });

  it('never returns wrong bytes from a server that ignores Range: it skips to the offset', async () => {
    const warnings: string[] = [];
    const s = await store({}, { ...silent, warn: (m) => warnings.push(m) });
    for (const [offset, chunkSize] of [
      [0, 100],
      [77, undefined],
      [600_000, 65_536],
      [image.byteLength - 1, 10],
      [image.byteLength + 3, undefined],
    ] as [number, number | undefined][]) {
      const got = await s.get(`${web.base}/no-ranges`, {
        offset,
        ...(chunkSize !== undefined ? { chunkSize } : {}),
      });
      const want = image.subarray(offset, chunkSize === undefined ? undefined : offset + chunkSize);
      expect(got.size).toBe(want.byteLength);
      expect(same(await collect(got.stream), want)).toBe(true);
    }
    expect(warnings.some((w) => /ignored the Range/.test(w))).toBe(true);
  });

  it('serves a body without Content-Length whole, with size 0 as glance_store reports it', async () => {
    const s = await store();
    const got = await s.get(`${web.base}/chunked`);
    expect(got.size).toBe(0);
    expect(same(await collect(got.stream), image)).toBe(true);
    expect(await s.getSize(`${web.base}/chunked`)).toBe(0);
    const part = await s.get(`${web.base}/chunked`, { offset: 10, chunkSize: 20 });
    expect(same(await collect(part.stream), image.subarray(10, 30))).toBe(true);
  });

  it('refuses add and delete: the store is read-only', async () => {
    const s = await store();
    expect(await codeOf(s.add('x', new Uint8Array(3), 3))).toBe('StoreAddDisabled');
    expect(await codeOf(s.delete(`${web.base}/image`))).toBe('StoreDeleteNotSupported');
    expect(s.backend('web').capabilities).toBe(71);
  });

  it('maps 404 and 410 to NotFound', async () => {
    const s = await store();
    expect(await codeOf(s.get(`${web.base}/missing`))).toBe('NotFound');
    expect(await codeOf(s.getSize(`${web.base}/missing`))).toBe('NotFound');
    const gone = await server((_req, res) => res.writeHead(410).end());
    expect(await codeOf(s.get(`${gone.base}/x`))).toBe('NotFound');
  });

  it('applies backpressure: an unread stream does not pull the whole image', async () => {
    const total = 256 << 20;
    let sent = 0;
    const big = await server((_req, res) => {
      res.writeHead(200, { 'content-length': total });
      const block = Buffer.alloc(1 << 20, 7);
      const pump = () => {
        while (sent < total) {
          sent += block.byteLength;
          if (!res.write(block)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const s = await store();
    const got = await s.get(`${big.base}/big`);
    const reader = got.stream[Symbol.asyncIterator]();
    await reader.next();
    await new Promise((r) => setTimeout(r, 400));
    // Socket buffers on both sides, not 256 MiB.
    expect(sent).toBeLessThan(32 << 20);
    got.stream.destroy();
  });
});

const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe('redirects', () => {
  let web: Running;
  beforeAll(async () => {
    web = await startServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const hop = /^\/hop\/(\d+)$/.exec(url.pathname);
      if (hop) {
        const left = Number(hop[1]);
        const status = [301, 302, 303, 307, 308][left % 5]!;
        if (left === 0) return serveBytes(req, res, image);
        // Alternate absolute and relative Location headers.
        const next = `/hop/${left - 1}`;
        return void res
          .writeHead(status, { location: left % 2 ? next : `http://127.0.0.1:${web.port}${next}` })
          .end();
      }
      if (url.pathname === '/loop-a') return void res.writeHead(302, { location: '/loop-b' }).end();
      if (url.pathname === '/loop-b') return void res.writeHead(302, { location: '/loop-a' }).end();
      if (url.pathname === '/self') return void res.writeHead(301, { location: '/self' }).end();
      if (url.pathname === '/no-location') return void res.writeHead(302).end();
      if (url.pathname === '/ftp') return void res.writeHead(302, { location: 'ftp://x/y' }).end();
      if (url.pathname === '/300') return void res.writeHead(300).end();
      res.writeHead(404).end();
    });
  });
  afterAll(() => web.close());

  it("follows up to 4 redirects (glance_store's limit of 5) for get and getSize", async () => {
    const s = await store();
    for (const hops of [1, 2, 3, 4]) {
      const got = await s.get(`${web.base}/hop/${hops}`);
      expect(same(await collect(got.stream), image)).toBe(true);
      expect(await s.getSize(`${web.base}/hop/${hops}`)).toBe(image.byteLength);
    }
    const part = await s.get(`${web.base}/hop/3`, { offset: 5, chunkSize: 5 });
    expect(same(await collect(part.stream), image.subarray(5, 10))).toBe(true);
  });

  it('fails a chain of 5 redirects with MaxRedirectsExceeded naming the chain length', async () => {
    const s = await store();
    // Each call starts once the one before has failed: a rejection nobody awaits yet is unhandled.
    for (const call of [() => s.get(`${web.base}/hop/5`), () => s.getSize(`${web.base}/hop/9`)]) {
      const err = await failure(call());
      expect(err.code).toBe('MaxRedirectsExceeded');
      expect(err.message).toMatch(/chain of 5 redirects/);
      expect(err.message).toContain(`${web.base}/hop/5`);
    }
  });

  it('fails a redirect loop with MaxRedirectsExceeded', async () => {
    const s = await store();
    const loop = await failure(s.get(`${web.base}/loop-a`));
    expect(loop.code).toBe('MaxRedirectsExceeded');
    expect(loop.message).toMatch(/loop \(chain of 2 redirects\)/);
    expect((await failure(s.get(`${web.base}/self`))).message).toMatch(/chain of 1 redirect/);
  });

  it('refuses redirects it cannot follow with BadStoreUri', async () => {
    const s = await store();
    for (const path of ['/no-location', '/ftp', '/300'])
      expect(await codeOf(s.get(`${web.base}${path}`))).toBe('BadStoreUri');
  });
});

describe('status and connection failures', () => {
  it('maps 401/403 to Forbidden and other 4xx to BadStoreUri', async () => {
    const web = await server((req, res) => {
      res.writeHead(Number(req.url?.slice(1))).end('nope');
    });
    const s = await store();
    expect(await codeOf(s.get(`${web.base}/401`))).toBe('Forbidden');
    expect(await codeOf(s.get(`${web.base}/403`))).toBe('Forbidden');
    expect(await codeOf(s.getSize(`${web.base}/403`))).toBe('Forbidden');
    expect(await codeOf(s.get(`${web.base}/400`))).toBe('BadStoreUri');
    expect(await codeOf(s.get(`${web.base}/405`))).toBe('BadStoreUri');
  });

  it('retries 5xx a bounded number of times, then raises RemoteServiceUnavailable', async () => {
    const web = await server((_req, res) => res.writeHead(503).end());
    const warnings: string[] = [];
    // The driver's own retries only: the manager's (store_retry_attempts) would repeat them all.
    const s = await store(
      { http_max_retries: 2, store_retry_attempts: 1 },
      { ...silent, warn: (m) => warnings.push(m) },
    );
    const err = await failure(s.get(`${web.base}/x`));
    expect(err.code).toBe('RemoteServiceUnavailable');
    expect(err.message).toMatch(/503/);
    expect(web.seen).toHaveLength(3);
    expect(warnings.filter((w) => /retrying/.test(w))).toHaveLength(2);
  });

  it('succeeds when a transient failure passes within the retries', async () => {
    let calls = 0;
    const web = await server((req, res) => {
      calls += 1;
      if (calls === 1) return void res.writeHead(500).end();
      if (calls === 2) return void req.socket.destroy();
      serveBytes(req, res, image);
    });
    const s = await store({ http_max_retries: 2 });
    expect(same(await collect((await s.get(`${web.base}/x`)).stream), image)).toBe(true);
    expect(calls).toBe(3);
  });

  it('raises RemoteServiceUnavailable when nothing listens, after retrying', async () => {
    const web = await server(() => {});
    const url = `${web.base}/x`;
    await web.close();
    servers.pop();
    const s = await store({ http_max_retries: 1 });
    const requests = countRequests({ port: Number(new URL(url).port) });
    try {
      expect(await codeOf(s.get(url))).toBe('RemoteServiceUnavailable');
      // http_max_retries + 1 = 2 tries, in each of the manager's store_retry_attempts (2).
      expect(requests.count).toBe(2 * 2);
      expect(await codeOf(s.getSize(url))).toBe('RemoteServiceUnavailable');
      expect(requests.count).toBe(2 * 2 * 2);
    } finally {
      requests.close();
    }
  });

  it('fails the reader, never with a short image, when the connection drops mid-body', async () => {
    const web = await server((req, res) =>
      serveBytes(req, res, image, {
        dropAfter: 300_000,
        length: !req.url?.includes('chunked'),
      }),
    );
    const s = await store({ http_max_retries: 3 });
    for (const path of ['/with-length', '/chunked']) {
      const got = await s.get(`${web.base}${path}`);
      let bytes = 0;
      const err = await failure(
        (async () => {
          for await (const chunk of got.stream) bytes += chunk.byteLength;
        })(),
      );
      expect(err.code).toBe('RemoteServiceUnavailable');
      expect(bytes).toBeLessThan(image.byteLength);
    }
    // Also when the dropped part lies beyond a skipped prefix.
    const part = await s.get(`${web.base}/with-length`, { offset: 100, chunkSize: 500_000 });
    expect(await codeOf(collect(part.stream))).toBe('RemoteServiceUnavailable');
  });

  it('refuses partial answers that do not hold the bytes asked for', async () => {
    const web = await server((req, res) => {
      if (req.url === '/short') {
        // Promises 100 bytes, sends 10 and ends cleanly (chunked).
        res.writeHead(206, { 'content-range': `bytes 5-104/${image.byteLength}` });
        res.write(image.subarray(5, 15));
        return void res.end();
      }
      res.writeHead(206, { 'content-range': `bytes 0-99/${image.byteLength}` });
      res.end(image.subarray(0, 100));
    });
    const s = await store();
    const short = await s.get(`${web.base}/short`, { offset: 5, chunkSize: 100 });
    expect(short.size).toBe(100);
    expect(await codeOf(collect(short.stream))).toBe('RemoteServiceUnavailable');
    const wrong = await failure(s.get(`${web.base}/wrong`, { offset: 5, chunkSize: 100 }));
    expect(wrong.code).toBe('BackendException');
    expect(wrong.message).toMatch(/not the bytes asked for/);
  });

  it('times out a server that does not answer, and one that stalls mid-body', async () => {
    const web = await server((req, res) => {
      if (req.url === '/silent') return;
      res.writeHead(200, { 'content-length': 1000 });
      res.write(Buffer.alloc(10));
    });
    const s = await store({ http_read_timeout: 0.2 });
    const silentErr = await failure(s.get(`${web.base}/silent`));
    expect(silentErr.code).toBe('RemoteServiceUnavailable');
    expect(silentErr.message).toMatch(/timed out after 0.2 s/);
    const got = await s.get(`${web.base}/stall`);
    const stalled = await failure(collect(got.stream));
    expect(stalled.code).toBe('RemoteServiceUnavailable');
    expect(stalled.message).toMatch(/timed out/);
  });

  it('times out a connection that does not open (a TLS handshake that never completes)', async () => {
    const held: Socket[] = [];
    const mute = net.createServer((socket) => held.push(socket));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    const port = (mute.address() as AddressInfo).port;
    try {
      const s = await store({ http_connect_timeout: 0.2 });
      const err = await failure(s.get(`https://127.0.0.1:${port}/x`));
      expect(err.code).toBe('RemoteServiceUnavailable');
      expect(err.message).toMatch(/Connecting to .* timed out after 0.2 s/);
      // One connection per try (http_max_retries 0), in each of the manager's 2 attempts.
      expect(held.length).toBe(2);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((r) => mute.close(r));
    }
  });

  it('aborts a read in progress with OperationAborted', async () => {
    const web = await server((req, res) => serveBytes(req, res, patternBytes(8 << 20, 1)));
    const s = await store();
    const controller = new AbortController();
    const got = await s.get(`${web.base}/x`, { signal: controller.signal });
    const err = await failure(
      (async () => {
        for await (const _ of got.stream) controller.abort();
      })(),
    );
    expect(err.code).toBe('OperationAborted');
    const before = new AbortController();
    before.abort();
    expect(await codeOf(s.get(`${web.base}/x`, { signal: before.signal }))).toBe(
      'OperationAborted',
    );
  });
});

describe('credentials in the URL', () => {
  const user = 'glance';
  const password = 'p@ss:w0rd-secret';
  const encoded = encodeURIComponent(password);
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  it('are sent as basic auth, decoded, and kept only within the origin on redirect', async () => {
    const other = await server((req, res) => {
      if (req.headers.authorization) return void res.writeHead(400).end('leaked');
      serveBytes(req, res, image);
    });
    const web = await server((req, res) => {
      if (req.headers.authorization !== expected) return void res.writeHead(401).end();
      if (req.url === '/moved') return void res.writeHead(302, { location: '/image' }).end();
      if (req.url === '/away')
        return void res.writeHead(302, { location: `${other.base}/i` }).end();
      serveBytes(req, res, image);
    });
    const s = await store();
    const base = `http://${user}:${encoded}@127.0.0.1:${web.port}`;
    expect(same(await collect((await s.get(`${base}/image`)).stream), image)).toBe(true);
    expect(await s.getSize(`${base}/moved`)).toBe(image.byteLength);
    expect(same(await collect((await s.get(`${base}/away`)).stream), image)).toBe(true);
    expect(other.seen[0]?.headers.authorization).toBeUndefined();
    expect(await codeOf(s.get(`http://${user}:wrong@127.0.0.1:${web.port}/image`))).toBe(
      'Forbidden',
    );
  });

  it('are masked in errors, their causes and logs', async () => {
    const web = await server((req, res) => {
      if (req.url === '/busy') return void res.writeHead(503).end();
      if (req.url === '/redirect') return void res.writeHead(302, { location: '/redirect' }).end();
      res.writeHead(403).end();
    });
    const lines: string[] = [];
    const record = (m: string, f?: LogFields) => lines.push(`${m} ${JSON.stringify(f ?? {})}`);
    const s = await store(
      { http_max_retries: 1 },
      { debug: record, info: record, warn: record, error: record },
    );
    const base = `http://${user}:${encoded}@127.0.0.1:${web.port}`;
    const dead = await server(() => {});
    const deadUrl = `http://${user}:${encoded}@127.0.0.1:${dead.port}/x`;
    await dead.close();
    servers.pop();
    const errors = [
      await failure(s.get(`${base}/denied`)),
      await failure(s.get(`${base}/busy`)),
      await failure(s.getSize(`${base}/redirect`)),
      await failure(s.get(deadUrl)),
      await failure(s.get(`http://${user}:${encoded}@127.0.0.1:99999/x`)),
    ];
    const texts: string[] = [...lines];
    for (const err of errors) {
      let e: unknown = err;
      while (e instanceof Error) {
        texts.push(e.message, e.stack ?? '');
        e = e.cause;
      }
    }
    expect(lines.length).toBeGreaterThan(0);
    expect(errors.map((e) => e.code)).toEqual([
      'Forbidden',
      'RemoteServiceUnavailable',
      'MaxRedirectsExceeded',
      'RemoteServiceUnavailable',
      'BadStoreUri',
    ]);
    for (const text of texts) {
      expect(text).not.toContain(encoded);
      expect(text).not.toContain(password);
      expect(text).not.toContain(expected.slice(6));
    }
    expect(errors[0]!.message).toContain(`http://***:***@127.0.0.1:${web.port}/denied`);
  });
});

describe('configuration', () => {
  it('an unreadable CA file fails https reads only, naming the file; http still reads', async () => {
    const warnings: string[] = [];
    const s = await store(
      { https_ca_certificates_file: '/nonexistent/ca.pem' },
      {
        debug: () => {},
        info: () => {},
        error: () => {},
        warn: (message: string) => warnings.push(message),
      },
    );
    expect(warnings.join('\n')).toContain(
      "option 'https_ca_certificates_file' /nonexistent/ca.pem cannot be used",
    );
    const web = await server((req, res) => serveBytes(req, res, image));
    expect(await s.getSize(`http://127.0.0.1:${web.port}/img`)).toBe(image.byteLength);
    await expect(s.getSize(`https://127.0.0.1:${web.port}/img`)).rejects.toMatchObject({
      code: 'BadStoreConfiguration',
      message: expect.stringContaining('/nonexistent/ca.pem cannot be used'),
    });
  });

  it('refuses bad proxy entries and bounds with BadStoreConfiguration', async () => {
    for (const proxy of ['ftp:127.0.0.1:3128', 'https:socks5://127.0.0.1:1080', 'http:host:port']) {
      expect(await codeOf(openStore({ http_proxy_information: proxy }))).toBe(
        'BadStoreConfiguration',
      );
    }
    expect(await codeOf(openStore({ http_read_timeout: 0 }))).toBe('BadStoreConfiguration');
  });
});
