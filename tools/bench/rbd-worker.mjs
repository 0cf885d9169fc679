// Child process of the rbd row: one add, get or delete through MultiStore and
// @store/rbd, printing { seconds, bytes, checksum, multihash, location } as JSON.
// The backend options come as JSON in STORE_BENCH_RBD_OPTIONS.
//   node rbd-worker.mjs add <source-file> <image-id>
//   node rbd-worker.mjs get <location> [--hash]
//   node rbd-worker.mjs delete <location>
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createImageHasher, MultiStore } from '@store/core';
import rbdDriver from '@store/rbd';

const [op, target, extra] = process.argv.slice(2);
const store = await MultiStore.create(
  {
    enabledBackends: { bench: 'rbd' },
    defaultBackend: 'bench',
    backends: { bench: JSON.parse(process.env.STORE_BENCH_RBD_OPTIONS ?? '{}') },
  },
  { drivers: [rbdDriver] },
);
if (store.disabledBackends.length > 0) throw new Error(store.disabledBackends[0].reason);
const started = process.hrtime.bigint();
let result;
if (op === 'add') {
  const { size } = await stat(target);
  const added = await store.add(extra, createReadStream(target, { highWaterMark: 1 << 20 }), size, {
    hashingAlgo: 'sha512',
  });
  result = {
    bytes: added.size,
    checksum: added.checksum,
    multihash: added.multihash,
    location: added.location,
  };
} else if (op === 'get') {
  // With --hash: the same md5 + sha512 as on the way in, in worker threads as add does.
  const hasher = extra === '--hash' ? createImageHasher('sha512', { parallel: true }) : undefined;
  const { stream } = await store.get(target);
  let bytes = 0;
  for await (const chunk of stream) {
    bytes += chunk.byteLength;
    if (hasher) await hasher.update(chunk);
  }
  result = { bytes, ...(hasher ? await hasher.digest() : {}) };
  hasher?.dispose();
} else if (op === 'delete') {
  await store.delete(target);
  result = {};
} else throw new Error(`unknown op ${op}`);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await store.close();
console.log(JSON.stringify({ seconds, ...result }));
