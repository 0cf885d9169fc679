/**
 * Hashing on the way in: md5 (glance's `checksum`) and the caller's multihash
 * algorithm, computed while the data streams to the driver.
 *
 * For large images each algorithm runs in a worker thread of a small shared pool
 * (one per core), so md5 and the multihash run side by side and never block the
 * event loop, and many concurrent images share the same few threads. Chunks are
 * copied once into SharedArrayBuffer batches (allocated as needed, at most
 * `batches` per image) that the workers read; the batches bound memory and give
 * backpressure.
 *
 * Module-level state, on purpose: the worker pool and the spare batch buffers
 * are process-wide, shared by every MultiStore (a pool per store would cost a V8
 * isolate per thread per store, and closing one store would stop another's
 * hashing). Idle workers do not keep the process alive; {@link shutdownHashWorkers}
 * stops them and drops the spare buffers explicitly (tests, hosts that unload
 * core), and the pool starts again on next use.
 */
import { createHash, getFips, getHashes, type Hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type Block, type BlockSink, BlockWriter } from './block-writer.js';
import { LentBuffers } from './chunk-buffers.js';
import { BackendException, BadStoreConfiguration, UnknownHashingAlgo } from './errors.js';

/** Digests of one image. */
export interface ImageDigests {
  /** md5 hex digest (glance's `checksum`). */
  readonly checksum: string;
  /** Hex digest of the multihash algorithm. */
  readonly multihash: string;
}

/**
 * Python hashlib names (what glance_store accepts: `hashlib.algorithms_available`)
 * whose OpenSSL name differs by more than `_` for `-`. hashlib's blake2b and blake2s
 * default to their largest digests, 64 and 32 bytes.
 */
const PYTHON_NAMES: Readonly<Record<string, string>> = {
  blake2b: 'blake2b512',
  blake2s: 'blake2s256',
};

/**
 * Extendable-output functions: hashlib's `shake_*` need a digest length that
 * glance_store never passes (its add fails with a TypeError after writing), so
 * no multihash can be agreed on.
 */
const EXTENDABLE_OUTPUT = new Set(['shake128', 'shake256']);

/**
 * Resolves a hash algorithm name as Python's hashlib or Node's crypto spells it
 * (`sha3_256` and `sha3-256`, `blake2b` and `blake2b512` all work): every name in
 * glance_store's accepted list (`hashlib.algorithms_available`) that Node computes.
 * @throws UnknownHashingAlgo when this Node.js build does not offer it (or refuses
 * it, as OpenSSL in FIPS mode does for non-approved algorithms), and for the
 * shake functions, which have no fixed digest.
 */
export function resolveHashAlgorithm(name: string): string {
  const available = new Set(getHashes());
  const lower = String(name).toLowerCase();
  const python = Object.hasOwn(PYTHON_NAMES, lower) ? PYTHON_NAMES[lower] : undefined;
  for (const candidate of [python, lower, lower.replace(/_/g, '-'), lower.replace(/_/g, '')]) {
    if (candidate === undefined || !available.has(candidate)) continue;
    if (EXTENDABLE_OUTPUT.has(candidate)) {
      throw new UnknownHashingAlgo(
        `Hashing algorithm '${name}' is an extendable-output function without a fixed digest length; glance_store cannot produce a multihash with it either`,
      );
    }
    if (!canCreate(candidate)) break;
    return candidate;
  }
  throw new UnknownHashingAlgo(`Unknown hashing algorithm '${name}'`);
}

