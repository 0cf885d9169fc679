// Child process of the s3 row: one add or get through MultiStore and @store/s3,
// printing { seconds, bytes, checksum, multihash, location } as JSON. The backend
// options come as JSON in STORE_BENCH_S3_OPTIONS (not argv: they hold the keys).
//   node s3-worker.mjs add <source-file> <image-id>
//   node s3-worker.mjs get <location>          (reads and counts, as file-worker.mjs)
//   node s3-worker.mjs get-hashed <location>   (also md5 + sha512 of what it reads)
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createImageHasher, MultiStore } from '@store/core';
import s3Driver from '@store/s3';

const [op, target, imageId] = process.argv.slice(2);
const store = await MultiStore.create(
  {
    enabledBackends: { bench: 's3' },
    defaultBackend: 'bench',
    backends: { bench: JSON.parse(process.env.STORE_BENCH_S3_OPTIONS ?? '{}') },
  },
  { drivers: [s3Driver] },
);
const started = process.hrtime.bigint();
let result;
if (op === 'add') {
  const { size } = await stat(target);
  const added = await store.add(
    imageId,
    createReadStream(target, { highWaterMark: 1 << 20 }),
    size,
    { hashingAlgo: 'sha512' },
  );
  result = {
    bytes: added.size,
    checksum: added.checksum,
    multihash: added.multihash,
    location: added.location,
  };
} else if (op === 'get') {
  const { stream } = await store.get(target);
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.byteLength;
  result = { bytes };
} else {
  // The same md5 + sha512 as on the way in, in worker threads as add does.
  const hasher = createImageHasher('sha512', { parallel: true });
  const { stream } = await store.get(target);
  let bytes = 0;
  for await (const chunk of stream) {
    bytes += chunk.byteLength;
    await hasher.update(chunk);
  }
  const { checksum, multihash } = await hasher.digest();
  hasher.dispose();
  result = { bytes, checksum, multihash };
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await store.close();
console.log(JSON.stringify({ seconds, ...result }));
