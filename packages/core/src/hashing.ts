/**
 * Hashing on the way in: md5 (glance's `checksum`) and the caller's multihash
 * algorithm, computed while the data streams to the driver.
 *
 * For large images each algorithm runs in its own worker thread, so md5 and
 * sha512 (each ~600 MiB/s on one core) run side by side and never block the event
 * loop. Chunks are copied once into pooled SharedArrayBuffer batches that every
 * worker reads; the pool bounds memory and gives backpressure.
 */
import { createHash, getHashes, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { BackendException, UnknownHashingAlgo } from './errors.js';

/** Digests of one image. */
export interface ImageDigests {
  /** md5 hex digest (glance's `checksum`). */
  readonly checksum: string;
  /** Hex digest of the multihash algorithm. */
  readonly multihash: string;
}

/**
 * Resolves a hash algorithm name as Python's hashlib or Node's crypto spells it
 * (`sha3_256` and `sha3-256` both work).
 * @throws UnknownHashingAlgo when this Node.js build does not offer it.
 */
export function resolveHashAlgorithm(name: string): string {
  const available = new Set(getHashes());
  const lower = String(name).toLowerCase();
  for (const candidate of [lower, lower.replace(/_/g, '-')]) {
    if (available.has(candidate)) return candidate;
  }
  throw new UnknownHashingAlgo(`Unknown hashing algorithm '${name}'`);
}

/** Where hashing work runs. */
export interface HasherOptions {
  /** Run each algorithm in a worker thread (for large or unknown-size images). */
  readonly parallel: boolean;
  /** Bytes per batch handed to the workers. */
  readonly batchBytes?: number;
  /** Batches in flight; with batchBytes this bounds the memory used. */
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
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const hash = require('node:crypto').createHash(workerData.algorithm);
parentPort.on('message', (m) => {
  if (m.end) { parentPort.postMessage({ digest: hash.digest('hex') }); return; }
  hash.update(new Uint8Array(m.buffer, 0, m.length));
  parentPort.postMessage({ ack: m.id });
});
`;

interface Batch {
  readonly buffer: SharedArrayBuffer;
  readonly view: Uint8Array;
  filled: number;
  pendingAcks: number;
}

class WorkerHasher implements ImageHasher {
  readonly #workers: Worker[];
  readonly #batchBytes: number;
  readonly #free: Batch[] = [];
  readonly #inFlight = new Map<number, Batch>();
  readonly #waiters: (() => void)[] = [];
  readonly #digests: Promise<string>[];
  #current: Batch | undefined;
  #nextId = 0;
  #failure: Error | undefined;
  #disposed = false;

  constructor(algorithm: string, { batchBytes = 2 << 20, batches = 8 }: HasherOptions) {
    this.#batchBytes = batchBytes;
    for (let i = 0; i < batches; i++) {
      const buffer = new SharedArrayBuffer(batchBytes);
      this.#free.push({ buffer, view: new Uint8Array(buffer), filled: 0, pendingAcks: 0 });
    }
    const algorithms = algorithm === 'md5' ? ['md5'] : ['md5', algorithm];
    this.#workers = algorithms.map(
      (a) => new Worker(WORKER_SOURCE, { eval: true, workerData: { algorithm: a } }),
    );
    this.#digests = this.#workers.map(
      (worker) =>
        new Promise<string>((resolve, reject) => {
          worker.on('message', (m: { ack?: number; digest?: string }) => {
            if (m.digest !== undefined) resolve(m.digest);
            else if (m.ack !== undefined) this.#acknowledge(m.ack);
          });
          worker.on('error', (err) => {
            this.#fail(err);
            reject(err);
          });
          worker.on('exit', (code) => {
            const err = new BackendException(`Hash worker exited early (code ${code})`);
            if (!this.#disposed) this.#fail(err);
            reject(err);
          });
        }),
    );
    // Digest promises may be rejected before anyone awaits them (on dispose).
    for (const p of this.#digests) p.catch(() => undefined);
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  #acknowledge(id: number): void {
    const batch = this.#inFlight.get(id);
    if (!batch || --batch.pendingAcks > 0) return;
    this.#inFlight.delete(id);
    batch.filled = 0;
    this.#free.push(batch);
    this.#waiters.shift()?.();
  }

  async #acquire(): Promise<Batch> {
    while (this.#free.length === 0) {
      if (this.#failure) throw this.#failure;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    if (this.#failure) throw this.#failure;
    return this.#free.pop()!;
  }

  #flush(): void {
    const batch = this.#current;
    if (!batch || batch.filled === 0) return;
    this.#current = undefined;
    const id = this.#nextId++;
    batch.pendingAcks = this.#workers.length;
    this.#inFlight.set(id, batch);
    for (const worker of this.#workers)
      worker.postMessage({ id, buffer: batch.buffer, length: batch.filled });
  }

  async update(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (!this.#current) this.#current = await this.#acquire();
      const batch = this.#current;
      const take = Math.min(chunk.byteLength - offset, this.#batchBytes - batch.filled);
      batch.view.set(chunk.subarray(offset, offset + take), batch.filled);
      batch.filled += take;
      offset += take;
      if (batch.filled === this.#batchBytes) this.#flush();
    }
  }

  async digest(): Promise<ImageDigests> {
    if (this.#failure) throw this.#failure;
    this.#flush();
    for (const worker of this.#workers) worker.postMessage({ end: true });
    const [checksum, multihash] = await Promise.all(this.#digests);
    this.dispose();
    return { checksum: checksum!, multihash: multihash ?? checksum! };
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#failure ??= new BackendException('Hashing was stopped');
    for (const worker of this.#workers) void worker.terminate();
    for (const wake of this.#waiters.splice(0)) wake();
  }
}
