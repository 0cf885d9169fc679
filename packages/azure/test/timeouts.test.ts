/**
 * azure_store_read_timeout and the retry options against Azurite behind
 * testkit's fault proxy, which stops forwarding (the one fault injected: Azurite
 * cannot fall silent on demand). The Azure SDK has no client-side timeout, so
 * without the driver's a silent endpoint holds every call for ever.
 */
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { MultiStore } from '@store/core';
import { collect, type FaultProxy, failure, patternBytes, startFaultProxy } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import azureDriver from '../src/index.js';
import { adminContainer, env, uniqueContainer } from './env.js';

describe.skipIf(!env)('a silent Azure endpoint', () => {
  const container = uniqueContainer('store-az-timeout');
  let proxy: FaultProxy;
  let store: MultiStore;

  beforeAll(async () => {
    const upstream = new URL(env!.STORE_TEST_AZURE_BLOB_ENDPOINT);
    proxy = await startFaultProxy(upstream);
    store = await MultiStore.create(
      {
        enabledBackends: { az: 'azure' },
        defaultBackend: 'az',
        backends: {
          az: {
            azure_store_account_url: `http://${proxy.address}${upstream.pathname}`,
            azure_store_account_key: env!.STORE_TEST_AZURE_KEY,
            azure_store_container: container,
            azure_store_create_container_on_put: true,
            azure_store_read_timeout: 0.5,
            azure_store_retries: 1,
            azure_store_retry_delay: 0.01,
            azure_store_max_retry_delay: 0.05,
            // The manager's own retries are tested elsewhere: one attempt here.
            store_retry_attempts: 1,
          },
        },
      },
      { drivers: [azureDriver] },
    );
  });
  afterAll(async () => {
    await store?.close();
    await proxy?.close();
    await adminContainer(container).deleteIfExists();
  });

  it('fails each call with RemoteServiceUnavailable after azure_store_retries + 1 silent tries, then recovers', async () => {
    const bytes = patternBytes(300 * 1024, 6);
    const { location } = await store.add('silent', bytes, bytes.length);

    proxy.stall(true);
    let before = proxy.stalled;
    const sizing = await failure(store.getSize(location));
    expect(sizing.code).toBe('RemoteServiceUnavailable');
    // Two tries (azure_store_retries = 1), each on a connection that fell silent.
    expect(proxy.stalled - before).toBe(2);

    before = proxy.stalled;
    const reading = await failure(store.get(location));
    expect(reading.code).toBe('RemoteServiceUnavailable');
    expect(proxy.stalled - before).toBe(2);

    const deleting = await failure(store.delete(location));
    expect(deleting.code).toBe('RemoteServiceUnavailable');

    proxy.stall(false);
    // The silent connections were dropped: new ones reach Azurite again.
    expect(await store.getSize(location)).toBe(bytes.length);
    const { stream } = await store.get(location);
    expect(Buffer.compare(await collect(stream), bytes)).toBe(0);
    await store.delete(location);
  });

  it('an add to a silent endpoint fails and commits nothing', async () => {
    const bytes = patternBytes(200 * 1024, 8);
    proxy.stall(true);
    const adding = await failure(store.add('silent-add', bytes, bytes.length));
    proxy.stall(false);
    expect(adding.code).toBe('RemoteServiceUnavailable');
    expect(await adminContainer(container).getBlobClient('silent-add').exists()).toBe(false);
  });
});

describe.skipIf(!env)('an Azure endpoint that never completes a connection', () => {
  // A socket that listens with a backlog of 0 and never accepts: once its accept
  // queue is full, the kernel drops further SYNs and connects to it hang.
  let listener: ReturnType<typeof spawn>;
  const fillers: Socket[] = [];
  beforeAll(() => {
    listener = spawn('python3', [
      '-c',
      "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()",
    ]);
  });
  afterAll(() => {
    for (const socket of fillers) socket.destroy();
    listener?.kill();
  });

  it('fails with RemoteServiceUnavailable after azure_store_connect_timeout, each try', async () => {
    const port = await new Promise<number>((resolve) =>
      listener.stdout!.once('data', (d) => resolve(Number(String(d).trim()))),
    );
    // Fill the accept queue and wait until the next connect really hangs.
    for (let i = 0; i < 3; i++)
      fillers.push(connect(port, '127.0.0.1').on('error', () => undefined));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const store = await MultiStore.create(
      {
        enabledBackends: { az: 'azure' },
        defaultBackend: 'az',
        backends: {
          az: {
            azure_store_account_url: `http://127.0.0.1:${port}/devstoreaccount1`,
            azure_store_account_key: env!.STORE_TEST_AZURE_KEY,
            azure_store_container: 'never-reached',
            azure_store_connect_timeout: 0.3,
            azure_store_retries: 1,
            azure_store_retry_delay: 0.01,
            store_retry_attempts: 1,
          },
        },
      },
      { drivers: [azureDriver] },
    );
    try {
      const err = await failure(
        store.getSize('azure://devstoreaccount1/never-reached/x', { backend: 'az' }),
      );
      expect(err.code).toBe('RemoteServiceUnavailable');
      expect(err.message).toMatch(/ETIMEDOUT/);
    } finally {
      await store.close();
    }
  });
});
