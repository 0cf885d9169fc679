// Child process of the file row: one add or get through MultiStore, printing
// { seconds, bytes, checksum, multihash } as JSON.
//   node file-worker.mjs add <datadir> <source-file> <image-id>
//   node file-worker.mjs get <datadir> <location>
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { MultiStore } from '@store/core';
import fileDriver from '@store/file';

const [op, datadir, target, imageId] = process.argv.slice(2);
const store = await MultiStore.create(
  {
    enabledBackends: { bench: 'file' },
    defaultBackend: 'bench',
    backends: { bench: { filesystem_store_datadir: datadir } },
  },
  { drivers: [fileDriver] },
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
} else {
  const { stream } = await store.get(target);
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.byteLength;
  result = { bytes };
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await store.close();
console.log(JSON.stringify({ seconds, ...result }));
