import { MultiStore } from '@store/core';
import { describeDriverContract } from '@store/testkit';
import rbdDriver from '../src/index.js';
import { env, listImages, purgeImages, rbd, rbdConfig } from './ceph.js';

// The suite names its images contract-<uuid>.
const PREFIX = 'contract-';
const MiB = 1024 * 1024;

/**
 * What an add leaves when its process dies after creating the image (and, with
 * `snapshot`, after creating its snapshot but before protecting it).
 */
async function partialImage(imageId: string, snapshot: boolean): Promise<string> {
  const spec = `${env!.STORE_TEST_RBD_POOL}/${imageId}`;
  await rbd('create', '--size', '1M', spec);
  if (snapshot) await rbd('snap', 'create', `${spec}@snap`);
  return imageId;
}

/** docs/operations.md: rbd_store_chunk_size × 5 (the object being filled and 4 aio writes in flight). */
function addBufferBound(store: MultiStore): number {
  return Number(store.backend('ceph').options.rbd_store_chunk_size) * MiB * 5;
}

describeDriverContract({
  name: 'rbd against the test Ceph cluster',
  skip: !env && 'ceph is not running',
  setup: async () => {
    await purgeImages(PREFIX);
    const store = await MultiStore.create(rbdConfig(), { drivers: [rbdDriver] });
    return {
      store,
      backend: 'ceph',
      addBufferBound: addBufferBound(store),
      listObjects: () => listImages(PREFIX),
      makeOrphan: (imageId) => partialImage(imageId, false),
    };
  },
  teardown: () => purgeImages(PREFIX),
});

describeDriverContract({
  name: 'rbd with thin provisioning and 1 MiB objects',
  skip: !env && 'ceph is not running',
  setup: async () => {
    await purgeImages(PREFIX);
    const store = await MultiStore.create(
      rbdConfig({ rbd_thin_provisioning: 'true', rbd_store_chunk_size: '1' }),
      { drivers: [rbdDriver] },
    );
    return {
      store,
      backend: 'ceph',
      addBufferBound: addBufferBound(store),
      listObjects: () => listImages(PREFIX),
      makeOrphan: (imageId) => partialImage(imageId, true),
    };
  },
  teardown: () => purgeImages(PREFIX),
});
