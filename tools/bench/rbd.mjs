// Benchmark row: @store/rbd add (md5 + sha512) and get of a 1 GiB image against
// the Ceph cluster of tools/services, beside `rbd import`, `rbd export` and
// `sha512sum` of the same file in the same run. Every image made is removed again
// (the OSD's memstore keeps them in RAM).
//   node tools/bench/rbd.mjs [--size-mib 1024] [--runs 1]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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

// The services' env file, as @store/testkit's serviceEnv reads it.
const envFile = join(here, '..', '..', '.run', 'services', 'env');
const fromFile = existsSync(envFile)
  ? Object.fromEntries(
      readFileSync(envFile, 'utf8')
        .split('\n')
        .map((line) => /^([A-Z0-9_]+)=(.*)$/.exec(line))
        .filter(Boolean)
        .map((m) => [m[1], m[2]]),
    )
  : {};
const need = (name) => {
  const value = process.env[name] ?? fromFile[name];
  if (!value) throw new Error(`${name} is not set: run tools/services up`);
  return value;
};
const conf = need('STORE_TEST_CEPH_CONF');
const user = need('STORE_TEST_CEPH_USER');
const pool = need('STORE_TEST_RBD_POOL');
const options = { rbd_store_ceph_conf: conf, rbd_store_user: user, rbd_store_pool: pool };
const workerEnv = { ...process.env, STORE_BENCH_RBD_OPTIONS: JSON.stringify(options) };
const rbdArgs = ['--conf', conf, '--id', user];
const rbd = (...args) => execFileSync('rbd', [...rbdArgs, ...args], { stdio: 'pipe' });
const prefix = `store-bench-${process.pid}-`;
const worker = join(here, 'rbd-worker.mjs');

/** Removes every image this run made (snapshots first). */
function cleanUp() {
  const names = JSON.parse(rbd('ls', '--format', 'json', '-p', pool).toString());
  for (const name of names.filter((n) => n.startsWith(prefix))) {
    const spec = `${pool}/${name}`;
    try {
      rbd('snap', 'unprotect', `${spec}@snap`);
    } catch {}
    rbd('snap', 'purge', '--no-progress', spec);
    rbd('rm', '--no-progress', spec);
  }
}

// tmpfs: the source file should cost nothing to read.
const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const work = await mkdtemp(join(base, 'store-bench-rbd-'));
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
  const expected = execFileSync('sha512sum', [source]).toString().split(' ')[0];

  const sha512sum = await median(runs, () => timeCommand('sha512sum', [source]));
  const imports = [];
  const exports = [];
  for (let i = 0; i < runs; i++) {
    const spec = `${pool}/${prefix}import-${i}`;
    imports.push(await timeCommand('rbd', [...rbdArgs, 'import', '--no-progress', source, spec]));
    exports.push(await timeCommand('rbd', [...rbdArgs, 'export', '--no-progress', spec, '-']));
    rbd('rm', '--no-progress', spec);
  }
  const rbdImport = await median(runs, (i) => imports[i]);
  const rbdExport = await median(runs, (i) => exports[i]);

  // One image at a time: each run adds, reads back (plain, then hashing), deletes.
  const adds = [];
  const gets = [];
  const hashedGets = [];
  for (let i = 0; i < runs; i++) {
    const added = await runNodeChild(worker, ['add', source, `${prefix}${i}`], { env: workerEnv });
    if (added.multihash !== expected) throw new Error('add: multihash differs from sha512sum');
    gets.push(await runNodeChild(worker, ['get', added.location], { env: workerEnv }));
    const hashed = await runNodeChild(worker, ['get', added.location, '--hash'], {
      env: workerEnv,
    });
    if (hashed.multihash !== expected) throw new Error('get: multihash differs from sha512sum');
    hashedGets.push(hashed);
    adds.push(added);
    await runNodeChild(worker, ['delete', added.location], { env: workerEnv });
  }
  const add = await median(runs, (i) => adds[i]);
  const get = await median(runs, (i) => gets[i]);
  const hashedGet = await median(runs, (i) => hashedGets[i]);

  const addBase = Math.max(rbdImport.seconds, sha512sum.seconds);
  const mibps = (s) => fmt(bytes / MiB / s, 0);
  console.log(`\n### rbd driver, ${sizeMiB} MiB image (median of ${runs})\n`);
  console.log(
    table(
      ['op', 'seconds', 'MiB/s', 'peak RSS MiB', 'baseline', 'baseline s', 'ratio'],
      [
        [
          'add (md5 + sha512)',
          fmt(add.seconds),
          mibps(add.seconds),
          fmt(add.peakRssMiB, 0),
          'max(rbd import, sha512sum)',
          fmt(addBase),
          fmt(add.seconds / addBase),
        ],
        [
          'get',
          fmt(get.seconds),
          mibps(get.seconds),
          fmt(get.peakRssMiB, 0),
          'rbd export > /dev/null',
          fmt(rbdExport.seconds),
          fmt(get.seconds / rbdExport.seconds),
        ],
        [
          'get (md5 + sha512)',
          fmt(hashedGet.seconds),
          mibps(hashedGet.seconds),
          fmt(hashedGet.peakRssMiB, 0),
          'rbd export > /dev/null',
          fmt(rbdExport.seconds),
          fmt(hashedGet.seconds / rbdExport.seconds),
        ],
        [
          'rbd import',
          fmt(rbdImport.seconds),
          mibps(rbdImport.seconds),
          fmt(rbdImport.peakRssMiB, 0),
          '',
          '',
          '',
        ],
        [
          'rbd export',
          fmt(rbdExport.seconds),
          mibps(rbdExport.seconds),
          fmt(rbdExport.peakRssMiB, 0),
          '',
          '',
          '',
        ],
        [
          'sha512sum',
          fmt(sha512sum.seconds),
          mibps(sha512sum.seconds),
          fmt(sha512sum.peakRssMiB, 0),
          '',
          '',
          '',
        ],
      ],
    ),
  );
  console.log(
    '\nTargets: add <= 1.25x max(rbd import, sha512sum), get <= 1.25x rbd export, peak RSS < 200 MiB.',
  );
} finally {
  cleanUp();
  await rm(work, { recursive: true, force: true });
}
