// Child process of the peer row: one add or get through MultiStore configured from an
// INI file (the same file glance_store reads), drivers found by discovery. Prints
// { seconds, bytes, checksum?, multihash?, location? } as JSON.
//   node store-worker.mjs add <config> <backend> <source-file> <image-id>
//   node store-worker.mjs get <config> <backend> <location>
//   node store-worker.mjs delete <config> <backend> <location>
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, MultiStore } from '@store/core';

const [op, configPath, backend, target, imageId] = process.argv.slice(2);
const store = await MultiStore.create(await loadConfig(configPath), {
  discovery: { paths: [dirname(fileURLToPath(import.meta.url))] },
});
const started = process.hrtime.bigint();
let result;
try {
  if (op === 'add') {
    const { size } = await stat(target);
    const added = await store.add(
      imageId,
      createReadStream(target, { highWaterMark: 1 << 20 }),
      size,
      { backend, hashingAlgo: 'sha512' },
    );
    result = {
      bytes: added.size,
      checksum: added.checksum,
      multihash: added.multihash,
      location: added.location,
    };
  } else if (op === 'get') {
    const { stream } = await store.get(target, { backend });
    let bytes = 0;
    for await (const chunk of stream) bytes += chunk.byteLength;
    result = { bytes };
  } else if (op === 'delete') {
    await store.delete(target, { backend });
    result = {};
  } else {
    throw new Error(`unknown operation ${op}`);
  }
} finally {
  await store.close();
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ seconds, ...result }));
