/**
 * radosgw killed mid-way through a segmented upload and restarted. The test runs
 * a radosgw of its own on the shared cluster (testkit's PrivateRadosgw), so killing
 * it disturbs no one; the shared radosgw looks behind the driver's back.
 */
import { type Logger, MultiStore, RemoteServiceUnavailable } from '@store/core';
import {
  addKillingServer,
  collect,
  digest,
  PrivateRadosgw,
  patternBytes,
  serviceEnv,
  startFaultProxy,
} from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import swiftDriver from '../src/index.js';
import {
  adminSession,
  dropContainer,
  env,
  listContainer,
  scratchContainer,
  swiftOptions,
} from './radosgw.js';

const MiB = 1024 * 1024;
const ceph = serviceEnv('ceph (radosgw restart)', [
  'STORE_TEST_CEPH_CONF',
  'STORE_TEST_CEPH_KEYRING',
] as const);

describe.skipIf(!env || !ceph)(
  'swift: radosgw killed mid-way through a segmented upload and restarted',
  { timeout: 180_000 },
  () => {
    let gw: PrivateRadosgw;
    let store: MultiStore;
    const container = scratchContainer('store-swiftkill');

    beforeAll(async () => {
      gw = await PrivateRadosgw.create(ceph!.STORE_TEST_CEPH_CONF, ceph!.STORE_TEST_CEPH_KEYRING);
      await gw.start();
      store = await MultiStore.create(
        {
          enabledBackends: { objects: 'swift' },
          defaultBackend: 'objects',
          backends: {
            objects: swiftOptions(container, {
              swift_store_auth_address: `${gw.endpoint}/auth/1.0`,
              swift_store_large_object_size: '1',
              swift_store_large_object_chunk_size: '4',
            }),
          },
        },
        { drivers: [swiftDriver] },
      );
    }, 90_000);

    afterAll(async () => {
      await store?.close();
      await gw?.dispose();
      await dropContainer(container);
    }, 90_000);

    it('fails the add with RemoteServiceUnavailable; after the restart, adding the id again removes the orphan segments', async () => {
      const keeper = patternBytes(5 * MiB + 3, 4);
      const kept = await store.add('keeper', keeper, keeper.byteLength);

      // By 10 MiB two 4 MB segments are stored and the third is on its way.
      const { failure, failedAfterMs, requestsAfterKill } = await addKillingServer(store, {
        imageId: 'victim',
        totalBytes: 40 * MiB,
        killAtBytes: 10 * MiB,
        kill: () => gw.stop('SIGKILL'),
        port: gw.port,
      });
      console.info(
        `swift add failed ${failedAfterMs} ms and ${requestsAfterKill} requests after radosgw was killed: ${failure}`,
      );
      expect(failure).toBeInstanceOf(RemoteServiceUnavailable);
      // It gave up rather than hung, repeating nothing: at most the third segment's PUT
      // (segments 1 and 2 were stored before the kill) and one DELETE of each of the three.
      expect(requestsAfterKill).toBeGreaterThan(0);
      expect(requestsAfterKill).toBeLessThanOrEqual(1 + 3);

      await gw.start();
      // No manifest; the segments stored before the kill could not be removed (nothing answered).
      const left = (await listContainer(container)).filter((n) => n.startsWith('victim'));
      console.info(`objects left by the killed add: ${left.join(', ') || 'none'}`);
      expect(left).not.toContain('victim');
      // A new add of the id removes them first: the new image's DLO must not join them.
      const again = patternBytes(3 * MiB, 8);
      const readded = await store.add('victim', again, again.byteLength);
      expect(digest('sha256', await collect((await store.get(readded.location)).stream))).toBe(
        digest('sha256', again),
      );
      expect(digest('sha256', await collect((await store.get(kept.location)).stream))).toBe(
        digest('sha256', keeper),
      );
      await store.delete(readded.location);
      await store.delete(kept.location);
      expect(await listContainer(container)).toEqual([]);
    });
  },
);

