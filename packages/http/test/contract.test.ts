/**
 * The testkit's contract suite against real servers. The http store is
 * read-only, so images are seeded into the server's memory and read back by URL.
 */
import type { MultiStore } from '@store/core';
import { describeDriverContract } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  codeOf,
  type ForwardProxy,
  makePki,
  openStore,
  type Pki,
  type Running,
  type ServeOptions,
  serveBytes,
  startProxy,
  startServer,
} from './servers.js';

/** A web server holding seeded images at /images/<id>. */
async function imageServer(serve: ServeOptions, tls?: Pki) {
  const images = new Map<string, Uint8Array>();
  const server = await startServer((req, res) => {
    const data = images.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (!data) return void res.writeHead(404).end();
    serveBytes(req, res, data, serve);
  }, tls);
  const seed = async (imageId: string, data: Uint8Array) => {
    const path = `/images/${encodeURIComponent(imageId)}`;
    images.set(path, data);
    return `${server.base}${path}`;
  };
  // Where an image would be served if it had been seeded: the server answers 404.
  const missingLocation = (imageId: string) =>
    `${server.base}/images/${encodeURIComponent(imageId)}`;
  return { server, seed, missingLocation };
}

const running: Running[] = [];
let pki: Pki | undefined;
afterAll(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  pki?.cleanup();
});

describeDriverContract({
  name: 'http against a Node server honouring Range',
  setup: async () => {
    const { server, seed, missingLocation } = await imageServer({});
    running.push(server);
    return { store: await openStore(), backend: 'web', seed, missingLocation };
  },
});

describeDriverContract({
  name: 'http against a server that ignores Range',
  setup: async () => {
    const { server, seed, missingLocation } = await imageServer({ ranges: false });
    running.push(server);
    return { store: await openStore(), backend: 'web', seed, missingLocation };
  },
});

describeDriverContract({
  name: 'https through a CONNECT proxy, with a test CA',
  setup: async () => {
    pki = makePki();
    const { server, seed, missingLocation } = await imageServer({}, pki);
    const proxy: ForwardProxy = await startProxy();
    running.push(server, proxy);
    const store = await openStore({
      https_ca_certificates_file: pki.caFile,
      http_proxy_information: `https:127.0.0.1:${proxy.port}`,
    });
    return { store, backend: 'web', seed, missingLocation };
  },
});

// Read-side checks the shared suite runs only for writable backends.
describe('read-only contract additions', () => {
  let store: MultiStore;
  let seed: (imageId: string, data: Uint8Array) => Promise<string>;
  beforeAll(async () => {
    const made = await imageServer({});
    running.push(made.server);
    seed = made.seed;
    store = await openStore();
  });
  afterAll(() => store.close());

  it('raises NotFound for get and getSize of a missing image, with or without a backend', async () => {
    const present = await seed('present', new Uint8Array([1, 2, 3]));
    const missing = present.replace('present', 'absent');
    expect(await codeOf(store.get(missing, { backend: 'web' }))).toBe('NotFound');
    expect(await codeOf(store.get(missing))).toBe('NotFound');
    expect(await codeOf(store.getSize(missing, { backend: 'web' }))).toBe('NotFound');
    expect(await codeOf(store.delete(missing, { backend: 'web' }))).toBe('StoreDeleteNotSupported');
    expect(await store.getSize(present)).toBe(3);
  });
});
