/**
 * radosgw killed mid-way through a segmented upload and restarted. The test runs
 * a radosgw of its own on the shared cluster (testkit's PrivateRadosgw), so killing
 * it disturbs no one; the shared radosgw looks behind the driver's back.
 */
import { MultiStore, RemoteServiceUnavailable } from '@store/core';
import {
  addKillingServer,
  collect,
  digest,
  PrivateRadosgw,
  patternBytes,
  serviceEnv,
} from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import swiftDriver from '../src/index.js';
import { dropContainer, env, listContainer, scratchContainer, swiftOptions } from './radosgw.js';

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
      const { failure, failedAfterMs } = await addKillingServer(store, {
        imageId: 'victim',
        totalBytes: 40 * MiB,
        killAtBytes: 10 * MiB,
        kill: () => gw.stop('SIGKILL'),
      });
      console.info(`swift add failed ${failedAfterMs} ms after radosgw was killed: ${failure}`);
      expect(failure).toBeInstanceOf(RemoteServiceUnavailable);
      expect(failedAfterMs).toBeLessThan(60_000);

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
