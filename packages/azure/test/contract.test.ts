import { MultiStore } from '@store/core';
import { describeDriverContract } from '@store/testkit';
import azureDriver from '../src/index.js';
import { adminContainer, committedBlobs, env, uniqueContainer } from './env.js';

const MiB = 1024 * 1024;

/** What an add leaves when its process dies mid-way: staged blocks, no commit. */
async function stageOnly(container: string, imageId: string): Promise<string> {
  const blob = adminContainer(container).getBlockBlobClient(imageId);
  const id = Buffer.from('0123456789abcdef01234567-000000').toString('base64');
  await blob.stageBlock(id, new Uint8Array(1024).fill(9), 1024);
  return imageId;
}

/** docs/operations.md: upload concurrency × block size + the 1 MiB chunk being copied. */
function addBufferBound(store: MultiStore, backend: string): number {
  const { options } = store.backend(backend);
  return (
    Number(options.azure_store_upload_concurrency) * Number(options.azure_store_block_size) * MiB +
    MiB
  );
}

// listObjects lists committed blobs: a failed upload's staged blocks are
// uncommitted, never readable, and discarded by the service, so the contract's
// "nothing left behind" means no blob under the test prefix.

const connectionContainer = uniqueContainer('store-contract');
describeDriverContract({
  name: 'azure against Azurite (connection string, one-request small images)',
  skip: !env && 'Azurite not running',
  setup: async () => {
    const store = await MultiStore.create(
      {
        enabledBackends: { blobs: 'azure' },
        defaultBackend: 'blobs',
        backends: {
          blobs: {
            azure_store_connection_string: env!.STORE_TEST_AZURE_CONNECTION_STRING,
            azure_store_container: connectionContainer,
            azure_store_create_container_on_put: true,
          },
        },
      },
      { drivers: [azureDriver] },
    );
    const admin = adminContainer(connectionContainer);
    return {
      store,
      backend: 'blobs',
      addBufferBound: addBufferBound(store, 'blobs'),
      listObjects: () => committedBlobs(admin, 'contract-'),
      makeOrphan: (imageId: string) => stageOnly(connectionContainer, imageId),
    };
  },
  teardown: async () => {
    await adminContainer(connectionContainer).deleteIfExists();
  },
});

const blockContainer = uniqueContainer('store-contract-blocks');
describeDriverContract({
  name: 'azure against Azurite (account URL and key, 1 MiB blocks, 2 in flight)',
  skip: !env && 'Azurite not running',
  setup: async () => {
    const store = await MultiStore.create(
      {
        enabledBackends: { blocks: 'azure' },
        backends: {
          blocks: {
            azure_store_account_url: env!.STORE_TEST_AZURE_BLOB_ENDPOINT,
            azure_store_account_key: env!.STORE_TEST_AZURE_KEY,
            azure_store_container: blockContainer,
            azure_store_create_container_on_put: 'true',
            azure_store_block_size: '1',
            azure_store_upload_concurrency: '2',
          },
        },
      },
      { drivers: [azureDriver] },
    );
    const admin = adminContainer(blockContainer);
    return {
      store,
      backend: 'blocks',
      addBufferBound: addBufferBound(store, 'blocks'),
      listObjects: () => committedBlobs(admin, 'contract-'),
      makeOrphan: (imageId: string) => stageOnly(blockContainer, imageId),
    };
  },
  teardown: async () => {
    await adminContainer(blockContainer).deleteIfExists();
  },
});
