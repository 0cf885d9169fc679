import net, { type AddressInfo, type Socket } from 'node:net';
import type { MultiStore } from '@store/core';
import { collect, digest, patternBytes } from '@store/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  codeOf,
  type ForwardProxy,
  failure,
  makePki,
  openStore,
  type Pki,
  type Running,
  serveBytes,
  startProxy,
  startServer,
} from './servers.js';

const image = patternBytes(2_500_000, 9);
const sha = digest('sha256', image);
const stores: MultiStore[] = [];
let pki: Pki;
let secure: Running;
let plain: Running;
let proxy: ForwardProxy;

async function store(options: Record<string, unknown> = {}) {
  const s = await openStore({ http_max_retries: 0, ...options });
  stores.push(s);
  return s;
}

async function read(s: MultiStore, url: string, offset = 0): Promise<string> {
  return digest('sha256', await collect((await s.get(url, { offset })).stream));
}

beforeAll(async () => {
  pki = makePki();
  secure = await startServer((req, res) => serveBytes(req, res, image), pki);
  plain = await startServer((req, res) => serveBytes(req, res, image));
  proxy = await startProxy();
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  proxy.requireAuth = undefined;
});
afterAll(async () => {
  await Promise.all([secure?.close(), plain?.close(), proxy?.close()]);
  pki?.cleanup();
});

describe('HTTPS with a CA made for the test', () => {
  it('verifies the server against https_ca_certificates_file', async () => {
    const s = await store({ https_ca_certificates_file: pki.caFile });
    expect(await read(s, `${secure.base}/image`)).toBe(sha);
    expect(await s.getSize(`${secure.base}/image`)).toBe(image.byteLength);
    const part = await s.get(`${secure.base}/image`, { offset: 10, chunkSize: 10 });
    expect(Buffer.compare(await collect(part.stream), Buffer.from(image.subarray(10, 20)))).toBe(0);
  });

  it('verifies by default: an unknown CA is refused, not retried, with a clear error', async () => {
    const warnings: string[] = [];
    const s = await openStore(
      { http_max_retries: 3 },
      { debug() {}, info() {}, error() {}, warn: (m) => warnings.push(m) },
    );
    stores.push(s);
    const err = await failure(s.get(`${secure.base}/image`));
    expect(err.code).toBe('RemoteServiceUnavailable');
    expect(err.message).toMatch(/TLS verification/);
    expect(warnings.filter((w) => /retrying/.test(w))).toEqual([]);
    expect(await codeOf(s.getSize(`${secure.base}/image`))).toBe('RemoteServiceUnavailable');
  });

  it('refuses a server signed by another CA, even with https_insecure (the CA file wins)', async () => {
    const s = await store({ https_ca_certificates_file: pki.otherCaFile, https_insecure: true });
    expect((await failure(s.get(`${secure.base}/image`))).message).toMatch(/TLS verification/);
  });

  it('skips verification only when https_insecure is set and no CA file is', async () => {
    const s = await store({ https_insecure: 'true' });
    expect(await read(s, `${secure.base}/image`)).toBe(sha);
  });

  it('reads https through a CONNECT proxy, reusing the tunnel', async () => {
    const s = await store({
      https_ca_certificates_file: pki.caFile,
      http_proxy_information: `https:127.0.0.1:${proxy.port}`,
    });
    const before = proxy.seen.length;
    expect(await read(s, `${secure.base}/a`)).toBe(sha);
    expect(await read(s, `${secure.base}/b`, 1000)).toBe(digest('sha256', image.subarray(1000)));
    const connects = proxy.seen.slice(before);
    expect(connects.every((r) => r.method === 'CONNECT')).toBe(true);
    expect(connects[0]?.url).toBe(`127.0.0.1:${secure.port}`);
    expect(connects).toHaveLength(1);
    // Plain http is not proxied by an https-only entry.
    expect(await read(s, `${plain.base}/direct`)).toBe(sha);
    expect(proxy.seen.length).toBe(before + 1);
  });
});

describe('forward proxies', () => {
  it('sends http:// requests to a plain proxy in absolute form', async () => {
    const s = await store({ http_proxy_information: `http:http://127.0.0.1:${proxy.port}` });
    const before = proxy.seen.length;
    expect(await read(s, `${plain.base}/via-proxy`)).toBe(sha);
    expect(await s.getSize(`${plain.base}/via-proxy`)).toBe(image.byteLength);
    expect(proxy.seen[before]).toMatchObject({
      method: 'GET',
      url: `${plain.base}/via-proxy`,
    });
    expect(proxy.seen[before + 1]?.method).toBe('HEAD');
  });

  it('sends proxy credentials as Proxy-Authorization, and maps a 407 to Forbidden', async () => {
    proxy.requireAuth = `Basic ${Buffer.from('px:pw secret').toString('base64')}`;
    const withAuth = await store({
      https_ca_certificates_file: pki.caFile,
      http_proxy_information: `all:http://px:pw%20secret@127.0.0.1:${proxy.port}`,
    });
    expect(await read(withAuth, `${plain.base}/p`)).toBe(sha);
    expect(await read(withAuth, `${secure.base}/p`)).toBe(sha);
    const without = await store({
      https_ca_certificates_file: pki.caFile,
      http_proxy_information: `all:127.0.0.1:${proxy.port}`,
    });
    expect(await codeOf(without.get(`${plain.base}/p`))).toBe('Forbidden');
    const tunnel = await failure(without.get(`${secure.base}/p`));
    expect(tunnel.code).toBe('Forbidden');
    expect(tunnel.message).toMatch(/refused to open a tunnel .*407/);
  });

  it('shows the proxy with its credentials masked', async () => {
    const s = await store({ http_proxy_information: `https:http://px:hunter22@127.0.0.1:1` });
    const err = await failure(s.get(`${secure.base}/p`));
    expect(err.code).toBe('RemoteServiceUnavailable');
    expect(err.message).toContain('via proxy http://***:***@127.0.0.1:1');
    expect(`${err.message}${err.stack}`).not.toContain('hunter22');
  });

  it('times out a proxy that never answers CONNECT', async () => {
    const held: Socket[] = [];
    const mute = net.createServer((socket) => held.push(socket));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    try {
      const s = await store({
        http_connect_timeout: 0.2,
        http_proxy_information: `https:127.0.0.1:${(mute.address() as AddressInfo).port}`,
      });
      const err = await failure(s.get(`${secure.base}/p`));
      expect(err.code).toBe('RemoteServiceUnavailable');
      expect(err.message).toMatch(/timed out|in time/);
      // One connection to the proxy per try (http_max_retries 0), in each of the manager's 2 attempts.
      expect(held.length).toBe(2);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((r) => mute.close(r));
    }
  });
});
