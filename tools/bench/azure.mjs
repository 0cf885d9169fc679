// Benchmark row: @store/azure add (md5 + sha512) and get of a 1 GiB image against Azurite,
// beside the Azure SDK's own uploadStream and download of the same file (no hashing) and
// `openssl dgst -sha512`. Deletes the container it creates.
//   node tools/bench/azure.mjs [--size-mib 1024] [--runs 1]
// Block size and concurrency: STORE_BENCH_AZURE_BLOCK_MIB (4), STORE_BENCH_AZURE_CONCURRENCY (4).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fmt, MiB, median, runNodeChild, table, timeCommand } from './measure.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    runs: { type: 'string', default: '1' },
  },
});
const sizeMiB = Number(values['size-mib']);
const runs = Number(values.runs);
const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const work = await mkdtemp(join(base, 'store-bench-azure-'));
const worker = join(here, 'azure-worker.mjs');
const container = `store-bench-${randomBytes(6).toString('hex')}`;
try {
  const source = join(work, 'image.raw');
  execFileSync('dd', [
    'if=/dev/urandom',
    `of=${source}`,
    'bs=1M',
    `count=${sizeMiB}`,
    'status=none',
  ]);
  const bytes = sizeMiB * MiB;
  const openssl = await median(runs, () => timeCommand('openssl', ['dgst', '-sha512', source]));
  const rawPut = await median(runs, (i) =>
    runNodeChild(worker, ['raw-put', container, source, `raw-${i}`]),
  );
  const rawGet = await median(runs, (i) =>
    runNodeChild(worker, ['raw-get', container, `raw-${i}`]),
  );
  const adds = [];
  const gets = [];
  for (let i = 0; i < runs; i++) {
    const added = await runNodeChild(worker, ['add', container, source, `img-${i}`]);
    gets.push(await runNodeChild(worker, ['get', container, added.location]));
    adds.push(added);
  }
  const add = await median(runs, (i) => adds[i]);
  const get = await median(runs, (i) => gets[i]);
  const expected = execFileSync('sha512sum', [source]).toString().split(' ')[0];
  if (add.multihash !== expected) throw new Error('multihash mismatch');
  if (get.bytes !== bytes) throw new Error(`get returned ${get.bytes} bytes, expected ${bytes}`);

  const mibps = (s) => fmt(bytes / MiB / s, 0);
  const block = process.env.STORE_BENCH_AZURE_BLOCK_MIB ?? '4';
  const concurrency = process.env.STORE_BENCH_AZURE_CONCURRENCY ?? '4';
  console.log(
    `\n### azure driver against Azurite, ${sizeMiB} MiB image, ${block} MiB blocks x ${concurrency} (median of ${runs})\n`,
  );
  console.log(
    table(
      [
        'op',
        'seconds',
        'MiB/s',
        'peak RSS MiB',
        'baseline',
        'baseline s',
        'baseline RSS MiB',
        'ratio',
      ],
      [
        [
          'add (md5 + sha512)',
          fmt(add.seconds),
          mibps(add.seconds),
          fmt(add.peakRssMiB, 0),
          'SDK uploadStream (no hashing)',
          fmt(rawPut.seconds),
          fmt(rawPut.peakRssMiB, 0),
          fmt(add.seconds / rawPut.seconds),
        ],
        [
          'add (md5 + sha512)',
          fmt(add.seconds),
          mibps(add.seconds),
          fmt(add.peakRssMiB, 0),
          'openssl dgst -sha512',
          fmt(openssl.seconds),
          fmt(openssl.peakRssMiB, 0),
          fmt(add.seconds / openssl.seconds),
        ],
        [
          'get',
          fmt(get.seconds),
          mibps(get.seconds),
          fmt(get.peakRssMiB, 0),
          'SDK download stream',
          fmt(rawGet.seconds),
          fmt(rawGet.peakRssMiB, 0),
          fmt(get.seconds / rawGet.seconds),
        ],
      ],
    ),
  );
  console.log(
    '\nTarget: peak RSS < 200 MiB for add and get. Azurite itself bounds the throughput.',
  );
} finally {
  await runNodeChild(worker, ['cleanup', container]).catch((err) =>
    console.error(`could not delete container ${container}: ${err.message}`),
  );
  await rm(work, { recursive: true, force: true });
}
