// Benchmark row: the same add (md5 + sha512) and get through glance_store itself
// (tools/glance-peer, Debian's python3-glance-store) and through @store, in one run, on
// the same backends, configured by one INI file both read. Run by
// `tools/bench/run --peer glance_store`, or directly:
//   node tools/bench/peer.mjs [--size-mib 1024] [--runs 3] [--backends file,rbd,s3]
// Backends other than file join when tools/services is up (its env file) and default to
// every one that is.
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serviceEnv } from '@store/testkit/services';
import {
  awsCli,
  benchDir,
  fmt,
  MiB,
  makeSourceFile,
  median,
  rowArgs,
  runJsonChild,
  runNodeChild,
  secondsCell,
  storeWorker,
  table,
} from './measure.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const peerScript = join(here, '..', 'glance-peer', 'glance_peer.py');
const python = '/usr/bin/python3'; // Debian's, which has python3-glance-store

const { sizeMiB, runs, ...values } = rowArgs(3, {
  backends: { type: 'string' },
});

const ceph = serviceEnv('ceph (rbd)', [
  'STORE_TEST_CEPH_CONF',
  'STORE_TEST_CEPH_USER',
  'STORE_TEST_RBD_POOL',
]);
const s3 = serviceEnv('ceph radosgw (S3)', [
  'STORE_TEST_S3_ENDPOINT',
  'STORE_TEST_S3_ACCESS_KEY',
  'STORE_TEST_S3_SECRET_KEY',
]);
const wanted = values.backends
  ? values.backends.split(',')
  : ['file', ...(ceph ? ['rbd'] : []), ...(s3 ? ['s3'] : [])];

const work = await benchDir('peer');
const bucket = `store-bench-peer-${process.pid}`;

function configText() {
  const lines = [
    '[DEFAULT]',
    `enabled_backends = ${wanted.map((b) => `${b}:${b}`).join(', ')}`,
    '[glance_store]',
    `default_backend = ${wanted[0]}`,
  ];
  for (const backend of wanted) {
    lines.push(`[${backend}]`);
    if (backend === 'file') lines.push(`filesystem_store_datadir = ${join(work, 'images')}`);
    else if (backend === 'rbd') {
      if (!ceph) throw new Error('rbd row needs tools/services up (ceph)');
      lines.push(
        `rbd_store_ceph_conf = ${ceph.STORE_TEST_CEPH_CONF}`,
        `rbd_store_user = ${ceph.STORE_TEST_CEPH_USER}`,
        `rbd_store_pool = ${ceph.STORE_TEST_RBD_POOL}`,
      );
    } else if (backend === 's3') {
      if (!s3) throw new Error('s3 row needs tools/services up (radosgw)');
      lines.push(
        `s3_store_host = ${s3.STORE_TEST_S3_ENDPOINT}`,
        `s3_store_access_key = ${s3.STORE_TEST_S3_ACCESS_KEY}`,
        `s3_store_secret_key = ${s3.STORE_TEST_S3_SECRET_KEY}`,
        `s3_store_bucket = ${bucket}`,
        's3_store_create_bucket_on_put = true',
        's3_store_bucket_url_format = path',
      );
    } else throw new Error(`no peer benchmark for backend type ${backend}`);
  }
  return `${lines.join('\n')}\n`;
}

const glance = (args) => runJsonChild(python, [peerScript, '--config', config, ...args]);
const ours = (backend, args) =>
  runNodeChild(storeWorker, ['--config', config, '--backend', backend, ...args]);
const rate = (r) => fmt((sizeMiB * MiB) / r.seconds / MiB, 0);

const config = join(work, 'glance-api.conf');
const rows = [];
try {
  await writeFile(config, configText());
  const source = makeSourceFile(work, sizeMiB);
  for (const backend of wanted) {
    const pair = async (op, does, run) => {
      const theirs = await median(runs, (i) => run('glance', i));
      const mine = await median(runs, (i) => run('store', i));
      rows.push([
        backend,
        op,
        does,
        secondsCell(theirs),
        fmt(theirs.cpuSeconds),
        rate(theirs),
        fmt(theirs.peakRssMiB, 0),
        secondsCell(mine),
        fmt(mine.cpuSeconds),
        rate(mine),
        fmt(mine.peakRssMiB, 0),
        `${fmt(theirs.seconds / mine.seconds)}x`,
      ]);
      return { theirs, mine };
    };
    const locations = { glance: [], store: [] };
    const added = await pair(
      'add (md5 + sha512)',
      'reads the source file, md5 + sha512, writes the image to the backend',
      async (who, i) => {
        const id = `peer-${who}-${process.pid}-${i}`;
        const r =
          who === 'glance'
            ? await glance(['add', backend, id, source, '--hash', 'sha512'])
            : await ours(backend, ['add-file-source', source, id]);
        locations[who].push(r.location);
        return r;
      },
    );
    if (
      added.theirs.checksum !== added.mine.checksum ||
      added.theirs.multihash !== added.mine.multihash
    ) {
      throw new Error(`${backend}: glance_store and @store disagree on the checksums`);
    }
    // Each reads what the other wrote, so the row also proves the two interoperate.
    await pair('get', 'reads every byte of the image and discards it', (who, i) =>
      who === 'glance'
        ? glance(['get', locations.store[i], '--backend', backend, '--no-hash'])
        : ours(backend, ['get', locations.glance[i]]),
    );
    for (const location of locations.glance) await ours(backend, ['delete', location]);
    for (const location of locations.store)
      await glance(['delete', location, '--backend', backend]);
  }
} finally {
  // Both sides deleted their images; the bucket @store made on the first put goes too.
  if (s3 && wanted.includes('s3'))
    await awsCli(
      s3.STORE_TEST_S3_ENDPOINT,
      s3.STORE_TEST_S3_ACCESS_KEY,
      s3.STORE_TEST_S3_SECRET_KEY,
    )(['s3', 'rb', '--force', `s3://${bucket}`]).catch((err) =>
      console.error(`could not delete bucket ${bucket}: ${err.message}`),
    );
  await rm(work, { recursive: true, force: true });
}

console.log(`\n### glance_store 4.1.0 beside @store, ${sizeMiB} MiB image (median of ${runs})\n`);
console.log(
  table(
    [
      'backend',
      'op',
      'what each side does',
      'glance_store s, median (min–max)',
      'CPU s',
      'MiB/s',
      'peak RSS MiB',
      '@store s, median (min–max)',
      'CPU s',
      'MiB/s',
      'peak RSS MiB',
      '@store speedup',
    ],
    rows,
  ),
);
console.log(
  '\nEach side reads the image the other side wrote. Times are measured inside each process ' +
    '(interpreter start-up excluded); CPU s is user + sys of the whole process (start-up ' +
    "included). @store adds through core's fileSource; file data directory on tmpfs.",
);
