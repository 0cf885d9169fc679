// Child process of the azure row: one operation against Azurite, printing one JSON line
// { seconds, bytes, ... }. The raw-* operations use the Azure SDK directly (the baseline).
//   node azure-worker.mjs add <container> <source-file> <image-id>
//   node azure-worker.mjs get <container> <location>
//   node azure-worker.mjs raw-put <container> <source-file> <blob>
//   node azure-worker.mjs raw-get <container> <blob>
//   node azure-worker.mjs cleanup <container>
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import azureDriver from '@store/azure';
import { MultiStore } from '@store/core';

const here = dirname(fileURLToPath(import.meta.url));
// The SDK is @store/azure's dependency; resolve it from there for the baseline.
const { BlobServiceClient } = createRequire(createRequire(import.meta.url).resolve('@store/azure'))(
  '@azure/storage-blob',
);

function connectionString() {
  if (process.env.STORE_TEST_AZURE_CONNECTION_STRING)
    return process.env.STORE_TEST_AZURE_CONNECTION_STRING;
  const file = join(here, '../../.run/services/env');
  if (existsSync(file)) {
    const line = readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('STORE_TEST_AZURE_CONNECTION_STRING='));
    if (line) return line.slice(line.indexOf('=') + 1);
  }
  throw new Error('Azurite is not running: run tools/services up azurite');
}

const [op, container, target, name] = process.argv.slice(2);
const MiB = 1 << 20;
const blockMiB = Number(process.env.STORE_BENCH_AZURE_BLOCK_MIB ?? 4);
const concurrency = Number(process.env.STORE_BENCH_AZURE_CONCURRENCY ?? 4);
const containerClient = () =>
  BlobServiceClient.fromConnectionString(connectionString()).getContainerClient(container);

const started = process.hrtime.bigint();
let result;
if (op === 'add' || op === 'get') {
  const store = await MultiStore.create(
    {
      enabledBackends: { bench: 'azure' },
      defaultBackend: 'bench',
      backends: {
        bench: {
          azure_store_connection_string: connectionString(),
          azure_store_container: container,
          azure_store_create_container_on_put: true,
          azure_store_block_size: blockMiB,
          azure_store_upload_concurrency: concurrency,
        },
      },
    },
    { drivers: [azureDriver] },
  );
  if (op === 'add') {
    const { size } = await stat(target);
    const added = await store.add(name, createReadStream(target, { highWaterMark: MiB }), size, {
      hashingAlgo: 'sha512',
    });
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
  await store.close();
} else if (op === 'raw-put') {
  const client = containerClient();
  await client.createIfNotExists();
  const { size } = await stat(target);
  await client
    .getBlockBlobClient(name)
    .uploadStream(createReadStream(target, { highWaterMark: MiB }), blockMiB * MiB, concurrency);
  result = { bytes: size };
} else if (op === 'raw-get') {
  const response = await containerClient().getBlockBlobClient(target).download(0);
  let bytes = 0;
  for await (const chunk of response.readableStreamBody) bytes += chunk.byteLength;
  result = { bytes };
} else if (op === 'cleanup') {
  result = { deleted: (await containerClient().deleteIfExists()).succeeded };
} else throw new Error(`unknown operation ${op}`);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ seconds, ...result }));
