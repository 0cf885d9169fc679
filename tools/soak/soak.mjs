#!/usr/bin/env node
// @ts-check
/**
 * Command line of the soak (see src/soak.mjs). Prints progress on stderr and the
 * report as one JSON line on stdout; exits 1 when any read mismatched, any error
 * other than the injected ones happened, or the backend kept anything.
 *
 *   node tools/soak/soak.mjs [--config glance-api.conf] [--backend id]
 *     [--concurrency 64] [--duration 3m] [--max-ops N] [--sizes 4:0-4k,3:64k-256k,...]
 *     [--fault-rate 0.05] [--pool N]
 */
import { parseArgs } from 'node:util';
import { openBackend } from './src/backend.mjs';
import { DEFAULT_SIZES, parseSizes } from './src/sizes.mjs';
import { runSoak } from './src/soak.mjs';

/** @param {string} text seconds, or with an s/m/h suffix */
function durationMs(text) {
  const match = /^(\d+(?:\.\d+)?)([smh]?)$/.exec(text.trim());
  if (!match) throw new Error(`soak: bad duration '${text}' (e.g. 30s, 3m)`);
  return Number(match[1]) * ({ '': 1, s: 1, m: 60, h: 3600 }[match[2] ?? ''] ?? 1) * 1000;
}

const { values } = parseArgs({
  options: {
    config: { type: 'string' },
    backend: { type: 'string' },
    concurrency: { type: 'string', default: '64' },
    duration: { type: 'string', default: '3m' },
    'max-ops': { type: 'string', default: '0' },
    sizes: { type: 'string', default: DEFAULT_SIZES },
    'fault-rate': { type: 'string', default: '0.05' },
    pool: { type: 'string' },
  },
});

const concurrency = Number(values.concurrency);
const maxOps = Number(values['max-ops']);
const faultRate = Number(values['fault-rate']);
if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024)
  throw new Error('soak: --concurrency must be an integer from 1 to 1024');
if (!Number.isInteger(maxOps) || maxOps < 0) throw new Error('soak: --max-ops must be >= 0');
if (!(faultRate >= 0 && faultRate <= 1)) throw new Error('soak: --fault-rate must be in [0, 1]');
const duration = durationMs(values.duration ?? '3m');
// Bounded in time: a soak that is told to run longer than a day is a typo.
if (duration <= 0 || duration > 24 * 3600 * 1000)
  throw new Error('soak: --duration must be more than 0 and at most 24h');

const subject = await openBackend({
  ...(values.config ? { config: values.config } : {}),
  ...(values.backend ? { backend: values.backend } : {}),
});
const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
let report;
try {
  process.stderr.write(
    `soak: ${subject.description}, ${concurrency} workers, ${values.duration}${maxOps ? `, at most ${maxOps} operations` : ''}, sizes ${values.sizes}, fault rate ${faultRate}\n`,
  );
  report = await runSoak(subject, {
    concurrency,
    durationMs: duration,
    maxOps,
    sizes: parseSizes(values.sizes ?? DEFAULT_SIZES),
    faultRate,
    ...(values.pool ? { poolSize: Number(values.pool) } : {}),
    progress: (line) => process.stderr.write(`soak: ${line}\n`),
    stop: controller.signal,
  });
} finally {
  await subject.close();
}
process.stdout.write(`${JSON.stringify(report)}\n`);
process.stderr.write(
  `soak: ${report.ok ? 'OK' : 'FAILED'}: ${report.ops} operations in ${report.seconds}s (${report.adds} adds, ${report.gets} gets, ${report.deletes} deletes, ${report.verifiedReads} reads verified, ${report.faultsAsExpected}/${report.faultsInjected} injected faults typed), RSS ${report.rss.startMiB} MiB idle at start, ${report.rss.warmMiB} MiB warm (20% in), ${report.rss.endMiB} MiB at the end of the load, ${report.rss.peakMiB} MiB peak, ${report.rss.afterMiB} MiB after cleanup\n`,
);
for (const line of report.problems) process.stderr.write(`soak: problem: ${line}\n`);
process.exitCode = report.ok ? 0 : 1;
