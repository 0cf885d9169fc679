#!/usr/bin/env node
// @ts-check
/**
 * Command line of the soak (see src/soak.mjs). Prints progress on stderr and the
 * report as one JSON line on stdout; exits 1 when any read mismatched, any error
 * other than the injected ones happened, or the backend kept anything.
 *
 *   node tools/soak/soak.mjs [--config glance-api.conf] [--backend id | --services]
 *     [--concurrency 64] [--duration 3m] [--max-ops N] [--sizes 4:0-4k,3:64k-256k,...]
 *     [--fault-rate 0.05] [--pool N] [--concurrent-adds N] [--concurrent-gets N]
 *     [--buffer-memory MiB] [--read-ahead MiB] [--sample 5s]
 */
import { parseArgs } from 'node:util';
import { openBackend, openServices } from './src/backend.mjs';
import { attachOtel } from './src/metrics.mjs';
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
    services: { type: 'boolean', default: false },
    'concurrent-adds': { type: 'string' },
    'concurrent-gets': { type: 'string' },
    'buffer-memory': { type: 'string' },
    'read-ahead': { type: 'string' },
    sample: { type: 'string', default: '5s' },
  },
});

/** @param {string} name @param {string | undefined} text @param {number} [scale] */
function positive(name, text, scale = 1) {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`soak: --${name} must be an integer >= 1`);
  return value * scale;
}
const MiB = 1024 * 1024;
/** @type {import('@store/core').StoreLimits} */
const limits = {
  ...(values['concurrent-adds']
    ? { concurrentAdds: positive('concurrent-adds', values['concurrent-adds']) }
    : {}),
  ...(values['concurrent-gets']
    ? { concurrentGets: positive('concurrent-gets', values['concurrent-gets']) }
    : {}),
  ...(values['buffer-memory']
    ? { bufferMemory: positive('buffer-memory', values['buffer-memory'], MiB) }
    : {}),
};
const readAhead =
  values['read-ahead'] === undefined ? undefined : Number(values['read-ahead']) * MiB;
if (readAhead !== undefined && !(Number.isInteger(readAhead) && readAhead >= 0))
  throw new Error('soak: --read-ahead must be an integer >= 0 (MiB)');
const sampleMs = durationMs(values.sample ?? '5s');
if (values.services && (values.config || values.backend))
  throw new Error('soak: --services makes its own config: leave out --config and --backend');

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

const tuning = { limits, ...(readAhead !== undefined ? { readAheadLimit: readAhead } : {}) };
const subject = values.services
  ? await openServices(tuning)
  : await openBackend({
      ...(values.config ? { config: values.config } : {}),
      ...(values.backend ? { backend: values.backend } : {}),
      ...tuning,
    });
const otel = attachOtel(subject.store, { intervalMs: sampleMs });
const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
let report;
/** @type {any} */
let otelSummary;
try {
  process.stderr.write(
    `soak: ${subject.description}, ${concurrency} workers, ${values.duration}${maxOps ? `, at most ${maxOps} operations` : ''}, sizes ${values.sizes}, fault rate ${faultRate}, limits ${JSON.stringify(limits)}${readAhead !== undefined ? `, read-ahead ${values['read-ahead']} MiB` : ''}\n`,
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
    sampleMs,
  });
} finally {
  otelSummary = await otel.summary().catch((err) => ({ error: String(err) }));
  await otel.close();
  await subject.close();
}
process.stdout.write(`${JSON.stringify({ ...report, otel: otelSummary })}\n`);
process.stderr.write(
  'soak: RSS samples (s: rss MiB, buffer memory MiB, adds/gets running, queued):\n',
);
for (const x of report.rss.samples)
  process.stderr.write(
    `soak:   ${x.s}s: ${x.rssMiB} MiB, buffers ${x.bufferMiB} MiB, ${x.adds}/${x.gets} running, ${x.queued} queued\n`,
  );
process.stderr.write(`soak: bounds: ${JSON.stringify(report.bounds)}\n`);
process.stderr.write(
  'soak: otel metrics (counters and histograms: totals; gauges: highest seen):\n',
);
for (const [name, metric] of Object.entries(otelSummary ?? {})) {
  for (const [key, value] of Object.entries(metric.values ?? {}))
    process.stderr.write(
      `soak:   ${name} {${key}} = ${JSON.stringify(value)}${metric.unit ? ` ${metric.unit}` : ''}\n`,
    );
}
process.stderr.write(
  `soak: ${report.ok ? 'OK' : 'FAILED'}: ${report.ops} operations in ${report.seconds}s (${report.adds} adds, ${report.gets} gets, ${report.deletes} deletes, ${report.verifiedReads} reads verified, ${report.faultsAsExpected}/${report.faultsInjected} injected faults typed), RSS ${report.rss.startMiB} MiB idle at start, ${report.rss.warmMiB} MiB warm (20% in), ${report.rss.endMiB} MiB at the end of the load, ${report.rss.peakMiB} MiB peak, ${report.rss.afterMiB} MiB after cleanup\n`,
);
for (const line of report.problems) process.stderr.write(`soak: problem: ${line}\n`);
process.exitCode = report.ok ? 0 : 1;
