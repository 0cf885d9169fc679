// Benchmark row: @store/file add (md5 + sha512) and get of a 1 GiB image, beside
// `openssl dgst -sha512` and `cat` of the same file in the same run; plus the
// peak RSS of adding and reading a 4 GiB image.
//   node tools/bench/file.mjs [--size-mib 1024] [--runs 3]
import { execFileSync } from 'node:child_process';
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
    runs: { type: 'string', default: '3' },
    'big-gib': { type: 'string', default: '4' },
  },
});
const sizeMiB = Number(values['size-mib']);
const runs = Number(values.runs);
// tmpfs by default: the VM's disk (ext4 with online discard) makes write timings swing
// several-fold from run to run; STORE_BENCH_DIR=/some/disk/dir measures a disk instead.
const base = process.env.STORE_BENCH_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const work = await mkdtemp(join(base, 'store-bench-file-'));
const worker = join(here, 'file-worker.mjs');
try {
  const source = join(work, 'image.raw');
  execFileSync('dd', [
    'if=/dev/urandom',
    `of=${source}`,
    'bs=1M',
    `count=${sizeMiB}`,
    'status=none',
  ]);
  execFileSync('cat', [source], { stdio: ['ignore', 'ignore', 'inherit'] }); // warm the page cache
  const bytes = sizeMiB * MiB;
  const openssl = await median(runs, () => timeCommand('openssl', ['dgst', '-sha512', source]));
  const cat = await median(runs, () => timeCommand('cat', [source]));
  const datadir = join(work, 'images');
  // One image at a time: each run adds, reads back, then deletes its image.
  const adds = [];
  const gets = [];
  for (let i = 0; i < runs; i++) {
    const added = await runNodeChild(worker, ['add', datadir, source, `img-${i}`]);
    gets.push(await runNodeChild(worker, ['get', datadir, added.location]));
    adds.push(added);
    await rm(join(datadir, `img-${i}`));
  }
  const add = await median(runs, (i) => adds[i]);
  const get = await median(runs, (i) => gets[i]);
  const catPiped = await median(runs, () => timeCommand('sh', ['-c', `cat '${source}' | cat`]));
  const expected = execFileSync('sha512sum', [source]).toString().split(' ')[0];
  if (add.multihash !== expected) throw new Error('multihash mismatch');

  // 4 GiB: memory must stay bounded by chunk size, not image size.
  const big = join(work, 'big.raw');
  execFileSync('truncate', ['-s', `${values['big-gib']}G`, big]);
  const bigAdd = await runNodeChild(worker, ['add', datadir, big, 'big']);
  const bigGet = await runNodeChild(worker, ['get', datadir, bigAdd.location]);
  await rm(big);

  const mibps = (s, b = bytes) => fmt(b / MiB / s, 0);
  console.log(`\n### file driver, ${sizeMiB} MiB image (median of ${runs})\n`);
  console.log(
    table(
      ['op', 'seconds', 'MiB/s', 'peak RSS MiB', 'baseline', 'baseline s', 'ratio'],
      [
        [
          'add (md5 + sha512)',
          fmt(add.seconds),
          mibps(add.seconds),
          fmt(add.peakRssMiB, 0),
          'openssl dgst -sha512',
          fmt(openssl.seconds),
          fmt(add.seconds / openssl.seconds),
        ],
        [
          'get',
          fmt(get.seconds),
          mibps(get.seconds),
          fmt(get.peakRssMiB, 0),
          'cat > /dev/null',
          fmt(cat.seconds),
          fmt(get.seconds / cat.seconds),
        ],
        [
          'get',
          fmt(get.seconds),
          mibps(get.seconds),
          fmt(get.peakRssMiB, 0),
          'cat piped into cat',
          fmt(catPiped.seconds),
          fmt(get.seconds / catPiped.seconds),
        ],
        [
          `add ${values['big-gib']} GiB`,
          fmt(bigAdd.seconds),
          mibps(bigAdd.seconds, bigAdd.bytes),
          fmt(bigAdd.peakRssMiB, 0),
          '',
          '',
          '',
        ],
        [
          `get ${values['big-gib']} GiB`,
          fmt(bigGet.seconds),
          mibps(bigGet.seconds, bigGet.bytes),
          fmt(bigGet.peakRssMiB, 0),
          '',
          '',
          '',
        ],
      ],
    ),
  );
  console.log(
    `\nData directory: ${base}. Targets: add <= 1.3x openssl, get <= 1.25x cat, peak RSS < 150 MiB at 4 GiB.`,
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
