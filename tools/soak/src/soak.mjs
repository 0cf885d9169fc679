// @ts-check
/**
 * The soak: `concurrency` workers add, read and delete images of mixed sizes
 * against one backend until the time or operation budget runs out. Every read is
 * hashed and compared with the digests made when its bytes were generated; a
 * share of adds get an injected fault (source failure, abort, wrong declared
 * size), which must fail with its typed error and leave the id free. At the end
 * every image left is read back once more and deleted, and the backend must hold
 * nothing. RSS is sampled throughout.
 */
import { drawSize } from './sizes.mjs';
import { CHUNK_BYTES, hashStream, randomSource } from './source.mjs';

/**
 * @typedef {object} SoakOptions
 * @property {number} concurrency workers running at once
 * @property {number} durationMs stop starting operations after this long
 * @property {number} [maxOps] stop after this many operations (0 or absent: no limit)
 * @property {import('./sizes.mjs').SizeRange[]} sizes
 * @property {number} [faultRate] share of adds with an injected fault (default 0.05)
 * @property {number} [poolSize] images kept for reads (default: concurrency)
 * @property {(line: string) => void} [progress] called every `progressMs` with a status line
 * @property {number} [progressMs]
 * @property {AbortSignal} [stop] ends the soak early (e.g. on Ctrl-C), still sweeping up
 * @property {number} [sampleMs] RSS and the store's bounds are recorded this often
 *   in `rss.samples` (default 5000)
 */

/** @typedef {{ id: string, backend: string, location: string, size: number, checksum: string, multihash: string, readers: number }} Stored */

/** The typed error each injected fault must produce. */
const FAULTS = /** @type {const} */ ({
  source: 'BackendException',
  abort: 'OperationAborted',
  short: 'ImageSizeMismatch',
  long: 'ImageSizeMismatch',
});
const MAX_SAMPLES = 20;
const MiB = 1024 * 1024;

const rssMiB = () => Math.round((process.memoryUsage().rss / MiB) * 10) / 10;

/** @param {number[]} values */
function percentiles(values) {
  if (values.length === 0) return { p50: 0, p99: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  /** @param {number} q */
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 };
}

/**
 * Runs the soak against `subject` and returns the report (never throws for a
 * failed operation: those are counted and sampled in the report).
 * @param {import('./backend.mjs').SoakBackend} subject
 * @param {SoakOptions} options
 */
