import { MultiStore } from '@store/core';
import { describeDriverContract } from '@store/testkit';
import rbdDriver from '../src/index.js';
import { env, listImages, purgeImages, rbdConfig } from './ceph.js';

// The suite names its images contract-<uuid>.
const PREFIX = 'contract-';

describeDriverContract({
  name: 'rbd against the test Ceph cluster',
  skip: !env && 'ceph is not running',
  setup: async () => {
    await purgeImages(PREFIX);
    const store = await MultiStore.create(rbdConfig(), { drivers: [rbdDriver] });
    return { store, backend: 'ceph', listObjects: () => listImages(PREFIX) };
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
    return { store, backend: 'ceph', listObjects: () => listImages(PREFIX) };
  },
  teardown: () => purgeImages(PREFIX),
});
