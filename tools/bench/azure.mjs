// Benchmark row: @store/azure add (md5 + sha512) and get of a 1 GiB image against Azurite,
// beside the Azure SDK's own uploadStream and download of the same file (no hashing) and
// `openssl dgst -sha512`. Deletes the container it creates.
//   node tools/bench/azure.mjs [--size-mib 1024] [--runs 1]
// Block size and concurrency: STORE_BENCH_AZURE_BLOCK_MIB (4), STORE_BENCH_AZURE_CONCURRENCY (4).
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import {
  benchDir,
  fmt,
  MiB,
  makeSourceFile,
  median,
  medianOf,
  needService,
  rowArgs,
  runCells,
  runNodeChild,
  secondsCell,
  sha512sum,
  storeRunner,
  table,
  timeCommand,
} from './measure.mjs';

// The SDK is @store/azure's dependency; resolve it from there for the baseline.
const loadSdk = () =>
  createRequire(createRequire(import.meta.url).resolve('@store/azure'))('@azure/storage-blob');
const blockMiB = Number(process.env.STORE_BENCH_AZURE_BLOCK_MIB ?? 4);
const concurrency = Number(process.env.STORE_BENCH_AZURE_CONCURRENCY ?? 4);

/**
 * The baseline, in a child process of this script as the driver's side runs in
 * store-worker.mjs: the SDK's own uploadStream or download, no hashing. Prints
 * { seconds, bytes } as JSON. The connection string holds the account key: it comes in
 * the environment, never in argv.
 *   STORE_BENCH_AZURE_CONNECTION_STRING=... node azure.mjs raw-put <container> <source> <blob>
 *   STORE_BENCH_AZURE_CONNECTION_STRING=... node azure.mjs raw-get <container> <blob>
 */
async function rawChild(op, container, target, name) {
  const client = loadSdk()
    .BlobServiceClient.fromConnectionString(process.env.STORE_BENCH_AZURE_CONNECTION_STRING)
    .getContainerClient(container);
  const started = process.hrtime.bigint();
  let bytes = 0;
  if (op === 'raw-put') {
    await client.createIfNotExists();
    ({ size: bytes } = await stat(target));
    await client
      .getBlockBlobClient(name)
      .uploadStream(createReadStream(target, { highWaterMark: MiB }), blockMiB * MiB, concurrency);
  } else {
    const response = await client.getBlockBlobClient(target).download(0);
    for await (const chunk of response.readableStreamBody) bytes += chunk.byteLength;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(JSON.stringify({ seconds, bytes }));
}

async function benchmark() {
  const { sizeMiB, runs } = rowArgs(1);
  const { STORE_TEST_AZURE_CONNECTION_STRING: connectionString } = await needService('azurite', [
    'STORE_TEST_AZURE_CONNECTION_STRING',
  ]);
  const container = `store-bench-${randomBytes(6).toString('hex')}`;
  const store = storeRunner({
    type: 'azure',
    options: {
      azure_store_connection_string: connectionString,
      azure_store_container: container,
      azure_store_create_container_on_put: true,
      azure_store_block_size: blockMiB,
      azure_store_upload_concurrency: concurrency,
    },
  });
  // The connection string holds the account key: environment, not argv.
  const rawEnv = { ...process.env, STORE_BENCH_AZURE_CONNECTION_STRING: connectionString };
  const raw = (args) =>
    runNodeChild(fileURLToPath(import.meta.url), [args[0], container, ...args.slice(1)], {
      env: rawEnv,
    });
  const work = await benchDir('azure');
  try {
    const source = makeSourceFile(work, sizeMiB);
    const bytes = sizeMiB * MiB;
    const openssl = await median(runs, () => timeCommand('openssl', ['dgst', '-sha512', source]));
    const rawPut = await median(runs, (i) => raw(['raw-put', source, `raw-${i}`]));
    const rawGet = await median(runs, (i) => raw(['raw-get', `raw-${i}`]));
    const adds = [];
    const gets = [];
    for (let i = 0; i < runs; i++) {
      const added = await store(['add', source, `img-${i}`]);
      gets.push(await store(['get', added.location]));
      adds.push(added);
    }
    const add = medianOf(adds);
    const get = medianOf(gets);
    if (add.multihash !== sha512sum(source)) throw new Error('multihash mismatch');
    if (get.bytes !== bytes) throw new Error(`get returned ${get.bytes} bytes, expected ${bytes}`);

    // Baseline RSS beside the baseline's time: the SDK buffers whole blocks too.
    const versus = (run, name, baseline) => [
      name,
      secondsCell(baseline),
      fmt(baseline.cpuSeconds),
      fmt(baseline.peakRssMiB, 0),
      fmt(run.seconds / baseline.seconds),
    ];
    console.log(
      `\n### azure driver against Azurite, ${sizeMiB} MiB image, ${blockMiB} MiB blocks x ${concurrency} (median of ${runs})\n`,
    );
    console.log(
      table(
        [
          'op',
          'seconds, median (min–max)',
          'CPU s',
          'MiB/s',
          'peak RSS MiB',
          'baseline',
          'baseline s, median (min–max)',
          'baseline CPU s',
          'baseline RSS MiB',
          'ratio',
        ],
        [
          [
            'add (md5 + sha512)',
            ...runCells(add, bytes),
            ...versus(add, 'SDK uploadStream (no hashing)', rawPut),
          ],
          [
            'add (md5 + sha512)',
            ...runCells(add, bytes),
            ...versus(add, 'openssl dgst -sha512', openssl),
          ],
          ['get', ...runCells(get, bytes), ...versus(get, 'SDK download stream', rawGet)],
        ],
      ),
    );
    console.log(
      '\nWhat each side does: @store add reads the source file (createReadStream, 1 MiB reads), ' +
        'takes md5 + sha512 and uploads it; the SDK uploadStream reads and uploads it (no ' +
        'hashing); openssl reads and hashes it. @store get and the SDK download stream read every ' +
        'byte and discard it. Target: peak RSS < 200 MiB for add and get. Azurite itself bounds ' +
        'the throughput.',
    );
  } finally {
    await loadSdk()
      .BlobServiceClient.fromConnectionString(connectionString)
      .getContainerClient(container)
      .deleteIfExists()
      .catch((err) => console.error(`could not delete container ${container}: ${err.message}`));
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[2]?.startsWith('raw-')) await rawChild(...process.argv.slice(2));
else await benchmark();
