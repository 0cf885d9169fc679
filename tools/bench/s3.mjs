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
    runs: { type: 'string', default: '3' },
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
const endpoint = need('STORE_TEST_S3_ENDPOINT');
const accessKey = need('STORE_TEST_S3_ACCESS_KEY');
const secretKey = need('STORE_TEST_S3_SECRET_KEY');
const bucket = `store-bench-${randomUUID().slice(0, 8)}`;

// Debian's awscli explicitly: another `aws` (a pyenv shim) comes first on PATH.
const AWS = '/usr/bin/aws';
const awsEnv = {
  ...process.env,
  AWS_ACCESS_KEY_ID: accessKey,
  AWS_SECRET_ACCESS_KEY: secretKey,
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_PAGER: '',
};
const aws = (args) => timeCommand(AWS, ['--endpoint-url', endpoint, ...args], { env: awsEnv });
const workerEnv = {
  ...process.env,
  NODE_NO_WARNINGS: '1',
  STORE_BENCH_S3_OPTIONS: JSON.stringify({
    s3_store_host: endpoint,
    s3_store_access_key: accessKey,
    s3_store_secret_key: secretKey,
    s3_store_bucket: bucket,
    s3_store_create_bucket_on_put: 'true',
  }),
};
const worker = join(here, 's3-worker.mjs');
// Wall time of the whole child too: the baselines' times include their start-up, so the
// ratios compare process wall times (Node start and SDK load included).
const runWorker = async (args) => {
  const started = process.hrtime.bigint();
  const result = await runNodeChild(worker, args, { env: workerEnv });
  return { ...result, wall: Number(process.hrtime.bigint() - started) / 1e9 };
};

// Deleted objects wait for radosgw's garbage collector (2 h by default) while the memstore
// keeps them in RAM: collect them now. Only already-deleted data is touched.
const cephConf = process.env.STORE_TEST_CEPH_CONF ?? fromFile.STORE_TEST_CEPH_CONF;
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

const base = process.env.STORE_BENCH_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const work = await mkdtemp(join(base, 'store-bench-s3-'));
try {
  const source = join(work, 'image.raw');
  const download = join(work, 'download.raw');
  execFileSync('dd', [
    'if=/dev/urandom',
    `of=${source}`,
    'bs=1M',
    `count=${sizeMiB}`,
    'status=none',
  ]);
  const bytes = sizeMiB * MiB;
  const expected = execFileSync('sha512sum', [source]).toString().split(' ')[0];
  await aws(['s3', 'mb', `s3://${bucket}`]);

  const adds = [];
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
    const added = await runWorker(['add', source, `store-${i}`]);
    if (added.multihash !== expected) throw new Error('add: multihash mismatch');
    const got = await runWorker(['get', added.location]);
    if (got.bytes !== bytes) throw new Error('get: size mismatch');
    const hashed = await runWorker(['get-hashed', added.location]);
    if (hashed.multihash !== expected || hashed.checksum !== added.checksum)
      throw new Error('get: data mismatch');
    adds.push(added);
    gets.push(got);
    hashedGets.push(hashed);
    await aws(['s3', 'rm', '--only-show-errors', `s3://${bucket}/store-${i}`]);
    collectGarbage();
  }
  const add = await median(runs, (i) => adds[i]);
  const get = await median(runs, (i) => gets[i]);
  const hashedGet = await median(runs, (i) => hashedGets[i]);
  const awsUp = await median(runs, (i) => awsUps[i]);
  const awsDown = await median(runs, (i) => awsDowns[i]);

  const mibps = (s) => fmt(bytes / MiB / s, 0);
  console.log(`\n### s3 driver against radosgw, ${sizeMiB} MiB image (median of ${runs})\n`);
  // seconds: the operation inside the worker; process s: the worker's whole run, as the
  // baselines are timed; the ratio compares process wall times.
  const row = (op, ours, baseline, baselineName) => [
    op,
    fmt(ours.seconds),
    fmt(ours.wall),
    mibps(ours.wall),
    fmt(ours.peakRssMiB, 0),
    baselineName,
    fmt(baseline.seconds),
    mibps(baseline.seconds),
    fmt(baseline.peakRssMiB, 0),
    fmt(ours.wall / baseline.seconds),
  ];
  console.log(
    table(
      [
        'op',
        'seconds',
        'process s',
        'MiB/s (process)',
        'peak RSS MiB',
        'baseline',
        'baseline s',
        'baseline MiB/s',
        'baseline RSS MiB',
        'ratio',
      ],
      [
        row('add (md5 + sha512)', add, awsUp, 'aws s3 cp file s3://'),
        row('get', get, awsDown, 'aws s3 cp s3:// file'),
        row('get + md5 + sha512 of the bytes', hashedGet, awsDown, 'aws s3 cp s3:// file'),
      ],
    ),
  );
  console.log(
    `\nEndpoint ${endpoint}, defaults (10 MiB parts, 10 in flight); aws s3 cp ${execFileSync(AWS, ['--version']).toString().trim().split(' ')[0]} with its defaults (8 MiB parts, 10 threads), writing to ${base}. Targets: add and get ratio <= 1.0, peak RSS < 200 MiB (aws s3 cp does no hashing).`,
  );
} finally {
  await aws(['s3', 'rb', '--force', `s3://${bucket}`]).catch(() => undefined);
  collectGarbage();
  await rm(work, { recursive: true, force: true });
}