/** True when OpenSSL will compute `algorithm` (listed names may still be refused in FIPS mode). */
function canCreate(algorithm: string, create: typeof createHash = createHash): boolean {
  try {
    create(algorithm);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks that md5, glance's `checksum`, can be computed. OpenSSL in FIPS mode
 * refuses md5; glance_store asks Python for it with `usedforsecurity=False` (it is
 * only a checksum), but Node's crypto has no such flag. Called when a store is
 * created, so such a process fails at start-up rather than at its first add.
 * @param create the hash factory to probe (Node's `createHash`).
 * @throws BadStoreConfiguration when md5 is refused.
 */
export function checkChecksumAvailable(create: typeof createHash = createHash): void {
  if (canCreate('md5', create)) return;
  const fips = getFips() === 1 ? ' (OpenSSL runs in FIPS mode, which refuses md5)' : '';
  throw new BadStoreConfiguration(
    `md5, needed for every image's checksum, is not available in this Node.js${fips}; run Node.js without FIPS mode (Node's crypto cannot ask for md5 as a non-security checksum, as glance_store does)`,
  );
}

/** Where hashing work runs. */
export interface HasherOptions {
  /** Run each algorithm in a worker thread (for large or unknown-size images). */
  readonly parallel: boolean;
  /** Bytes per batch handed to the workers. */
  readonly batchBytes?: number;
  /** Batches in flight (default 4 of 2 MiB); with batchBytes this bounds the memory per image. */
  readonly batches?: number;
}

/** Feeds image bytes to the digests. */
export interface ImageHasher {
  /** Adds a chunk; the promise resolves once the chunk is safely queued (backpressure). */
  update(chunk: Uint8Array): Promise<void> | void;
  /** Finishes and returns the digests. */
  digest(): Promise<ImageDigests>;
  /** Stops all work (on failure); safe to call more than once. */
  dispose(): void;
}

/** Creates a hasher for md5 plus `algorithm` (already resolved). */
export function createImageHasher(algorithm: string, options: HasherOptions): ImageHasher {
  return options.parallel ? new WorkerHasher(algorithm, options) : new InlineHasher(algorithm);
}

class InlineHasher implements ImageHasher {
  readonly #md5: Hash = createHash('md5');
  readonly #multi: Hash | undefined;

  constructor(algorithm: string) {
    this.#multi = algorithm === 'md5' ? undefined : createHash(algorithm);
  }

  update(chunk: Uint8Array): void {
    this.#md5.update(chunk);
    this.#multi?.update(chunk);
  }

  async digest(): Promise<ImageDigests> {
    const checksum = this.#md5.digest('hex');
    return { checksum, multihash: this.#multi ? this.#multi.digest('hex') : checksum };
  }

  dispose(): void {}
}

// Worker body, evaluated as CommonJS so it works from both builds and from bundles.
// One worker hashes many images at once: each job keeps its own hash state.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const jobs = new Map();
parentPort.on('message', (m) => {
  try {
    if (m.start !== undefined) { jobs.set(m.job, createHash(m.start)); return; }
    if (m.cancel) { jobs.delete(m.job); return; }
    const hash = jobs.get(m.job);
    if (!hash) return;
    if (m.end) {
      jobs.delete(m.job);
      parentPort.postMessage({ job: m.job, digest: hash.digest('hex') });
      return;
    }
    hash.update(new Uint8Array(m.buffer, 0, m.length));
    parentPort.postMessage({ job: m.job, ack: m.id });
  } catch (err) {
    jobs.delete(m.job);
    parentPort.postMessage({ job: m.job, error: String((err && err.message) || err) });
  }
});
`;

/** What a job hears back from its worker. */
interface JobListener {
  ack(batchId: number): void;
  digest(hex: string): void;
  fail(err: Error): void;
}

/** One hash worker thread of the pool and the jobs it is running. */
class PooledWorker {
  readonly #worker: Worker;
  readonly #jobs = new Map<number, JobListener>();

  constructor(onGone: (worker: PooledWorker) => void) {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true });
    // An idle pool must not keep the process alive; a busy one must.
    this.#worker.unref();
    this.#worker.on(
      'message',
      (m: { job: number; ack?: number; digest?: string; error?: string }) => {
        const job = this.#jobs.get(m.job);
        if (!job) return;
        if (m.ack !== undefined) job.ack(m.ack);
        else if (m.digest !== undefined) {
          this.#release(m.job);
          job.digest(m.digest);
        } else if (m.error !== undefined) {
          this.#release(m.job);
          job.fail(new BackendException(`Hashing failed: ${m.error}`));
        }
      },
    );
    const gone = (err: Error) => {
      onGone(this);
      const jobs = [...this.#jobs.values()];
      this.#jobs.clear();
      for (const job of jobs) job.fail(err);
    };
    this.#worker.on('error', gone);
    this.#worker.on('exit', (code) =>
      gone(new BackendException(`Hash worker exited early (code ${code})`)),
    );
  }

  /** Stops the thread; its jobs fail with `reason`. */
  async terminate(reason: Error): Promise<void> {
    const jobs = [...this.#jobs.values()];
    this.#jobs.clear();
    for (const job of jobs) job.fail(reason);
    await this.#worker.terminate();
  }

  start(job: number, algorithm: string, listener: JobListener): void {
    if (this.#jobs.size === 0) this.#worker.ref();
    this.#jobs.set(job, listener);
    this.#worker.postMessage({ job, start: algorithm });
  }

  update(job: number, id: number, buffer: SharedArrayBuffer, length: number): void {
    this.#worker.postMessage({ job, id, buffer, length });
  }

  end(job: number): void {
    this.#worker.postMessage({ job, end: true });
  }

  /** Drops a job that will not finish (its hasher was disposed). */
  cancel(job: number): void {
    if (!this.#jobs.has(job)) return;
    this.#release(job);
    this.#worker.postMessage({ job, cancel: true });
  }

  #release(job: number): void {
    if (this.#jobs.delete(job) && this.#jobs.size === 0) this.#worker.unref();
  }
}

/**
 * The hash worker threads shared by every hasher in the process: a fixed number
 * (one per core, at least 2 so md5 and the multihash of one image still run side
 * by side), started on first use. Per-image threads would cost a V8 isolate
 * (several MiB) per concurrent add or verified get.
 */
class HashWorkerPool {
  readonly #slots: (PooledWorker | undefined)[];
  #next = 0;

  constructor(size: number) {
    this.#slots = new Array<PooledWorker | undefined>(size).fill(undefined);
  }

  /** `count` distinct workers (count ≤ the pool size), taken round-robin. */
  take(count: number): PooledWorker[] {
    const taken: PooledWorker[] = [];
    for (let i = 0; i < count; i++) {
      const slot = (this.#next + i) % this.#slots.length;
      let worker = this.#slots[slot];
      if (!worker) {
        // A worker that died is replaced on next use.
        worker = new PooledWorker((gone) => {
          if (this.#slots[slot] === gone) this.#slots[slot] = undefined;
        });
        this.#slots[slot] = worker;
      }
      taken.push(worker);
    }
    this.#next = (this.#next + count) % this.#slots.length;
    return taken;
  }

  /** Stops every started worker; jobs in progress fail with `reason`. */
  async terminate(reason: Error): Promise<void> {
    const workers = this.#slots.filter((w): w is PooledWorker => w !== undefined);
    this.#slots.fill(undefined);
    await Promise.all(workers.map((worker) => worker.terminate(reason)));
  }
}

let sharedPool: HashWorkerPool | undefined;
let nextJob = 0;

function hashWorkerPool(): HashWorkerPool {
  sharedPool ??= new HashWorkerPool(Math.max(2, Math.min(availableParallelism(), 16)));
  return sharedPool;
}

/**
 * Stops the process-wide hash worker threads and drops the spare batch buffers.
 * Idle workers never keep a process alive, so an application need not call it;
 * it frees the threads and memory at once, e.g. after the last MultiStore is
 * closed or between test files. Hashes still in progress fail with
 * BackendException; the next large add starts the pool again.
 */
export async function shutdownHashWorkers(): Promise<void> {
  const pool = sharedPool;
  sharedPool = undefined;
  spareBuffers.clear();
  spareBytes = 0;
  await pool?.terminate(new BackendException('Hashing was stopped by shutdownHashWorkers()'));
}

/**
 * Batch buffers recycled across images. The pool's workers live long and
 * rarely collect garbage, so a SharedArrayBuffer they have seen stays allocated
 * long after its image is done: allocating fresh ones per image grows memory
 * without bound under load. Reuse keeps it at the peak number in flight.
 */
const spareBuffers = new Map<number, SharedArrayBuffer[]>();
const MAX_SPARE_BYTES = 256 << 20;
let spareBytes = 0;

function takeBuffer(size: number): SharedArrayBuffer {
  const buffer = spareBuffers.get(size)?.pop();
  if (!buffer) return new SharedArrayBuffer(size);
  spareBytes -= size;
  return buffer;
}

/** Returns a buffer no worker will read again (every worker acknowledged it). */
function giveBackBuffer(buffer: SharedArrayBuffer): void {
  if (spareBytes + buffer.byteLength > MAX_SPARE_BYTES) return;
  const list = spareBuffers.get(buffer.byteLength) ?? [];
  spareBuffers.set(buffer.byteLength, list);
  list.push(buffer);
  spareBytes += buffer.byteLength;
}

/**
 * Hands batches to the workers: a block is written once every worker has
 * acknowledged reading it.
 */
class WorkerSink implements BlockSink {
  readonly #job: number;
  readonly #workers: PooledWorker[];
  readonly #pending = new Map<
    number,
    { acks: number; done: () => void; fail: (e: Error) => void }
  >();
  #failure: Error | undefined;

  constructor(job: number, workers: PooledWorker[]) {
    this.#job = job;
    this.#workers = workers;
  }

  writeBlock(block: Block): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    const { bytes, index } = block;
    return new Promise<void>((done, fail) => {
      this.#pending.set(index, { acks: this.#workers.length, done, fail });
      for (const worker of this.#workers) {
        worker.update(this.#job, index, bytes.buffer as SharedArrayBuffer, bytes.byteLength);
      }
    });
  }

  acknowledge(index: number): void {
    const pending = this.#pending.get(index);
    if (!pending || --pending.acks > 0) return;
    this.#pending.delete(index);
    pending.done();
  }

  /** Fails the batches not acknowledged yet: no worker will answer for them. */
  fail(err: Error): void {
    this.#failure ??= err;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const batch of pending) batch.fail(err);
  }
}

/**
 * Batches of `batchBytes`, at most `batches` per image, by the block writer
 * (one block per batch, each written to every worker).
 */
class WorkerHasher implements ImageHasher {
  readonly #job = nextJob++;
  readonly #workers: PooledWorker[];
  readonly #sink: WorkerSink;
  readonly #pool: LentBuffers;
  readonly #writer: BlockWriter;
  readonly #digests: Promise<string>[];
  #disposed = false;

  constructor(algorithm: string, { batchBytes = 2 << 20, batches = 4 }: HasherOptions) {
    const algorithms = algorithm === 'md5' ? ['md5'] : ['md5', algorithm];
    this.#workers = hashWorkerPool().take(algorithms.length);
    this.#sink = new WorkerSink(this.#job, this.#workers);
    const window = Math.max(1, batches);
    // Batches are taken as needed: a small image never takes the whole pool.
    this.#pool = new LentBuffers({ maxBytes: window * batchBytes, create: takeBuffer });
    this.#writer = new BlockWriter(this.#sink, {
      blockSize: batchBytes,
      window,
      signal: new AbortController().signal,
      operation: 'hashing',
      pool: this.#pool,
    });
    this.#digests = algorithms.map(
      (a, i) =>
        new Promise<string>((resolve, reject) => {
          this.#workers[i]!.start(this.#job, a, {
            ack: (id) => this.#sink.acknowledge(id),
            digest: resolve,
            fail: (err) => {
              this.#sink.fail(err);
              void this.#writer.abort(err);
              reject(err);
            },
          });
        }),
    );
    // Digest promises may be rejected before anyone awaits them (on dispose).
    for (const p of this.#digests) p.catch(() => undefined);
  }

  update(chunk: Uint8Array): Promise<void> {
    return this.#writer.write(chunk);
  }

  async digest(): Promise<ImageDigests> {
    await this.#writer.finish();
    for (const worker of this.#workers) worker.end(this.#job);
    const [checksum, multihash] = await Promise.all(this.#digests);
    this.dispose();
    return { checksum: checksum!, multihash: multihash ?? checksum! };
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const stopped = new BackendException('Hashing was stopped');
    for (const worker of this.#workers) worker.cancel(this.#job);
    this.#sink.fail(stopped);
    void this.#writer.abort(stopped);
    // Batches still in flight may yet be read by a worker: only idle ones are reused.
    for (const buffer of this.#pool.takeIdle()) giveBackBuffer(buffer as SharedArrayBuffer);
  }
}