describe.skipIf(!env)(
  'swift: reads broken off mid-body, resumed swift_store_retry_get_count times',
  { timeout: 120_000 },
  () => {
    const container = scratchContainer('store-swiftretry');
    const size = 3 * MiB + 5;
    const data = patternBytes(size, 6);
    let location: string;
    let storageUrl: URL;

    /** A backend whose storage requests go through a fault proxy in front of radosgw (auth goes direct). */
    async function throughProxy(retries: number, lines: string[]) {
      const proxy = await startFaultProxy({
        host: storageUrl.hostname,
        port: Number(storageUrl.port),
      });
      const logger: Logger = {
        debug: () => undefined,
        info: (m: string) => lines.push(m),
        warn: () => undefined,
        error: () => undefined,
      };
      const store = await MultiStore.create(
        {
          enabledBackends: { objects: 'swift' },
          defaultBackend: 'objects',
          backends: {
            objects: swiftOptions(container, {
              swift_store_endpoint: `http://${proxy.address}${storageUrl.pathname}`,
              swift_store_retry_get_count: String(retries),
            }),
          },
        },
        { drivers: [swiftDriver], logger },
      );
      return { proxy, store };
    }

    beforeAll(async () => {
      storageUrl = new URL((await adminSession()).storageUrl);
      const store = await MultiStore.create(
        {
          enabledBackends: { objects: 'swift' },
          defaultBackend: 'objects',
          backends: { objects: swiftOptions(container) },
        },
        { drivers: [swiftDriver] },
      );
      location = (await store.add('retried', data, size)).location;
      await store.close();
    });
    afterAll(async () => {
      await dropContainer(container);
    });

    it('resumes from the first byte not delivered, and the bytes are the image', async () => {
      const lines: string[] = [];
      const { proxy, store } = await throughProxy(2, lines);
      try {
        proxy.breakNextAnswers(2, 700_000);
        const read = await collect((await store.get(location)).stream);
        expect(proxy.breaks).toBe(2);
        expect(lines.filter((l) => l.startsWith('Retrying Swift read')).length).toBe(2);
        expect(read.byteLength).toBe(size);
        expect(digest('sha256', read)).toBe(digest('sha256', data));
      } finally {
        await store.close();
        await proxy.close();
      }
    });

    it('resumes an answer that broke before the stream was first read', async () => {
      const lines: string[] = [];
      const { proxy, store } = await throughProxy(1, lines);
      try {
        // Headers and some 600 bytes of body pass, then the connection is cut.
        proxy.breakNextAnswers(1, 1000);
        const { stream } = await store.get(location);
        while (proxy.breaks === 0) await new Promise((resolve) => setTimeout(resolve, 10));
        // Let the cut reach the client's socket while no one reads yet.
        await new Promise((resolve) => setTimeout(resolve, 200));
        const read = await collect(stream);
        expect(lines.filter((l) => l.startsWith('Retrying Swift read')).length).toBe(1);
        expect(read.byteLength).toBe(size);
        expect(digest('sha256', read)).toBe(digest('sha256', data));
      } finally {
        await store.close();
        await proxy.close();
      }
    });

    it('fails the stream with RemoteServiceUnavailable once the retries are spent (0 by default)', async () => {
      for (const retries of [0, 1]) {
        const lines: string[] = [];
        const { proxy, store } = await throughProxy(retries, lines);
        try {
          proxy.breakNextAnswers(retries + 1, 700_000);
          const result = await store.get(location);
          const failure = await collect(result.stream).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(failure).toBeInstanceOf(RemoteServiceUnavailable);
          expect(proxy.breaks).toBe(retries + 1);
          expect(lines.filter((l) => l.startsWith('Retrying Swift read')).length).toBe(retries);
        } finally {
          await store.close();
          await proxy.close();
        }
      }
    });
  },
);
