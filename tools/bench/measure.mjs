// Shared measuring for benchmark rows: run a command or a node child, take wall
// time and peak RSS, repeat and keep the median; plus the setup every row shares
// (a scratch directory, a random source file, the one store worker, table cells).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { serviceEnv } from '@store/testkit/services';

const here = dirname(fileURLToPath(import.meta.url));

/** /usr/bin/time's report: peak RSS (KiB), then the process's user and system CPU seconds. */
const TIME_FORMAT = '%M %U %S';

/** { peakRssMiB, cpuSeconds } from the last line /usr/bin/time wrote to `stderr`. */
function timeReport(stderr) {
  const [kib, user, sys] = stderr.trim().split('\n').at(-1).split(' ').map(Number);
  return { peakRssMiB: kib / 1024, cpuSeconds: user + sys };
}

/**
 * Runs `command` with `args` under /usr/bin/time, returns { seconds, peakRssMiB,
 * cpuSeconds } (cpuSeconds: user + sys of the process and its threads).
 */
export function timeCommand(command, args, { stdout = 'ignore', env } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', TIME_FORMAT, command, ...args], {
      stdio: ['ignore', stdout, 'pipe'],
      env: env ?? process.env,
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0)
        return reject(
          new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-500)}`),
        );
      resolve({ seconds, ...timeReport(stderr), stderr });
    });
  });
}

/**
 * Runs `command` that prints one JSON line { seconds, ...} on stdout; adds its peak
 * RSS and CPU seconds (the whole process, start-up included; `seconds` is its own).
 */
export function runJsonChild(command, args, { env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', TIME_FORMAT, command, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: env ?? process.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0)
        return reject(
          new Error(
            `${command} ${args.join(' ')} exited ${code}: ${(stdout + stderr).slice(-2000)}`,
          ),
        );
      const result = JSON.parse(stdout.trim().split('\n').at(-1));
      resolve({ ...result, ...timeReport(stderr) });
    });
  });
}

/** Runs a node script that prints one JSON line { seconds, ...} on stdout; adds its peak RSS. */
export function runNodeChild(script, args, options) {
  return runJsonChild(process.execPath, [script, ...args], options);
}

/**
 * Returns the run with the median `seconds` of `runs`, plus `minSeconds`,
 * `maxSeconds` and the median `cpuSeconds` (and `serverCpuSeconds`) of all of them.
 */
export function medianOf(runs) {
  const sorted = [...runs].sort((a, b) => a.seconds - b.seconds);
  const middle = (key) => {
    const values = runs.map((r) => r[key]).sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)];
  };
  return {
    ...sorted[Math.floor(sorted.length / 2)],
    minSeconds: sorted[0].seconds,
    maxSeconds: sorted.at(-1).seconds,
    cpuSeconds: middle('cpuSeconds'),
    ...('serverCpuSeconds' in runs[0] ? { serverCpuSeconds: middle('serverCpuSeconds') } : {}),
    runs: runs.length,
  };
}

/**
 * Ceph's daemons as tools/services runs them: a request to radosgw or rbd also costs
 * their CPU, on the same cores as the client's.
 */
export const CEPH_DAEMONS = ['radosgw', 'ceph-osd', 'ceph-mon', 'ceph-mgr'];

let clockTicks;
/** User + system CPU seconds so far of every process whose name (`comm`) is in `names`. */
export function daemonCpuSeconds(names) {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
  let ticks = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ..." where comm may hold spaces: fields count from the last ')'.
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    if (!names.includes(name)) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
  }
  return ticks / clockTicks;
}

/**
 * Runs `fn` (which returns a run) and adds `serverCpuSeconds`: what the `names`
 * daemons spent meanwhile. Nothing else should run against them at the time.
 */
export async function withServerCpu(names, fn) {
  const before = daemonCpuSeconds(names);
  const run = await fn();
  return { ...run, serverCpuSeconds: daemonCpuSeconds(names) - before };
}

/** Runs `fn` `times` times and returns the run with the median `seconds`. */
export async function median(times, fn) {
  const runs = [];
  for (let i = 0; i < times; i++) runs.push(await fn(i));
  return medianOf(runs);
}

/**
 * Parses a row's flags: --size-mib (1024), --runs (`defaultRuns`) and any `extra`
 * parseArgs options; returns their values with `sizeMiB` and `runs` as numbers.
 */
export function rowArgs(defaultRuns, extra = {}) {
  const { values } = parseArgs({
    options: {
      'size-mib': { type: 'string', default: '1024' },
      runs: { type: 'string', default: String(defaultRuns) },
      ...extra,
    },
  });
  return { ...values, sizeMiB: Number(values['size-mib']), runs: Number(values.runs) };
}

/**
 * Where rows put their scratch files: tmpfs by default, since the VM's disk (ext4 with
 * online discard) makes timings swing several-fold from run to run;
 * STORE_BENCH_DIR=/some/disk/dir measures a disk instead.
 */
export const benchBase =
  process.env.STORE_BENCH_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());

/** Makes a fresh scratch directory `store-bench-<prefix>-XXXXXX` under `benchBase`. */
export function benchDir(prefix) {
  return mkdtemp(join(benchBase, `store-bench-${prefix}-`));
}

/** Writes `sizeMiB` MiB of random bytes to `dir`/image.raw, reads it once to warm the page cache, returns its path. */
export function makeSourceFile(dir, sizeMiB) {
  const source = join(dir, 'image.raw');
  execFileSync('dd', [
    'if=/dev/urandom',
    `of=${source}`,
    'bs=1M',
    `count=${sizeMiB}`,
    'status=none',
  ]);
  execFileSync('cat', [source], { stdio: ['ignore', 'ignore', 'inherit'] });
  return source;
}

/** Hex sha512 of `file` by sha512sum: what every add's multihash must equal. */
export function sha512sum(file) {
  return execFileSync('sha512sum', [file]).toString().split(' ')[0];
}

/**
 * The `names` variables of `service` (tools/services' env file or the environment), or
 * throws. From testkit's vitest-free subpath: vitest would swell the peak RSS of a
 * measured child that imports this module.
 */
export async function needService(service, names) {
  const vars = serviceEnv(service, names);
  if (!vars) throw new Error(`this row needs ${service}: run tools/services up`);
  return vars;
}

/**
 * Returns `(args) => run` timing Debian's `aws` (explicitly: a pyenv shim comes first on
 * PATH) against an S3 endpoint; the keys go in its environment, never in argv.
 */
export function awsCli(endpoint, accessKey, secretKey) {
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: accessKey,
    AWS_SECRET_ACCESS_KEY: secretKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  };
  return (args) => timeCommand('/usr/bin/aws', ['--endpoint-url', endpoint, ...args], { env });
}

/** The one child process of every row: add, get or delete through MultiStore. */
export const storeWorker = join(here, 'store-worker.mjs');

/**
 * Returns `(args) => run` running store-worker.mjs against one backend `{ type, options }`.
 * The options travel in the environment, never in argv where `ps` would show the keys.
 */
export function storeRunner(backend) {
  const env = {
    ...process.env,
    NODE_NO_WARNINGS: '1',
    STORE_BENCH_BACKEND: JSON.stringify(backend),
  };
  return (args) => runNodeChild(storeWorker, args, { env });
}

/** Formats rows as a markdown table. */
export function table(headers, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

export const MiB = 1024 * 1024;
export const fmt = (n, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : String(n));

/** `median (min–max)` of a {@link medianOf} result's seconds (a single run: its seconds). */
export const secondsCell = (run) =>
  run.runs > 1
    ? `${fmt(run.seconds)} (${fmt(run.minSeconds)}–${fmt(run.maxSeconds)})`
    : fmt(run.seconds);

/** The `seconds`, `CPU s`, `MiB/s` and `peak RSS MiB` cells of a run that moved `bytes`. */
export const runCells = (run, bytes) => [
  secondsCell(run),
  fmt(run.cpuSeconds),
  fmt(bytes / MiB / run.seconds, 0),
  fmt(run.peakRssMiB, 0),
];

/** Table columns of a row whose lines are `[op, ...runCells(), ...versusCells()]`. */
export const VERSUS_HEADERS = [
  'op',
  'seconds, median (min–max)',
  'CPU s',
  'MiB/s',
  'peak RSS MiB',
  'baseline',
  'baseline s',
  'baseline CPU s',
  'ratio',
];

/** The `baseline`, `baseline s`, `baseline CPU s` and `ratio` cells of `run` against `baseline` (none: blanks). */
export const versusCells = (run, name, baseline) =>
  baseline
    ? [name, secondsCell(baseline), fmt(baseline.cpuSeconds), fmt(run.seconds / baseline.seconds)]
    : ['', '', '', ''];

/** A whole {@link VERSUS_HEADERS} line: `op`, the run's cells, and the baseline's if given. */
export const versusRow = (op, run, bytes, name, baseline) => [
  op,
  ...runCells(run, bytes),
  ...versusCells(run, name, baseline),
];
