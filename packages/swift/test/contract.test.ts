import { MultiStore } from '@store/core';
import { describeDriverContract } from '@store/testkit';
import swiftDriver from '../src/index.js';
import {
  dropContainer,
  env,
  listContainer,
  scratchContainer,
  swiftFetch,
  swiftOptions,
} from './radosgw.js';

/** What a segmented add leaves when its process dies before the manifest: two segments. */
async function segmentsOnly(container: string, imageId: string): Promise<string> {
  for (const n of ['00001', '00002']) {
    const answer = await swiftFetch(
      `/${encodeURIComponent(container)}/${encodeURIComponent(`${imageId}-${n}`)}`,
      { method: 'PUT', body: new Uint8Array(1024).fill(9) },
    );
    if (!answer.ok) throw new Error(`PUT of a segment answered ${answer.status}`);
  }
  return `${container}/${imageId}`;
}

/** One contract run against radosgw's Swift API, in a container of its own. */
function contract(name: string, extra: Record<string, string>, largeSize?: number): void {
  const container = scratchContainer('store-contract');
  describeDriverContract({
    name,
    skip: !env && 'radosgw is not running',
    ...(largeSize ? { largeSize } : {}),
    setup: async () => {
      const store = await MultiStore.create(
        {
          enabledBackends: { objects: 'swift' },
          defaultBackend: 'objects',
          backends: { objects: swiftOptions(container, extra) },
        },
        { drivers: [swiftDriver] },
      );
      // Objects, segments and manifests alike: a failed write must leave none.
      return {
        store,
        backend: 'objects',
        listObjects: () => listContainer(container),
        makeOrphan: (imageId: string) => segmentsOnly(container, imageId),
      };
    },
    teardown: () => dropContainer(container),
  });
}

// Defaults (segments from 5 GB): known sizes go in one streamed PUT, unknown sizes as segments.
contract('swift against radosgw, one object below the large-object size', {});
// Segments from 1 MB (1024 × 1000 bytes) in 1 MB segments: the large image spans four.
contract(
  'swift against radosgw, DLO segments from 1 MB in 1 MB segments',
  { swift_store_large_object_size: '1', swift_store_large_object_chunk_size: '1' },
  3 * 1024 * 1024 + 17,
);
