import { MultiStore } from '@store/core';
import { describeDriverContract } from '@store/testkit';
import swiftDriver from '../src/index.js';
import { dropContainer, env, listContainer, scratchContainer, swiftOptions } from './radosgw.js';

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
      return { store, backend: 'objects', listObjects: () => listContainer(container) };
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
