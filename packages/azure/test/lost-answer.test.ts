/**
 * Commits whose answer never arrives. Azurite cannot lose an answer on demand, so
 * a small forwarding proxy in front of it (the only test double here) lets the
 * commit reach Azurite and then drops or holds the response.
 */
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MultiStore } from '@store/core';
import { collect, digest, patternBytes } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import azureDriver from '../src/index.js';
import { adminContainer, committedBlobs, env, uniqueContainer } from './env.js';

/** What to do with the answer to the next commit (Put Block List) going through the proxy. */
type OnCommitAnswer = (answer: IncomingMessage, drop: () => void, pass: () => void) => void;

describe.skipIf(!env)('commits whose answer is lost', () => {
  let proxy: Server;
  let proxyUrl: string;
  let onCommit: OnCommitAnswer | undefined;
  let commitsIntercepted = 0;
  const container = uniqueContainer('store-az-lost');
  const stores: MultiStore[] = [];

  beforeAll(async () => {
    const upstream = new URL(env!.STORE_TEST_AZURE_BLOB_ENDPOINT);
    proxy = createServer((req, res) => {
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          const pass = () => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          };
          const drop = () => {
            answer.resume();
            req.socket.destroy();
          };
          const hook =
            req.method === 'PUT' && req.url?.includes('comp=blocklist') ? onCommit : undefined;
          if (hook) {
            onCommit = undefined;
            commitsIntercepted++;
            hook(answer, drop, pass);
          } else pass();
        },
      );
      forward.on('error', () => req.socket.destroy());
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.address() as AddressInfo;
    proxyUrl = `http://127.0.0.1:${port}${upstream.pathname}`;
  });

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    proxy?.closeAllConnections();
    await new Promise((resolve) => proxy?.close(resolve));
    await adminContainer(container).deleteIfExists();
  });

  async function open(retries: number) {
    const store = await MultiStore.create(
      {
        enabledBackends: { az: 'azure' },
        defaultBackend: 'az',
        backends: {
          az: {
            azure_store_account_url: proxyUrl,
            azure_store_account_key: env!.STORE_TEST_AZURE_KEY,
            azure_store_container: container,
            azure_store_create_container_on_put: true,
            azure_store_retries: retries,
          },
        },
      },
      { drivers: [azureDriver] },
    );
    stores.push(store);
    return store;
  }

  it('recognises its own commit when the retry finds the blob there', async () => {
    const store = await open(2);
    const data = patternBytes(5000, 40);
    // The first commit lands but its answer is lost; the SDK retries and gets 409.
    onCommit = (_answer, drop) => drop();
    const added = await store.add('retried', data, data.byteLength);
    expect(commitsIntercepted).toBe(1);
    expect(added.size).toBe(5000);
    const read = await collect((await store.get(added.location)).stream);
    expect(digest('md5', read)).toBe(digest('md5', data));
  });

  it('recognises its own commit when no answer arrives at all', async () => {
    const store = await open(0);
    const data = patternBytes(6000, 41);
    onCommit = (_answer, drop) => drop();
    const added = await store.add('unanswered', data, data.byteLength);
    expect(commitsIntercepted).toBe(2);
    expect(await store.getSize(added.location)).toBe(6000);
  });

  it('removes a blob committed by an upload aborted while awaiting the answer', async () => {
    const store = await open(2);
    const controller = new AbortController();
    // The commit lands; the caller aborts before the answer is passed on.
    onCommit = (_answer, _drop, pass) => {
      controller.abort();
      setTimeout(pass, 50);
    };
    const err = await store
      .add('aborted-commit', patternBytes(7000, 42), 7000, { signal: controller.signal })
      .then(
        () => undefined,
        (e: { code: string }) => e,
      );
    expect(commitsIntercepted).toBe(3);
    expect(err?.code).toBe('OperationAborted');
    const admin = adminContainer(container);
    expect(await admin.getBlockBlobClient('aborted-commit').exists()).toBe(false);
    expect(await committedBlobs(admin)).not.toContain('aborted-commit');
  });

  it('still reports a real duplicate as Duplicate', async () => {
    const store = await open(2);
    await store.add('taken', patternBytes(10, 43), 10);
    const admin = adminContainer(container);
    const before = (await admin.getBlockBlobClient('taken').getProperties()).etag;
    const err = await store.add('taken', patternBytes(20, 44), 20).then(
      () => undefined,
      (e: { code: string }) => e,
    );
    expect(err?.code).toBe('Duplicate');
    expect((await admin.getBlockBlobClient('taken').getProperties()).etag).toBe(before);
  });
});
