// Benchmark row: @store/s3 add (md5 + sha512) and get of a 1 GiB image against
// the radosgw of tools/services, beside Debian's `aws s3 cp` moving the same file
// to and from the same radosgw in the same run. The get is timed as a plain read
// (as in file.mjs) and again with md5 + sha512 of the bytes read, which also
// checks them. Every
// object made is deleted and garbage-collected again (radosgw's memstore keeps
// them in RAM).
//   node tools/bench/s3.mjs [--size-mib 1024] [--runs 3]

import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { serviceEnv } from '@store/testkit/services';
import {
  awsCli,
  benchBase,
  benchDir,
  fmt,
  MiB,
  makeSourceFile,
  medianOf,
  needService,
  rowArgs,
  secondsCell,
  sha512sum,
  storeRunner,
  table,
} from './measure.mjs';

const { sizeMiB, runs } = rowArgs(3);

const {
  STORE_TEST_S3_ENDPOINT: endpoint,
  STORE_TEST_S3_ACCESS_KEY: accessKey,
  STORE_TEST_S3_SECRET_KEY: secretKey,
} = await needService('ceph radosgw (S3)', [
  'STORE_TEST_S3_ENDPOINT',
  'STORE_TEST_S3_ACCESS_KEY',
  'STORE_TEST_S3_SECRET_KEY',
]);
const bucket = `store-bench-${randomUUID().slice(0, 8)}`;

const aws = awsCli(endpoint, accessKey, secretKey);
const store = storeRunner({
  type: 's3',
  options: {
    s3_store_host: endpoint,
    s3_store_access_key: accessKey,
    s3_store_secret_key: secretKey,
    s3_store_bucket: bucket,
    s3_store_create_bucket_on_put: 'true',
  },
});
// Wall time of the whole child too: the baselines' times include their start-up, so the
// ratios compare process wall times (Node start and SDK load included).
const runWorker = async (args) => {
  const started = process.hrtime.bigint();
  const result = await store(args);
  return { ...result, wall: Number(process.hrtime.bigint() - started) / 1e9 };
};

// Deleted objects wait for radosgw's garbage collector (2 h by default) while the memstore
// keeps them in RAM: collect them now. Only already-deleted data is touched.
const cephConf = serviceEnv('ceph (gc)', ['STORE_TEST_CEPH_CONF'])?.STORE_TEST_CEPH_CONF;
const collectGarbage = () => {
  if (!cephConf) return;
  try {
    execFileSync('radosgw-admin', ['-c', cephConf, 'gc', 'process', '--include-all'], {
      stdio: 'ignore',
      timeout: 120_000,
    });
  } catch {
    // Best effort: the objects are deleted either way and radosgw collects them later.
  }
};

const work = await benchDir('s3');
try {
  const source = makeSourceFile(work, sizeMiB);
  const download = join(work, 'download.raw');
  const bytes = sizeMiB * MiB;
  const expected = sha512sum(source);
  await aws(['s3', 'mb', `s3://${bucket}`]);

  const adds = [];
  const blockAdds = [];
  const gets = [];
  const hashedGets = [];
  const awsUps = [];
  const awsDowns = [];
  // Interleaved, one object at a time, each deleted before the next run.
  for (let i = 0; i < runs; i++) {
    awsUps.push(await aws(['s3', 'cp', '--only-show-errors', source, `s3://${bucket}/aws-${i}`]));
    awsDowns.push(
      await aws(['s3', 'cp', '--only-show-errors', `s3://${bucket}/aws-${i}`, download]),
    );
    await rm(download);
    await aws(['s3', 'rm', '--only-show-errors', `s3://${bucket}/aws-${i}`]);
    // The library's add path alone (no source file to read), as in the file row.
    blockAdds.push(await runWorker(['add-block', String(sizeMiB), `block-${i}`]));
    await aws(['s3', 'rm', '--only-show-errors', `s3://${bucket}/block-${i}`]);
    const added = await runWorker(['add', source, `store-${i}`]);
    if (added.multihash !== expected) throw new Error('add: multihash mismatch');
    const got = await runWorker(['get', added.location]);
    if (got.bytes !== bytes) throw new Error('get: size mismatch');
    const hashed = await runWorker(['get', added.location, '--hash']);
    if (hashed.multihash !== expected || hashed.checksum !== added.checksum)
      throw new Error('get: data mismatch');
    adds.push(added);
    gets.push(got);
    hashedGets.push(hashed);
    await aws(['s3', 'rm', '--only-show-errors', `s3://${bucket}/store-${i}`]);
    collectGarbage();
  }
  const add = medianOf(adds);
  const blockAdd = medianOf(blockAdds);
  const get = medianOf(gets);
  const hashedGet = medianOf(hashedGets);
  const awsUp = medianOf(awsUps);
  const awsDown = medianOf(awsDowns);

  const mibps = (s) => fmt(bytes / MiB / s, 0);
  console.log(`\n### s3 driver against radosgw, ${sizeMiB} MiB image (median of ${runs})\n`);
  // seconds: the operation inside the worker; process s: the worker's whole run, as the
  // baselines are timed; the ratio compares process wall times.
  const row = (op, ours, baseline, baselineName) => [
    op,
    secondsCell(ours),
    fmt(ours.cpuSeconds),
    fmt(ours.wall),
    mibps(ours.wall),
    fmt(ours.peakRssMiB, 0),
    baselineName,
    secondsCell(baseline),
    fmt(baseline.cpuSeconds),
    mibps(baseline.seconds),
    fmt(baseline.peakRssMiB, 0),
    fmt(ours.wall / baseline.seconds),
  ];
  console.log(
    table(
      [
        'op',
        'seconds, median (min–max)',
        'CPU s',
        'process s',
        'MiB/s (process)',
        'peak RSS MiB',
        'baseline',
        'baseline s, median (min–max)',
        'baseline CPU s',
        'baseline MiB/s',
        'baseline RSS MiB',
        'ratio',
      ],
      [
        row('add (md5 + sha512)', add, awsUp, 'aws s3 cp file s3://'),
        row('add from memory (no source read)', blockAdd, awsUp, 'aws s3 cp file s3://'),
        row('get', get, awsDown, 'aws s3 cp s3:// file'),
        row('get + md5 + sha512 of the bytes', hashedGet, awsDown, 'aws s3 cp s3:// file'),
      ],
    ),
  );
  console.log(
    '\nWhat each side does: @store add reads the source file (createReadStream, 1 MiB reads), ' +
      'takes md5 + sha512 and uploads it; aws s3 cp file s3:// reads and uploads it (no hashing). ' +
      '@store get reads every byte and discards it; aws s3 cp s3:// file writes every byte to a file.',
  );
  console.log(
    `Endpoint ${endpoint}, defaults (10 MiB parts, 10 in flight); aws s3 cp ${execFileSync('/usr/bin/aws', ['--version']).toString().trim().split(' ')[0]} with its defaults (8 MiB parts, 10 threads), writing to ${benchBase}. Targets: add and get ratio <= 1.0, peak RSS < 200 MiB (aws s3 cp does no hashing).`,
  );
} finally {
  await aws(['s3', 'rb', '--force', `s3://${bucket}`]).catch(() => undefined);
  collectGarbage();
  await rm(work, { recursive: true, force: true });
}
