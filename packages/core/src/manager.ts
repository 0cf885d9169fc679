/**
 * The multi-backend manager: glance_store's multi_backend module as an instance.
 */

import {
  type AssembledBackends,
  assembleBackends,
  type Backend,
  leaseDriver,
  withDriver,
} from './backends.js';
import { Capability, capabilityNames } from './capabilities.js';
import { freshChunk, RecycledChunks } from './chunk-buffers.js';
import type { StoreConfig } from './config.js';
import { copyImage } from './copy.js';
import type { DriverRegistry } from './discovery.js';
import type { Acls, Driver, DriverGetRequest, DriverGetResult, Orphan } from './driver.js';
import {
  abortError,
  BackendException,
  BadStoreConfiguration,
  Invalid,
  NotFound,
  StoreAddDisabled,
  StoreDeleteNotSupported,
  StoreError,
  StoreGetNotSupported,
  StoreRandomGetNotSupported,
  UnknownScheme,
} from './errors.js';
import {
  checkChecksumAvailable,
  createImageHasher,
  type ImageHasher,
  resolveHashAlgorithm,
} from './hashing.js';
import { checkImageId } from './image-id.js';
import { type ImageData, meterIngest } from './ingest.js';
import { addBufferBytes, Limiter, type LimitStats } from './limits.js';
import type { LocationRegistry, SchemeEntry, StoreLocation } from './location.js';
import type { Logger } from './logger.js';
import { checkLocationMetadata } from './metadata.js';
import { redactOptions } from './option-redaction.js';
import {
  backendOrphans,
  collectsOrphans,
  type OrphanOptions,
  removeBackendOrphan,
} from './orphans.js';
import { pipeBuffers, pipeImageTo } from './pipe-to.js';
import { discardUnread, type ImageStream, imageBytesRead, imageReadStream } from './reader.js';
import { redactError, redactUri, secretRedactor, uriCredentials } from './redaction.js';
import { retryPolicyOf, withRetry } from './retry.js';
import type { Secrets } from './secrets.js';
import type {
  AclOptions,
  AddOptions,
  AddResult,
  BackendInfo,
  BackendState,
  CopyOptions,
  DisabledBackend,
  GetOptions,
  GetResult,
  MultiStoreOptions,
  RequestOptions,
} from './store-types.js';
import {
  isTraced,
  operationEvent,
  type StoreOperationEvent,
  traceGetStream,
  traceOperation,
} from './tracing.js';
import { resolveVerification, type Verification } from './verify.js';

/** {@link MultiStoreOptions.readAheadLimit}'s default: 64 chunks of 1 MiB. */
const DEFAULT_READ_AHEAD_LIMIT = 64 << 20;

/** Size above which (or when unknown) hashing moves to worker threads. */
const PARALLEL_HASH_THRESHOLD = 4 << 20;

/** Whether an image of `size` bytes (0 = unknown) is hashed on worker threads. */
function parallelHash(size: number): boolean {
  return size === 0 || size > PARALLEL_HASH_THRESHOLD;
}

/** The hasher for an image of `size` bytes (0 = unknown), on add and on verified get. */
function hasherFor(algorithm: string, size: number): ImageHasher {
  return createImageHasher(algorithm, { parallel: parallelHash(size) });
}

/** A read of no bytes: a chunkSize of 0, or a range at or past the image's end. */
function emptyRead(): DriverGetResult {
  return { stream: (async function* () {})(), size: 0 };
}

/** Counts a retry on a traced operation's event. */
function countRetry(event: StoreOperationEvent): void {
  event.retries = (event.retries ?? 0) + 1;
}

function neverAborted(): AbortSignal {
  return new AbortController().signal;
}

function checkNonNegativeInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Invalid(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

/**
 * Stores and reads images across several configured backends. Create one with
 * {@link MultiStore.create}; close it with {@link MultiStore.close}.
 */
export class MultiStore {
  readonly #backends: Map<string, Backend>;
  readonly #disabled: DisabledBackend[];
  /** Backend ids in configuration order (enabled, then reserved). */
  readonly #order: readonly string[];
  readonly #locations: LocationRegistry<Backend>;
  readonly #defaultBackend: string | undefined;
  readonly #logger: Logger;
  /** The backends' secret option values, masked in all the store logs and throws. */
  readonly #secrets: Secrets;
  readonly #imageSizeCap: number;
  readonly #registry: DriverRegistry;
  /** Places for adds and gets and the buffer memory (the gets' read-ahead budget too). */
  readonly #limiter: Limiter;
  #closed = false;

  private constructor(
    assembled: AssembledBackends,
    limits: { imageSizeCap: number; limiter: Limiter },
  ) {
    this.#backends = assembled.backends;
    this.#disabled = assembled.disabled;
    this.#order = assembled.order;
    this.#locations = assembled.locations;
    this.#defaultBackend = assembled.defaultBackend;
    this.#logger = assembled.logger;
    this.#secrets = assembled.secrets;
    this.#registry = assembled.registry;
    this.#imageSizeCap = limits.imageSizeCap;
    this.#limiter = limits.limiter;
  }

  /**
   * Loads the drivers named by `config`, validates every backend's options and
   * creates the backends (glance_store's `create_multi_stores`).
   *
   * A backend whose type is unknown, whose driver fails to load, or whose driver
   * refuses its configuration (BadStoreConfiguration from `create`) is disabled
   * with a warning, as glance_store skips it; one whose write side fails to
   * configure stays registered for reading, with adding disabled (see
   * `configureWrites`). The other backends are unaffected.
   *
   * @throws BadStoreConfiguration for a bad option value, a default backend that
   * is not enabled or is disabled (what {@link verifyDefault} checks), or when
   * no backend is usable at all.
   */
  static async create(config: StoreConfig, options: MultiStoreOptions = {}): Promise<MultiStore> {
    // md5 is every image's checksum: a Node.js that refuses it (FIPS) fails here, not at the first add.
    checkChecksumAvailable();
    const readAheadLimit = checkNonNegativeInteger(
      'readAheadLimit',
      options.readAheadLimit ?? DEFAULT_READ_AHEAD_LIMIT,
    );
    const limiter = new Limiter(options.limits, readAheadLimit);
    const assembled = await assembleBackends(config, options);
    return new MultiStore(assembled, {
      imageSizeCap: options.imageSizeCap ?? 0,
      limiter,
    });
  }

  /** The enabled backends. */
  get backends(): BackendInfo[] {
    return [...this.#backends.values()].map((b) => this.#info(b));
  }

  /**
   * Backends that are disabled (unknown type, driver that could not be loaded
   * or configured), with the reason.
   */
  get disabledBackends(): readonly DisabledBackend[] {
    return this.#disabled;
  }

  /** Every configured backend's state, in configuration order (reserved stores last). */
  get backendStates(): BackendState[] {
    return this.#order.map((id): BackendState => {
      const b = this.#backends.get(id);
      if (!b) {
        const d = this.#disabled.find((x) => x.id === id)!;
        return { ...d, state: 'disabled' };
      }
      const reason = this.#addDisabledReason(b);
      return reason === undefined
        ? { id, type: b.definition.type, state: 'enabled' }
        : { id, type: b.definition.type, state: 'add-disabled', reason };
    });
  }

  /** The driver registry in use (to list discovered and disabled drivers). */
  get drivers(): DriverRegistry {
    return this.#registry;
  }

  /** The default backend id, if configured. */
  get defaultBackend(): string | undefined {
    return this.#defaultBackend;
  }

  /**
   * Describes one backend (the default when no id is given): glance_store's
   * `get_store_from_store_identifier`.
   * @throws UnknownScheme when there is no such backend.
   */
  backend(backendId?: string): BackendInfo {
    return this.#info(this.#backend(backendId));
  }

  /**
   * The same as {@link MultiStore.backend}.
   * @deprecated Use `backend(id)`; `store(id)` read as "the store's store".
   */
  store(backendId?: string): BackendInfo {
    return this.backend(backendId);
  }

  /**
   * The driver instance of one backend (the default when no id is given), for
   * the contract suite and driver tests that must hold a driver to the contract
   * without the manager in between. Calls made on it skip everything the
   * manager does: id, size and capability checks, hashing, redaction.
   * @throws UnknownScheme when there is no such backend.
   */
  driverOf(backendId?: string): Driver {
    return this.#backend(backendId).driver;
  }

  /**
   * Checks that a default backend is configured and enabled (glance_store's `verify_store`).
   * @throws BadStoreConfiguration when it is not.
   */
  verifyDefault(): void {
    if (!this.#defaultBackend)
      throw new BadStoreConfiguration("'default_backend' config option is not set");
    if (!this.#backends.has(this.#defaultBackend)) {
      throw new BadStoreConfiguration(`Store for identifier ${this.#defaultBackend} not found`);
    }
  }

  /**
   * Parses `uri` with the driver of the backend handling it and returns the
   * canonical form (what the driver would write for the same location).
   * @throws UnknownScheme, BadStoreUri
   */
  canonicalLocation(uri: string, options: { backend?: string } = {}): string {
    try {
      if (this.#closed) throw new BackendException('The store manager is closed');
      const [first] = options.backend
        ? [{ backend: this.#locations.backendFor(uri, options.backend) }]
        : this.#locations.backendsFor(uri);
      return first!.backend.driver.parseLocation(uri).uri;
    } catch (err) {
      throw this.#normalize(err, undefined);
    }
  }

  /**
   * The backends that hold `uri`, judged from their configuration alone, without
   * I/O: the equivalent of Glance's store_utils matching each store's `url_prefix`
   * to attach a backend id to a legacy location. A file backend owns `file://`
   * paths directly in its data directories, s3 its host and bucket, rbd its
   * cluster fsid and pool, azure its account and container, swift its account
   * and container, http every URL.
   * @returns backend ids in configuration order; empty when none owns it (an
   * unknown scheme, a URI no driver parses).
   */
  backendsFor(uri: string): string[] {
    if (this.#closed) throw new BackendException('The store manager is closed');
    let entries: SchemeEntry<Backend>[];
    try {
      entries = this.#locations.backendsFor(uri);
    } catch {
      return [];
    }
    return entries
      .filter(({ backend: { driver } }) => {
        try {
          return driver.owns?.(driver.parseLocation(uri)) ?? false;
        } catch {
          return false;
        }
      })
      .map(({ backendId }) => backendId);
  }

  /** Every URI scheme some backend handles. */
  knownSchemes(): string[] {
    return this.#locations.schemes();
  }

  /**
   * The bounds' use now ({@link MultiStoreOptions.limits}): adds and gets running
   * and queued, buffer memory held (reads ahead included) and adds waiting for
   * it. Counted whether or not limits are set; cheap enough to poll (@store/otel
   * exports it as gauges).
   */
  stats(): LimitStats {
    return this.#limiter.stats();
  }

  /**
   * Stores an image, hashing it on the way (md5 checksum plus the multihash).
   *
   * @param size declared size in bytes; 0 = unknown. Data shorter or longer fails.
   * @throws UnknownHashingAlgo (before any byte is written), StoreAddDisabled,
   * Duplicate, StorageFull, ImageSizeMismatch, OperationAborted, …; a failed
   * write leaves nothing behind.
   */
  add(
    imageId: string,
    data: ImageData,
    size: number,
    options: AddOptions = {},
  ): Promise<AddResult> {
    if (!isTraced('add')) return this.#add(imageId, data, size, options);
    const event = operationEvent('add', {
      ...this.#traceBackend(options.backend ?? this.#defaultBackend),
      ...(typeof imageId === 'string' ? { imageId } : {}),
    });
    return traceOperation(
      event,
      () => this.#add(imageId, data, size, options),
      (added) => {
        event.location = this.#traceLocation(added.location);
        event.bytes = added.size;
      },
    );
  }

  async #add(
    imageId: string,
    data: ImageData,
    size: number,
    options: AddOptions = {},
  ): Promise<AddResult> {
    return this.#guard(async () => {
      const backend = this.#backend(options.backend);
      // glance_store's order: the hashing algorithm is checked before write access.
      const hashingAlgo = resolveHashAlgorithm(options.hashingAlgo ?? 'sha512');
      if (!backend.capabilities.has(Capability.WRITE_ACCESS)) {
        const reason = this.#addDisabledReason(backend);
        throw new StoreAddDisabled(
          `Backend '${backend.id}' does not allow adding images${reason ? `: ${reason}` : ''}`,
        );
      }
      checkImageId(imageId);
      checkNonNegativeInteger('size', size);
      const signal = options.signal ?? neverAborted();
      if (signal.aborted) throw abortError(signal, 'add');
      // Waits (in order) for a place and this add's buffers; no buffer is made before.
      const bounds = await this.#limiter.acquireAdd(
        addBufferBytes(size, backend.driver.addBufferBytes?.(size), parallelHash(size)),
        signal,
      );

      let hasher: ImageHasher;
      let ingest: ReturnType<typeof meterIngest>;
      try {
        hasher = hasherFor(hashingAlgo, size);
        ingest = meterIngest(data, {
          size,
          sizeCap: options.imageSizeCap ?? this.#imageSizeCap,
          signal,
          hasher,
          ...(options.verifier ? { verifier: options.verifier } : {}),
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        });
      } catch (err) {
        bounds();
        throw err;
      }
      try {
        return await this.#withDriver(backend, async (driver) => {
          if (!driver.add)
            throw new StoreAddDisabled(
              `Backend '${backend.id}' does not allow adding images: its driver has no add`,
            );
          const result = await driver.add({
            imageId,
            data: ingest.chunks,
            release: ingest.release,
            size,
            signal,
            context: options.context,
          });
          const problem = !ingest.complete
            ? 'returned before consuming all of the image data'
            : result.size !== ingest.bytes
              ? `reported ${result.size} bytes stored, but ${ingest.bytes} were sent`
              : undefined;
          try {
            if (problem) throw new BackendException(`Backend '${backend.id}' ${problem}`);
            const metadata = {
              ...(result.metadata ?? {}),
              ...(backend.namesItself ? { store: backend.id } : {}),
            };
            checkLocationMetadata(metadata);
            const { checksum, multihash } = await hasher.digest();
            this.#logger.debug(`Stored image ${imageId} in backend '${backend.id}'`, {
              bytes: ingest.bytes,
            });
            return {
              location: result.location.uri,
              size: ingest.bytes,
              checksum,
              multihash,
              hashingAlgo,
              metadata,
              backend: backend.id,
            };
          } catch (err) {
            // The driver committed an image we cannot vouch for: take it back.
            await driver
              .delete?.(result.location, { signal: neverAborted() })
              .catch(() => undefined);
            throw err;
          }
        });
      } finally {
        hasher.dispose();
        ingest.close();
        bounds();
      }
    }, options.signal);
  }

  /**
   * Opens an image for reading. Without a backend, every backend handling the
   * URI's scheme is tried in turn (glance_store's behaviour).
   * @throws NotFound, UnknownScheme, BadStoreUri, StoreRandomGetNotSupported, …
   */
  get(uri: string, options: GetOptions = {}): Promise<GetResult> {
    if (!isTraced('get')) return this.#get(uri, options);
    const event = operationEvent('get', this.#traceStart(uri, options.backend));
    return traceOperation(
      event,
      () => this.#get(uri, options, () => countRetry(event)),
      (got) => {
        Object.assign(event, this.#traceBackend(got.backend));
        event.size = got.size;
        traceGetStream(event, got.stream, () => imageBytesRead(got.stream));
      },
    );
  }

  async #get(uri: string, options: GetOptions = {}, retried?: () => void): Promise<GetResult> {
    return this.#guard(async () => {
      const offset = checkNonNegativeInteger('offset', options.offset ?? 0);
      const chunkSize =
        options.chunkSize === undefined
          ? undefined
          : checkNonNegativeInteger('chunkSize', options.chunkSize);
      if (options.verify && (offset > 0 || chunkSize !== undefined)) {
        throw new Invalid('verify needs a whole-image read (no offset or chunkSize)');
      }
      const verification = options.verify ? resolveVerification(options.verify) : undefined;
      const signal = options.signal ?? neverAborted();
      if (signal.aborted) throw abortError(signal, 'get');
      // A get holds its place until its stream closes (released with the stream),
      // or until it fails to open one.
      const place = await this.#limiter.acquireGet(signal);
      return this.#search(uri, options.backend, async (backend) => {
        if (!backend.capabilities.has(Capability.READ_ACCESS)) {
          throw new StoreGetNotSupported(`Backend '${backend.id}' does not allow reading images`);
        }
        if (offset > 0 && !backend.capabilities.has(Capability.READ_OFFSET)) {
          throw new StoreRandomGetNotSupported(
            `Backend '${backend.id}' cannot read from an offset`,
          );
        }
        if (chunkSize !== undefined && !backend.capabilities.has(Capability.READ_CHUNK)) {
          throw new StoreRandomGetNotSupported(
            `Backend '${backend.id}' cannot read a bounded chunk`,
          );
        }
        // The lease outlives this call when it succeeds: the stream releases it.
        const { driver, release } = await leaseDriver(backend);
        let got: GetResult;
        try {
          const location = driver.parseLocation(uri);
          const recycled = options.reuseBuffers ? new RecycledChunks() : undefined;
          // Fresh chunks unless the caller sends the bytes on with pipeTo.
          const lent = recycled ? undefined : pipeBuffers();
          // Opening is repeated after a transient failure; a stream handed out never is.
          const result = await this.#retrying(backend, 'get', signal, retried, () =>
            this.#openRead(backend, driver, location, {
              offset,
              ...(chunkSize !== undefined ? { chunkSize } : {}),
              signal,
              context: options.context,
              allocate: recycled?.allocate ?? lent?.allocate ?? freshChunk,
              readAheadBudget: this.#limiter.memory,
            }),
          );
          const stream = this.#readable(result, {
            signal,
            release: async () => {
              try {
                await release?.();
              } finally {
                place();
              }
            },
            verification,
            size: result.size,
            uri,
            recycled,
          });
          got = {
            stream,
            size: result.size,
            backend: backend.id,
            pipeTo: (destination, how) =>
              lent
                ? pipeImageTo(stream, destination, lent, how)
                : Promise.reject(
                    new Invalid('pipeTo reuses buffers itself: leave reuseBuffers off'),
                  ),
          };
        } catch (err) {
          await release?.();
          throw err;
        }
        // Fired while the driver opened the image: no caller will read this stream.
        if (signal.aborted) {
          await discardUnread(got.stream);
          throw abortError(signal, 'get');
        }
        return got;
      }).catch((err: unknown) => {
        // No stream was handed out (one discarded on abort has released already: once only).
        place();
        throw err;
      });
    }, options.signal);
  }

  /** Size of an image in bytes. @throws NotFound, UnknownScheme, BadStoreUri */
  getSize(uri: string, options: RequestOptions = {}): Promise<number> {
    if (!isTraced('getSize')) return this.#getSize(uri, options);
    const event = operationEvent('getSize', this.#traceStart(uri, options.backend));
    return traceOperation(
      event,
      () =>
        this.#getSize(
          uri,
          options,
          (backend) => this.#traceServed(event, backend),
          () => countRetry(event),
        ),
      (size) => {
        event.size = size;
      },
    );
  }

  async #getSize(
    uri: string,
    options: RequestOptions,
    served?: (backend: Backend) => void,
    retried?: () => void,
  ): Promise<number> {
    return this.#guard(
      () =>
        this.#search(
          uri,
          options.backend,
          (backend) =>
            this.#retrying(backend, 'getSize', options.signal, retried, () =>
              this.#withDriver(backend, (driver) =>
                driver.getSize(driver.parseLocation(uri), {
                  signal: options.signal ?? neverAborted(),
                  context: options.context,
                }),
              ),
            ),
          served,
        ),
      options.signal,
    );
  }

  /** Removes an image. @throws NotFound, StoreDeleteNotSupported, InUseByStore */
  delete(uri: string, options: RequestOptions = {}): Promise<void> {
    if (!isTraced('delete')) return this.#delete(uri, options);
    const event = operationEvent('delete', this.#traceStart(uri, options.backend));
    return traceOperation(event, () =>
      this.#delete(
        uri,
        options,
        (backend) => this.#traceServed(event, backend),
        () => countRetry(event),
      ),
    );
  }

  async #delete(
    uri: string,
    options: RequestOptions,
    served?: (backend: Backend) => void,
    retried?: () => void,
  ): Promise<void> {
    return this.#guard(
      () =>
        this.#search(
          uri,
          options.backend,
          (backend) => {
            if (!backend.capabilities.has(Capability.WRITE_ACCESS)) {
              throw new StoreDeleteNotSupported(
                `Backend '${backend.id}' does not allow deleting images`,
              );
            }
            return this.#retrying(backend, 'delete', options.signal, retried, (attempt) =>
              this.#withDriver(backend, async (driver) => {
                if (!driver.delete)
                  throw new StoreDeleteNotSupported(
                    `Backend '${backend.id}' does not allow deleting images: its driver has no delete`,
                  );
                try {
                  await driver.delete(driver.parseLocation(uri), {
                    signal: options.signal ?? neverAborted(),
                    context: options.context,
                  });
                } catch (err) {
                  // The attempt that failed may have deleted it before its answer was lost.
                  if (!(attempt > 1 && err instanceof NotFound)) throw err;
                  this.#logger.info(
                    `delete on backend '${backend.id}': the image was gone when the delete was repeated; taken as deleted`,
                    { backend: backend.id },
                  );
                }
              }),
            );
          },
          served,
        ),
      options.signal,
    );
  }

  /**
   * Applies ACLs to an image; a driver without ACL support is skipped with a debug
   * log, as glance_store does.
   */
  setAcls(uri: string, options: RequestOptions & AclOptions = {}): Promise<void> {
    if (!isTraced('setAcls')) return this.#setAcls(uri, options);
    const event = operationEvent('setAcls', this.#traceStart(uri, options.backend));
    return traceOperation(event, () =>
      this.#setAcls(uri, options, (backend) => this.#traceServed(event, backend)),
    );
  }

  async #setAcls(
    uri: string,
    options: RequestOptions & AclOptions,
    served?: (backend: Backend) => void,
  ): Promise<void> {
    return this.#guard(
      () =>
        this.#search(
          uri,
          options.backend,
          (backend) =>
            this.#withDriver(backend, async (driver) => {
              if (!driver.setAcls) {
                this.#logger.debug(
                  `Skipping setAcls: backend '${backend.id}' does not implement it`,
                );
                return;
              }
              const acls: Acls = {
                public: options.public ?? false,
                readTenants: options.readTenants ?? [],
                writeTenants: options.writeTenants ?? [],
              };
              await driver.setAcls(driver.parseLocation(uri), acls, {
                signal: options.signal ?? neverAborted(),
                context: options.context,
              });
            }),
          served,
        ),
      options.signal,
    );
  }

  /**
   * Copies an image into another backend, streaming it from its location
   * (Glance's copy-image). The size and digests are checked on arrival: against
   * the source's size, against `expected` when given, and by reading the copy
   * back from the target unless `readBack` is false. On any failure, abort
   * included, nothing is left in the target.
   *
   * @returns the add result of the copy in the target backend.
   * @throws UnknownScheme (no such target), NotFound, ImageSizeMismatch,
   * ChecksumMismatch, OperationAborted, Duplicate, …
   */
  copy(uri: string, options: CopyOptions): Promise<AddResult> {
    if (!isTraced('copy')) return this.#copy(uri, options);
    const event = operationEvent('copy', {
      ...this.#traceBackend(options?.to),
      location: this.#traceLocation(uri),
      ...(typeof options?.imageId === 'string' ? { imageId: options.imageId } : {}),
    });
    return traceOperation(
      event,
      () => this.#copy(uri, options),
      (added) => {
        event.bytes = added.size;
      },
    );
  }

  async #copy(uri: string, options: CopyOptions): Promise<AddResult> {
    return this.#guard(
      () =>
        copyImage(this, uri, options, {
          signal: options.signal ?? neverAborted(),
          logger: this.#logger,
        }),
      options.signal,
    );
  }

  /** Closes every backend's driver. Further calls fail; closing twice is a no-op. */
  /**
   * Whether a backend's driver can list what the backend holds that no add
   * completed (its orphans, see {@link MultiStore.orphans}).
   * @throws UnknownScheme when there is no such backend.
   */
  collectsOrphans(backendId: string): boolean {
    return collectsOrphans(this.#backend(backendId));
  }

  /**
   * What one backend holds that no add completed ({@link Orphan}): unfinished
   * multipart uploads, uncommitted blocks, partial RBD images, temporary files,
   * Swift segments without a manifest; `store gc` shows them. Nothing for a
   * backend whose driver cannot tell. An add under way holds the same things:
   * remove only old ones (`olderThan`).
   * @throws UnknownScheme when there is no such backend; Invalid for a bad
   * `olderThan`; the backend's typed errors, redacted.
   */
  orphans(backendId: string, options: OrphanOptions = {}): AsyncIterable<Orphan> {
    if (this.#closed) throw new BackendException('The store manager is closed');
    const signal = options.signal ?? neverAborted();
    return backendOrphans(this.#backend(backendId), options, signal, (err) =>
      this.#normalize(err, signal),
    );
  }

  /**
   * Removes one orphan that {@link MultiStore.orphans} yielded for the same
   * backend; what is already gone counts as removed.
   * @throws InUseByStore when it became an image or is being written meanwhile
   * (left untouched); NotFound for an orphan that is not the backend's.
   */
  async removeOrphan(
    backendId: string,
    orphan: Orphan,
    options: RequestOptions = {},
  ): Promise<void> {
    if (this.#closed) throw new BackendException('The store manager is closed');
    const signal = options.signal ?? neverAborted();
    await removeBackendOrphan(
      this.#backend(backendId),
      orphan,
      { signal, ...(options.context !== undefined ? { context: options.context } : {}) },
      (err) => this.#normalize(err, signal),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const results = await Promise.allSettled(
      [...this.#backends.values()].map((b) => b.driver.close?.()),
    );
    for (const r of results) {
      if (r.status === 'rejected')
        this.#logger.warn('A driver failed to close', { error: r.reason as Error });
    }
  }

  #info(b: Backend): BackendInfo {
    const description = b.context.options.store_description as string | undefined;
    return {
      id: b.id,
      type: b.definition.type,
      ...(description ? { description } : {}),
      schemes: b.definition.schemes,
      capabilities: b.capabilities.mask,
      capabilityNames: capabilityNames(b.capabilities.mask),
      isDefault: b.id === this.#defaultBackend,
      reserved: b.reserved,
      options: redactOptions(b.definition.options, b.context.options),
      ...(this.#addDisabledReason(b) !== undefined
        ? { addDisabledReason: this.#addDisabledReason(b) }
        : {}),
    };
  }

  /** The driver's reason while WRITE_ACCESS is off (a driver such as rbd may restore it). */
  #addDisabledReason(b: Backend): string | undefined {
    return b.capabilities.has(Capability.WRITE_ACCESS) ? undefined : b.writeSide.addDisabledReason;
  }

  /** A trace event's backend fields for backend `id` (unknown ids as given). */
  #traceBackend(id: string | undefined): { backend?: string; driver?: string } {
    const backend = typeof id === 'string' ? this.#backends.get(id) : undefined;
    if (backend) return { backend: backend.id, driver: backend.definition.type };
    return typeof id === 'string' ? { backend: id } : {};
  }

  /** A location as trace events carry it: URI credentials and secret options masked. */
  #traceLocation(uri: unknown): string | undefined {
    return typeof uri === 'string' ? this.#secrets.redact(redactUri(uri)) : undefined;
  }

  /** A trace event's fields at the start of a call on `uri`. */
  #traceStart(
    uri: unknown,
    backendId: string | undefined,
  ): { backend?: string; driver?: string; location?: string } {
    let id = backendId;
    if (id === undefined && typeof uri === 'string') {
      try {
        const candidates = this.#locations.backendsFor(uri);
        if (candidates.length === 1) id = candidates[0]!.backend.id;
      } catch {
        // No backend handles the scheme: the call fails with UnknownScheme itself.
      }
    }
    return { ...this.#traceBackend(id), location: this.#traceLocation(uri) };
  }

  #traceServed(event: StoreOperationEvent, backend: Backend): void {
    event.backend = backend.id;
    event.driver = backend.definition.type;
  }

  #backend(backendId?: string): Backend {
    if (this.#closed) throw new BackendException('The store manager is closed');
    const id = backendId ?? this.#defaultBackend;
    if (!id) throw new UnknownScheme('No backend was named and no default_backend is configured');
    const backend = this.#backends.get(id);
    if (!backend) {
      const disabled = this.#disabled.find((d) => d.id === id);
      if (disabled)
        throw new UnknownScheme(`Store for identifier ${id} is disabled: ${disabled.reason}`);
      throw new UnknownScheme(`Store for identifier ${id} not found`);
    }
    return backend;
  }

  /** Runs `work` on the backend's driver for this call (see leaseDriver). */
  #withDriver<T>(backend: Backend, work: (driver: Driver) => Promise<T>): Promise<T> {
    return withDriver(backend, work);
  }

  /**
   * Repeats the idempotent `work` on `backend` after transient failures, as the
   * backend's store_retry_* options say (retry.ts).
   */
  #retrying<T>(
    backend: Backend,
    operation: string,
    signal: AbortSignal | undefined,
    retried: (() => void) | undefined,
    work: (attempt: number) => Promise<T>,
  ): Promise<T> {
    return withRetry(work, {
      policy: retryPolicyOf(backend.context.options),
      signal,
      operation,
      backend: backend.id,
      logger: this.#logger,
      onRetry: retried,
    });
  }

  /** `served` (tracing) hears of each backend before `work` runs on it. */
  async #search<T>(
    uri: string,
    backendId: string | undefined,
    work: (backend: Backend) => Promise<T>,
    served?: (backend: Backend) => void,
  ): Promise<T> {
    if (this.#closed) throw new BackendException('The store manager is closed');
    if (typeof uri !== 'string' || uri === '')
      throw new Invalid('The location URI must be a non-empty string');
    try {
      return await this.#searchBackends(uri, backendId, work, served);
    } catch (err) {
      throw this.#redactFor(uri)(err);
    }
  }

  async #searchBackends<T>(
    uri: string,
    backendId: string | undefined,
    work: (backend: Backend) => Promise<T>,
    served?: (backend: Backend) => void,
  ): Promise<T> {
    if (backendId !== undefined) {
      this.#backend(backendId);
      const backend = this.#locations.backendFor(uri, backendId);
      served?.(backend);
      return work(backend);
    }
    const candidates = this.#locations.backendsFor(uri);
    for (const { backend } of candidates) {
      try {
        served?.(backend);
        return await work(backend);
      } catch (err) {
        if (err instanceof NotFound && candidates.length > 1) continue;
        throw err;
      }
    }
    throw new NotFound('Image not found in any configured backend');
  }

  /** Masks the URI's own credentials too: a driver may quote them without the URI. */
  #redactFor(uri: string): (err: unknown) => unknown {
    const redact = secretRedactor(uriCredentials(uri));
    return (err) => redactError(err, redact);
  }

  /** Runs `work`, turning any failure into a redacted StoreError. */
  async #guard<T>(work: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw this.#normalize(err, signal);
    }
  }

  #normalize(err: unknown, signal: AbortSignal | undefined): StoreError {
    let out: StoreError;
    if (err instanceof StoreError) out = err;
    else if (signal?.aborted) out = abortError(signal);
    else out = new BackendException((err as Error)?.message ?? String(err), { cause: err });
    return redactError(out, this.#secrets.redact);
  }

  /**
   * The driver's read of `location`, with the edge cases no driver handles: a
   * chunkSize of 0, and a range the backend refused as past the image's end
   * (the driver returned undefined), read no bytes once getSize confirmed the
   * image exists (NotFound otherwise) and is that short.
   */
  async #openRead(
    backend: Backend,
    driver: Driver,
    location: StoreLocation,
    request: DriverGetRequest,
  ): Promise<DriverGetResult> {
    const sizing = { signal: request.signal, context: request.context };
    if (request.chunkSize === 0) {
      await driver.getSize(location, sizing);
      return emptyRead();
    }
    const result = await driver.get(location, request);
    if (result) return result;
    const size = await driver.getSize(location, sizing);
    if (request.offset < size) {
      throw new BackendException(
        `Backend '${backend.id}' refused to read from byte ${request.offset} of an image of ${size} bytes`,
      );
    }
    return emptyRead();
  }

  /**
   * The caller's stream over a driver's read: its failures mapped by the driver
   * (mapError), then typed and redacted; the read closed (its one door for
   * release) and then `how.release` run, once, however the stream ends.
   */
  #readable(
    read: DriverGetResult,
    how: {
      signal: AbortSignal;
      release: (() => Promise<void> | undefined) | undefined;
      verification: Verification | undefined;
      size: number;
      uri: string;
      recycled: RecycledChunks | undefined;
    },
  ): ImageStream {
    const { signal, release, verification, size, uri, recycled } = how;
    const redactUriCredentials = this.#redactFor(uri);
    const typed = (err: unknown): unknown => {
      if (!read.mapError || err instanceof StoreError) return err;
      try {
        return read.mapError(err);
      } catch (failure) {
        return failure;
      }
    };
    const close = async () => {
      try {
        await read.close?.();
      } finally {
        await release?.();
      }
    };
    let hasher: ImageHasher | undefined;
    try {
      hasher = verification ? hasherFor(verification.algorithm, size) : undefined;
    } catch (err) {
      // No stream will own the read: let it go here.
      void Promise.resolve(close()).catch(() => undefined);
      throw err;
    }
    return imageReadStream(read.stream, {
      signal,
      expectedBytes: size,
      normalize: (err) => redactUriCredentials(this.#normalize(typed(err), signal)) as Error,
      ...(hasher && verification ? { hasher, verification } : {}),
      release: close,
      ...(recycled ? { recycled } : {}),
    });
  }
}
