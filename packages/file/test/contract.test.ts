import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MultiStore } from '@store/core';
import { describeDriverContract } from '@store/testkit';
import { expect } from 'vitest';
import fileDriver from '../src/index.js';
import { deadAdd } from './dead-add.js';

/** The suite removes every image it stored: the data directory ends as it began, empty. */
async function removeEmpty(dir: string): Promise<void> {
  const left = await readdir(dir);
  await rm(dir, { recursive: true, force: true });
  expect(left, `left in ${dir} after the contract suite`).toEqual([]);
}

let root: string;

describeDriverContract({
  name: 'file',
  setup: async () => {
    root = await mkdtemp(join(tmpdir(), 'store-file-contract-'));
    const store = await MultiStore.create(
      {
        enabledBackends: { local: 'file' },
        defaultBackend: 'local',
        backends: { local: { filesystem_store_datadir: root } },
      },
      { drivers: [fileDriver] },
    );
    // Every entry, temporary files included: a failed write must leave none.
    const dir = root;
    return {
      store,
      backend: 'local',
      listObjects: () => readdir(dir),
      makeOrphan: (imageId) => deadAdd(dir, imageId),
    };
  },
  teardown: () => removeEmpty(root),
});

describeDriverContract({
  name: 'file with thin provisioning and tiny chunks',
  setup: async () => {
    root = await mkdtemp(join(tmpdir(), 'store-file-thin-'));
    const store = await MultiStore.create(
      {
        enabledBackends: { thin: 'file' },
        backends: {
          thin: {
            filesystem_store_datadir: root,
            filesystem_thin_provisioning: 'true',
            filesystem_store_chunk_size: '4096',
          },
        },
      },
      { drivers: [fileDriver] },
    );
    const dir = root;
    return {
      store,
      backend: 'thin',
      listObjects: () => readdir(dir),
      makeOrphan: (imageId) => deadAdd(dir, imageId),
    };
  },
  teardown: () => removeEmpty(root),
});