export async function runSoak(subject, options) {
  const { store } = subject;
  const targets = subject.targets ?? [
    { backend: subject.backend, listObjects: subject.listObjects },
  ];
  /** @type {Record<string, { adds: number, gets: number, deletes: number }>} */
  const byBackend = Object.fromEntries(
    targets.map((t) => [t.backend, { adds: 0, gets: 0, deletes: 0 }]),
  );
  const faultRate = options.faultRate ?? 0.05;
  const poolSize = options.poolSize ?? options.concurrency;
  const runId = Date.now().toString(36);
  const random = Math.random;
  /** @type {Stored[]} */
  const pool = [];
  const counts = {
    ops: 0,
    adds: 0,
    gets: 0,
    verifiedReads: 0,
    deletes: 0,
    faultsInjected: 0,
    faultsAsExpected: 0,
    bytesWritten: 0,
    bytesRead: 0,
    mismatches: 0,
    unexpectedErrors: 0,
  };
  /** @type {Record<string, number[]>} */
  const latencyMs = { add: [], get: [], delete: [] };
  /** @type {string[]} */
  const samples = [];
  /** @param {string} what */
  const problem = (what) => {
    if (samples.length < MAX_SAMPLES) samples.push(what);
  };
  let nextId = 0;

  // start: idle; warm: under load, once 20% of the time has passed; end: as the
  // load stops; after: once everything is deleted (after a GC when --expose-gc).
  // Flat memory means end ≈ warm however long the soak runs.
  /** @type {{ s: number, rssMiB: number, bufferMiB: number, adds: number, gets: number, queued: number }[]} */
  const series = [];
  const rss = {
    startMiB: rssMiB(),
    warmMiB: 0,
    endMiB: 0,
    peakMiB: rssMiB(),
    afterMiB: 0,
    samples: series,
  };
  // The most each bound held at once (sampled): what the configured limits must cap.
  const peaks = {
    adds: 0,
    gets: 0,
    bufferBytes: 0,
    queuedAdds: 0,
    queuedGets: 0,
    queuedForMemory: 0,
  };
  const limits = store.stats();
  const started = Date.now();
  const deadline = started + options.durationMs;
  const sampler = setInterval(() => {
    rss.peakMiB = Math.max(rss.peakMiB, rssMiB());
    if (!rss.warmMiB && Date.now() - started >= options.durationMs / 5) rss.warmMiB = rssMiB();
    const { adds, gets, memory } = store.stats();
    peaks.adds = Math.max(peaks.adds, adds.inUse);
    peaks.gets = Math.max(peaks.gets, gets.inUse);
    peaks.bufferBytes = Math.max(peaks.bufferBytes, memory.inUse);
    peaks.queuedAdds = Math.max(peaks.queuedAdds, adds.queued);
    peaks.queuedGets = Math.max(peaks.queuedGets, gets.queued);
    peaks.queuedForMemory = Math.max(peaks.queuedForMemory, memory.queued);
  }, 250);
  const recorder = setInterval(() => {
    const { adds, gets, memory } = store.stats();
    series.push({
      s: Math.round((Date.now() - started) / 1000),
      rssMiB: rssMiB(),
      bufferMiB: Math.round((memory.inUse / MiB) * 10) / 10,
      adds: adds.inUse,
      gets: gets.inUse,
      queued: adds.queued + gets.queued,
    });
  }, options.sampleMs ?? 5000);
  const progress =
    options.progress &&
    setInterval(() => {
      const s = Math.round((Date.now() - started) / 1000);
      options.progress?.(
        `${s}s ops=${counts.ops} adds=${counts.adds} gets=${counts.gets} deletes=${counts.deletes} faults=${counts.faultsAsExpected}/${counts.faultsInjected} unexpected=${counts.unexpectedErrors} mismatches=${counts.mismatches} rss=${rssMiB()}MiB ${boundsLine(store.stats())}`,
      );
    }, options.progressMs ?? 10_000);

  /** @param {string} op @param {unknown} err */
  const unexpected = (op, err) => {
    counts.unexpectedErrors++;
    const e = /** @type {{ code?: string, message?: string }} */ (err);
    problem(`${op}: ${e?.code ?? 'Error'}: ${e?.message ?? String(err)}`);
  };

  /** Adds one image with a good source and checks what the store reports. */
  const addGood = async (
    /** @type {string} */ id,
    /** @type {number} */ size,
    /** @type {string} */ backend,
  ) => {
    const source = randomSource(size);
    const t0 = performance.now();
    const added = await store.add(id, source.chunks, random() < 0.5 ? size : 0, { backend });
    latencyMs.add?.push(performance.now() - t0);
    counts.adds++;
    const tally = byBackend[backend];
    if (tally) tally.adds++;
    counts.bytesWritten += size;
    const made = source.digests();
    if (
      added.size !== size ||
      added.checksum !== made.checksum ||
      added.multihash !== made.multihash
    ) {
      counts.mismatches++;
      problem(`add ${id}: the store reports other digests or size than the bytes sent`);
    }
    pool.push({ id, backend, location: added.location, size, ...made, readers: 0 });
  };

  const doAdd = async () => {
    const id = `soak-${runId}-${nextId++}`;
    const { backend } = targets[Math.floor(random() * targets.length)] ?? targets[0] ?? {};
    if (!backend) return;
    let size = drawSize(options.sizes, random);
    const kinds = /** @type {(keyof typeof FAULTS)[]} */ (Object.keys(FAULTS));
    const fault = random() < faultRate ? kinds[Math.floor(random() * kinds.length)] : undefined;
    if (fault) {
      // Faults need an image of a few chunks to strike midway.
      size = Math.max(size, 4 * CHUNK_BYTES);
      counts.faultsInjected++;
      const controller = new AbortController();
      const source = randomSource(size, {
        ...(fault === 'source' ? { failAt: size / 2 } : {}),
        ...(fault === 'abort'
          ? { onChunk: (/** @type {number} */ at) => at >= size / 2 && controller.abort() }
          : {}),
      });
      const declared = fault === 'short' ? size + 1 : fault === 'long' ? size - 1 : size;
      try {
        await store.add(id, source.chunks, declared, { backend, signal: controller.signal });
        unexpected(`add ${id} with injected ${fault}`, new Error('succeeded'));
        return;
      } catch (err) {
        const code = /** @type {{ code?: string }} */ (err)?.code;
        if (code !== FAULTS[fault]) {
          unexpected(`add ${id} with injected ${fault}`, err);
          return;
        }
        counts.faultsAsExpected++;
      }
      // Nothing may be left under the id: adding it again must work.
    }
    await addGood(id, size, backend);
    // Keep the pool bounded: drop the oldest image nobody is reading.
    if (pool.length > poolSize) await doDelete();
  };

  const doGet = async () => {
    const entry = pool[Math.floor(random() * pool.length)];
    if (!entry) return;
    entry.readers++;
    try {
      const verify = random() < 0.5;
      const t0 = performance.now();
      const { stream, size } = await store.get(entry.location, {
        backend: entry.backend,
        ...(verify ? { verify: { checksum: entry.checksum, multihash: entry.multihash } } : {}),
      });
      const read = await hashStream(stream);
      latencyMs.get?.push(performance.now() - t0);
      counts.gets++;
      const tally = byBackend[entry.backend];
      if (tally) tally.gets++;
      counts.bytesRead += read.bytes;
      if (size !== entry.size || read.bytes !== entry.size || read.multihash !== entry.multihash) {
        counts.mismatches++;
        problem(`get ${entry.id}: ${read.bytes} bytes read of ${entry.size}, digest differs`);
      } else counts.verifiedReads++;
    } finally {
      entry.readers--;
    }
  };

  const doDelete = async () => {
    const at = pool.findIndex((e) => e.readers === 0);
    if (at < 0) return;
    const [entry] = pool.splice(at, 1);
    if (!entry) return;
    const t0 = performance.now();
    await store.delete(entry.location, { backend: entry.backend });
    latencyMs.delete?.push(performance.now() - t0);
    counts.deletes++;
    const tally = byBackend[entry.backend];
    if (tally) tally.deletes++;
    const gone = await store.getSize(entry.location, { backend: entry.backend }).then(
      () => false,
      (/** @type {{ code?: string }} */ e) => e?.code === 'NotFound',
    );
    if (!gone) problem(`delete ${entry.id}: still there afterwards`);
  };

  const stop = () =>
    Date.now() >= deadline ||
    !!options.stop?.aborted ||
    (!!options.maxOps && counts.ops >= options.maxOps);
  const worker = async () => {
    while (!stop()) {
      counts.ops++;
      const r = random();
      const op = pool.length === 0 || r < 0.45 ? 'add' : r < 0.92 ? 'get' : 'delete';
      try {
        if (op === 'add') await doAdd();
        else if (op === 'get') await doGet();
        else await doDelete();
      } catch (err) {
        unexpected(op, err);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const loadSeconds = (Date.now() - started) / 1000;
  rss.endMiB = rssMiB();
  clearInterval(sampler);
  clearInterval(recorder);
  if (progress) clearInterval(progress);
  // A bound that held more than its limit is a failure of the limiter.
  for (const [name, peak, limit] of /** @type {const} */ ([
    ['concurrentAdds', peaks.adds, limits.adds.limit],
    ['concurrentGets', peaks.gets, limits.gets.limit],
    ['bufferMemory', peaks.bufferBytes, limits.memory.limit],
  ])) {
    if (limit !== undefined && peak > limit)
      problem(`${name}: ${peak} held at once, over its limit ${limit}`);
  }

  // Final sweep: every image still stored reads back intact, then goes.
  let sweptImages = 0;
  for (const entry of [...pool]) {
    try {
      const { stream } = await store.get(entry.location, { backend: entry.backend });
      const read = await hashStream(stream);
      counts.bytesRead += read.bytes;
      if (read.bytes !== entry.size || read.multihash !== entry.multihash) {
        counts.mismatches++;
        problem(`final read of ${entry.id}: digest differs`);
      }
      sweptImages++;
    } catch (err) {
      unexpected('final read', err);
    }
  }
  while (pool.length > 0) {
    try {
      await doDelete();
    } catch (err) {
      unexpected('final delete', err);
      pool.shift();
    }
  }
  const listers = targets.filter((t) => t.listObjects);
  const leftovers =
    listers.length > 0
      ? (
          await Promise.all(
            listers.map(async (t) =>
              ((await t.listObjects?.(`soak-${runId}-`)) ?? []).map((name) =>
                targets.length > 1 ? `${t.backend}: ${name}` : name,
              ),
            ),
          )
        ).flat()
      : undefined;
  /** @type {{ gc?: () => void }} */ (globalThis).gc?.();
  await new Promise((resolve) => setTimeout(resolve, 200));
  rss.afterMiB = rssMiB();
  if (leftovers && leftovers.length > 0) problem(`left in the backend: ${leftovers.join(', ')}`);

  return {
    backend: subject.description,
    concurrency: options.concurrency,
    byBackend,
    seconds: Math.round(loadSeconds * 10) / 10,
    ...counts,
    sweptImages,
    writeMiBps: Math.round((counts.bytesWritten / MiB / loadSeconds) * 10) / 10,
    readMiBps: Math.round((counts.bytesRead / MiB / loadSeconds) * 10) / 10,
    latencyMs: Object.fromEntries(
      Object.entries(latencyMs).map(([op, values]) => [
        op,
        Object.fromEntries(Object.entries(percentiles(values)).map(([k, v]) => [k, Math.round(v)])),
      ]),
    ),
    rss,
    bounds: {
      limits: {
        concurrentAdds: limits.adds.limit ?? null,
        concurrentGets: limits.gets.limit ?? null,
        bufferMemoryMiB: limits.memory.limit === undefined ? null : limits.memory.limit / MiB,
      },
      peaks: { ...peaks, bufferMiB: Math.round((peaks.bufferBytes / MiB) * 10) / 10 },
    },
    leftovers: leftovers ?? `not checked (${subject.description})`,
    problems: samples,
    ok:
      counts.unexpectedErrors === 0 &&
      counts.mismatches === 0 &&
      counts.faultsAsExpected === counts.faultsInjected &&
      samples.length === 0,
  };
}

/**
 * The store's bounds as one progress-line field.
 * @param {import('@store/core').LimitStats} stats
 */
function boundsLine({ adds, gets, memory }) {
  return `running=${adds.inUse}a/${gets.inUse}g queued=${adds.queued}a/${gets.queued}g/${memory.queued}m buffers=${Math.round(memory.inUse / MiB)}MiB`;
}
