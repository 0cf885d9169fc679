import { CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { MultiStore } from '@store/core';
import { describeDriverContract } from '@store/testkit';
import s3Driver from '../src/index.js';
import {
  adminClient,
  dropBucket,
  env,
  listEverything,
  s3Options,
  scratchBucket,
} from './radosgw.js';

const admin = env ? adminClient() : undefined;
const MiB = 1024 * 1024;

/** One contract run against radosgw, in a bucket of its own. */
function contract(name: string, extra: Record<string, string>, largeSize?: number): void {
  const bucket = scratchBucket('store-contract');
  describeDriverContract({
    name,
    skip: !env && 'radosgw is not running',
    ...(largeSize ? { largeSize } : {}),
    setup: async () => {
      const store = await MultiStore.create(
        {
          enabledBackends: { objects: 's3' },
          defaultBackend: 'objects',
          backends: { objects: s3Options(bucket, extra) },
        },
        { drivers: [s3Driver] },
      );
      const { options } = store.backend('objects');
      // Objects and unfinished multipart uploads: a failed write must leave neither.
      return {
        store,
        backend: 'objects',
        // docs/operations.md: thread pools × part size + the 1 MiB chunk being copied.
        addBufferBound:
          Number(options.s3_store_thread_pools) *
            Number(options.s3_store_large_object_chunk_size) *
            MiB +
          MiB,
        listObjects: () => listEverything(admin!, bucket),
        // What an add leaves when its process dies mid-way: an upload with a part, never completed.
        makeOrphan: async (imageId) => {
          const { UploadId } = await admin!.send(
            new CreateMultipartUploadCommand({ Bucket: bucket, Key: imageId }),
          );
          await admin!.send(
            new UploadPartCommand({
              Bucket: bucket,
              Key: imageId,
              UploadId,
              PartNumber: 1,
              Body: new Uint8Array(1024).fill(9),
            }),
          );
          return UploadId!;
        },
      };
    },
    teardown: () => dropBucket(admin!, bucket),
  });
}

// Defaults (100 MiB threshold): known sizes go in one streamed PUT, unknown sizes multipart.
contract('s3 against radosgw, single PUT below the threshold', {});
// Threshold 1 MiB, 5 MiB parts, 3 in flight: the large image spans three parts.
contract(
  's3 against radosgw, multipart from 1 MiB in 5 MiB parts',
  {
    s3_store_large_object_size: '1',
    s3_store_large_object_chunk_size: '5',
    s3_store_thread_pools: '3',
  },
  11 * 1024 * 1024 + 17,
);
