// Benchmark row: @store/rbd add (md5 + sha512) and get of a 1 GiB image against
// the Ceph cluster of tools/services, beside `rbd import`, `rbd export` and
// `sha512sum` of the same file in the same run. Every image made is removed again
// (the OSD's memstore keeps them in RAM).
//   node tools/bench/rbd.mjs [--size-mib 1024] [--runs 3]
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import {
  benchDir,
  fmt,
  MiB,
  makeSourceFile,
  median,
  medianOf,
  needService,
  rowArgs,
  secondsCell,
  sha512sum,
  storeRunner,
  table,
  timeCommand,
  VERSUS_HEADERS,
  versusRow,
} from './measure.mjs';

const { sizeMiB, runs } = rowArgs(3);

const {
  STORE_TEST_CEPH_CONF: conf,
  STORE_TEST_CEPH_USER: user,
  STORE_TEST_RBD_POOL: pool,
} = await needService('ceph (rbd)', [
  'STORE_TEST_CEPH_CONF',
  'STORE_TEST_CEPH_USER',
  'STORE_TEST_RBD_POOL',
]);
const store = storeRunner({
  type: 'rbd',
  options: { rbd_store_ceph_conf: conf, rbd_store_user: user, rbd_store_pool: pool },
});
const rbdArgs = ['--conf', conf, '--id', user];
const rbd = (...args) => execFileSync('rbd', [...rbdArgs, ...args], { stdio: 'pipe' });
const prefix = `store-bench-${process.pid}-`;

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
const work = await benchDir('rbd');
try {
  const source = makeSourceFile(work, sizeMiB);
  const bytes = sizeMiB * MiB;
  const expected = sha512sum(source);

  const sha512 = await median(runs, () => timeCommand('sha512sum', [source]));
  const imports = [];
  const snaps = [];
  const exports = [];
  for (let i = 0; i < runs; i++) {
    const spec = `${pool}/${prefix}import-${i}`;
    imports.push(await timeCommand('rbd', [...rbdArgs, 'import', '--no-progress', source, spec]));
    // What add does after the data is in: the protected snapshot glance_store makes
    // (its time is mostly the monitor allocating a snapshot id).
    const created = await timeCommand('rbd', [
      ...rbdArgs,
      'snap',
      'create',
      '--no-progress',
      `${spec}@snap`,
    ]);
    const protectedSnap = await timeCommand('rbd', [...rbdArgs, 'snap', 'protect', `${spec}@snap`]);
    snaps.push({
      seconds: created.seconds + protectedSnap.seconds,
      cpuSeconds: created.cpuSeconds + protectedSnap.cpuSeconds,
      peakRssMiB: Math.max(created.peakRssMiB, protectedSnap.peakRssMiB),
    });
    exports.push(await timeCommand('rbd', [...rbdArgs, 'export', '--no-progress', spec, '-']));
    rbd('snap', 'unprotect', `${spec}@snap`);
    rbd('snap', 'purge', '--no-progress', spec);
    rbd('rm', '--no-progress', spec);
  }
  const rbdImport = medianOf(imports);
  const rbdSnap = medianOf(snaps);
  const rbdExport = medianOf(exports);

  // One image at a time: each run adds, reads back (plain, then hashing), deletes.
  const adds = [];
  const gets = [];
  const reusedGets = [];
  const hashedGets = [];
  for (let i = 0; i < runs; i++) {
    const added = await store(['add', source, `${prefix}${i}`]);
    if (added.multihash !== expected) throw new Error('add: multihash differs from sha512sum');
    gets.push(await store(['get', added.location]));
    reusedGets.push(await store(['get', added.location, '--reuse']));
    const hashed = await store(['get', added.location, '--hash', '--reuse']);
    if (hashed.multihash !== expected) throw new Error('get: multihash differs from sha512sum');
    hashedGets.push(hashed);
    adds.push(added);
    await store(['delete', added.location]);
  }
  const add = medianOf(adds);
  const get = medianOf(gets);
  const reusedGet = medianOf(reusedGets);
  const hashedGet = medianOf(hashedGets);

  // The tools run one after the other; the baseline is the slower, its CPU both.
  const addBase = {
    seconds: Math.max(rbdImport.seconds, sha512.seconds),
    cpuSeconds: rbdImport.cpuSeconds + sha512.cpuSeconds,
  };
  const addWithSnapBase = {
    seconds: Math.max(rbdImport.seconds + rbdSnap.seconds, sha512.seconds),
    cpuSeconds: rbdImport.cpuSeconds + rbdSnap.cpuSeconds + sha512.cpuSeconds,
  };
  console.log(`\n### rbd driver, ${sizeMiB} MiB image (median of ${runs})\n`);
  console.log(
    table(VERSUS_HEADERS, [
      versusRow('add (md5 + sha512)', add, bytes, 'max(rbd import, sha512sum)', addBase),
      versusRow(
        'add (md5 + sha512)',
        add,
        bytes,
        'max(rbd import + snap create + protect, sha512sum)',
        addWithSnapBase,
      ),
      versusRow('get', get, bytes, 'rbd export > /dev/null', rbdExport),
      versusRow('get (reuseBuffers)', reusedGet, bytes, 'rbd export > /dev/null', rbdExport),
      versusRow(
        'get (md5 + sha512, reuseBuffers)',
        hashedGet,
        bytes,
        'rbd export > /dev/null',
        rbdExport,
      ),
      versusRow('rbd import', rbdImport, bytes),
      [
        'rbd snap create + protect (2 CLI runs)',
        secondsCell(rbdSnap),
        fmt(rbdSnap.cpuSeconds),
        '',
        fmt(rbdSnap.peakRssMiB, 0),
        '',
        '',
        '',
        '',
      ],
      versusRow('rbd export', rbdExport, bytes),
      versusRow('sha512sum', sha512, bytes),
    ]),
  );
  console.log(
    '\nWhat each side does: @store add reads the source file (createReadStream, 1 MiB reads), ' +
      'takes md5 + sha512 and writes the image, then snapshots and protects it; rbd import reads ' +
      'the file and writes the image; sha512sum reads and hashes it. @store get reads every byte ' +
      'and discards it; rbd export writes every byte to /dev/null. CPU s: user + sys of the ' +
      'process (a max() baseline: of every tool in it).',
  );
  console.log(
    'Targets: add <= 1.25x max(rbd import, sha512sum), get <= 1.25x rbd export, peak RSS < 200 MiB.',
  );
} finally {
  cleanUp();
  await rm(work, { recursive: true, force: true });
}
