/**
 * The multi-backend manager: glance_store's multi_backend module as an instance.
 */

import { randomUUID } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { Capability, type CapabilityName, CapabilitySet, capabilityNames } from './capabilities.js';
import { freshChunk, RecycledChunks } from './chunk-buffers.js';
import type { StoreConfig } from './config.js';
import { type DiscoveryOptions, DriverRegistry } from './discovery.js';
import type { Acls, Driver, DriverContext, DriverDefinition } from './driver.js';
import {
  abortError,
  BackendException,
  BadStoreConfiguration,
  ChecksumMismatch,
  DriverLoadFailure,
  ImageSizeMismatch,
  Invalid,
  NotFound,
  StoreAddDisabled,
  StoreDeleteNotSupported,
  StoreError,
  StoreGetNotSupported,
  StoreRandomGetNotSupported,
  UnknownScheme,
  UnsupportedBackend,
} from './errors.js';
import {
  checkChecksumAvailable,
  createImageHasher,
  type ImageHasher,
  resolveHashAlgorithm,
} from './hashing.js';
import { checkImageId } from './image-id.js';
import { type ImageData, type ImageVerifier, meterIngest } from './ingest.js';
import { LocationRegistry, type SchemeEntry } from './location.js';
import { type Logger, redactingLogger, silentLogger } from './logger.js';
import { checkLocationMetadata } from './metadata.js';
import { reportUnknownNames, type Strictness } from './names.js';
import {
  COMMON_OPTIONS,
  type OptionValues,
  redactOptions,
  secretValues,
  validateOptions,
} from './options.js';
import { LentBuffers, type PipeToOptions, pipeImageTo } from './pipe-to.js';
import { ReadAheadBudget } from './read-ahead.js';
import { discardUnread, type ImageStream, imageBytesRead, imageReadStream } from './reader.js';
import { redactError, redactUri, secretRedactor, uriCredentials } from './redaction.js';
import {
  isTraced,
  operationEvent,
  type StoreOperationEvent,
  traceGetStream,
  traceOperation,
} from './tracing.js';
import { resolveVerification, type Verification, type VerifyOptions } from './verify.js';

/** Options of {@link MultiStore.create}. */
export interface MultiStoreOptions {
  /** Extra `id: type` backends for the consuming service's own use (Glance's staging store). */
  readonly reservedStores?: Readonly<Record<string, string>>;
  /** Where to log; silent by default. Secrets are masked before they reach it. */
  readonly logger?: Logger;
  /**
   * The drivers to use: a registry, or definitions to use alongside the discovered
   * ones. Without it, drivers are discovered from installed packages.
   */
  readonly drivers?: DriverRegistry | readonly DriverDefinition[];
  /** Where to discover driver packages (ignored when `drivers` is a registry). */
  readonly discovery?: DiscoveryOptions;
  /** Largest image accepted by add, in bytes (glance's `image_size_cap`); 0 = none. */
  readonly imageSizeCap?: number;
  /**
   * Bytes all gets of this store may hold read ahead of their consumers, beyond
   * the chunk each consumer waits for (file and rbd read ahead). Default 64 MiB;
   * 0 reads one chunk at a time.
   */
  readonly readAheadLimit?: number;
  /**
   * Refuse, instead of logging a warning, an option no driver reads and a config
   * section that names no enabled or reserved backend (`'typos'`: only those close
   * to a known name). Default false, as oslo.config.
   */
  readonly strict?: Strictness;
}

/** Options of {@link MultiStore.add}. */
export interface AddOptions {
  /** Backend id; defaults to the configured default backend. */
  readonly backend?: string;
  /** Multihash algorithm (`sha512` unless told). */
  readonly hashingAlgo?: string;
  /** Fed every chunk, e.g. for image signature verification. */
  readonly verifier?: ImageVerifier;
  readonly signal?: AbortSignal;
  /** Called with the number of bytes stored so far. */
  readonly onProgress?: (bytes: number) => void;
  /** Opaque request context handed to the driver. */
  readonly context?: unknown;
  /** Overrides the manager's image size cap for this call. */
  readonly imageSizeCap?: number;
}

/** What {@link MultiStore.add} returns (glance_store's 5-tuple, named). */
export interface AddResult {
  readonly location: string;
  readonly size: number;
  /** md5 hex digest. */
  readonly checksum: string;
  /** Hex digest of the multihash algorithm. */
  readonly multihash: string;
  /** The algorithm of `multihash`. */
  readonly hashingAlgo: string;
  /**
   * Location metadata; includes `store` (the backend id), except for a config in
   * single-store mode (glance_store's single-store API adds none).
   */
  readonly metadata: Record<string, unknown>;
  /** The backend that stored the image. */
  readonly backend: string;
}

/** Options of {@link MultiStore.get}. */
export interface GetOptions {
  /** Backend id; without it the backends handling the URI's scheme are searched. */
  readonly backend?: string;
  /** First byte to read (needs READ_OFFSET). */
  readonly offset?: number;
  /** Bytes to read from the offset (glance_store's chunk_size; needs READ_CHUNK). */
  readonly chunkSize?: number;
  readonly signal?: AbortSignal;
  readonly context?: unknown;
  /**
   * Opt-in integrity check on read (whole-image reads only): the digests are
   * recomputed while the bytes stream (off the event loop) and the stream fails
   * at its end with ChecksumMismatch if any differs, so a caller that reads to
   * the end never takes a corrupted image for a good one. See {@link VerifyOptions}.
   */
  readonly verify?: VerifyOptions;
  /**
   * Opt-in: chunks are views of a few buffers that are reused, so a chunk's bytes
   * are valid only until the next chunk is delivered (the next turn of a
   * `for await` loop, the next 'data' event). Right for a consumer that is done
   * with each chunk when it asks for the next: hashing it, `await handle.write(chunk)`.
   * Wrong for `pipe()`/`pipeline()` into a writable that queues chunks (most do):
   * copy the chunk there, or leave this off. Saves the page faults of fresh memory
   * on drivers that read into buffers (file, rbd); others ignore it.
   */
  readonly reuseBuffers?: boolean;
}

/** What {@link MultiStore.get} returns. */
export interface GetResult {
  /** The bytes; honours backpressure; destroyed with OperationAborted on abort. */
  readonly stream: ImageStream;
  /** Bytes the stream will deliver. */
  readonly size: number;
  /** The backend that served it. */
  readonly backend: string;
  /**
   * Sends the bytes to `destination` (an HTTP response, a file's write stream,
   * a socket) with backpressure, and resolves with the bytes written once it
   * finished (with `end: false`, once every write was called back). The way to
   * serve an image: drivers that read into buffers (file, rbd) read into a few
   * that are reused once the write that carried them completed, so no fresh
   * memory per chunk. Use it instead of reading `stream`, not beside it.
   *
   * The destination must be done with a chunk's bytes when it calls back its
   * write, as Node's files, sockets and HTTP responses are. A Transform (it
   * calls back once the chunk is queued for its reader) is detected and gets
   * fresh memory; a custom writable that keeps the chunks it is given must copy
   * them. On failure or abort (the get's signal: OperationAborted) the source is
   * let go and the destination destroyed, unless `end` is false.
   * @throws Invalid when the stream was already read from.
   */
  pipeTo(destination: Writable, options?: PipeToOptions): Promise<number>;
}

/** Options of {@link MultiStore.copy}. */
export interface CopyOptions {
  /** The backend id to copy into. */
  readonly to: string;
  /** The source backend id; without it the backends handling the URI's scheme are searched. */
  readonly from?: string;
  /** The image id in the target backend (Glance passes its image id); a new UUID when omitted. */
  readonly imageId?: string;
  /** Multihash algorithm of the copy (`sha512` unless told). */
  readonly hashingAlgo?: string;
  /**
   * Digests recorded for the image (Glance's `checksum` and `os_hash_value`, the
   * latter in `hashingAlgo`); the bytes that arrive must match them.
   */
  readonly expected?: { readonly checksum?: string; readonly multihash?: string };
  /**
   * Re-read the copy from the target and check its multihash, so a target that
   * stored other bytes than it was sent is caught (default true).
   */
  readonly readBack?: boolean;
  readonly signal?: AbortSignal;
  /** Called with the number of bytes stored in the target so far. */
  readonly onProgress?: (bytes: number) => void;
  readonly context?: unknown;
}

/** Options of the calls that move no data. */
export interface RequestOptions {
  readonly backend?: string;
  readonly signal?: AbortSignal;
  readonly context?: unknown;
}

/** What {@link MultiStore.setAcls} applies. */
export interface AclOptions {
  readonly public?: boolean;
  readonly readTenants?: readonly string[];
  readonly writeTenants?: readonly string[];
}

/** One configured backend, as callers see it. */
export interface BackendInfo {
  readonly id: string;
  readonly type: string;
  readonly description?: string;
  readonly schemes: readonly string[];
  /** Live capability bitmask (a driver may change it at run time). */
  readonly capabilities: number;
  readonly capabilityNames: readonly CapabilityName[];
  readonly isDefault: boolean;
  readonly reserved: boolean;
  /** Options with secrets masked. */
  readonly options: Readonly<Record<string, unknown>>;
  /**
   * Why adding is disabled, while it is: the driver could not configure what
   * writing needs (glance_store removes WRITE_ACCESS the same way). The backend
   * still reads.
   */
  readonly addDisabledReason?: string;
}

/**
 * Every configured backend's state: `enabled`; `add-disabled` (registered and
 * reading, but its write side failed to configure); `disabled` (its driver could
 * not be loaded or configured, or its type is unknown).
 */
export interface BackendState {
  readonly id: string;
  readonly type: string;
  readonly state: 'enabled' | 'add-disabled' | 'disabled';
  /** Why the backend is add-disabled or disabled. */
  readonly reason?: string;
}

/** A backend that could not be enabled, and why. */
export interface DisabledBackend {
  readonly id: string;
  readonly type: string;
  readonly reason: string;
}

interface Backend {
  readonly id: string;
  readonly definition: DriverDefinition;
  readonly context: DriverContext;
  readonly capabilities: CapabilitySet;
  readonly reusable: boolean;
  readonly driver: Driver;
  readonly reserved: boolean;
  /** Why the driver disabled adding (see configureWrites), masked. */
  readonly writeSide: { addDisabledReason?: string };
  /** Whether add's location metadata names the backend (`store`): not in single-store mode. */
  readonly namesItself: boolean;
}

/** {@link MultiStoreOptions.readAheadLimit}'s default: 64 chunks of 1 MiB. */
const DEFAULT_READ_AHEAD_LIMIT = 64 << 20;

/** Size above which (or when unknown) hashing moves to worker threads. */
const PARALLEL_HASH_THRESHOLD = 4 << 20;

/** The hasher for an image of `size` bytes (0 = unknown), on add and on verified get. */
function hasherFor(algorithm: string, size: number): ImageHasher {
  return createImageHasher(algorithm, { parallel: size === 0 || size > PARALLEL_HASH_THRESHOLD });
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
  readonly #redact: (text: string) => string;
  readonly #imageSizeCap: number;
  readonly #registry: DriverRegistry;
  /** Shared by this store's gets: bounds what stalled readers hold. */
  readonly #readAheadBudget: ReadAheadBudget;
  #closed = false;

  private constructor(parts: {
    backends: Map<string, Backend>;
    disabled: DisabledBackend[];
    order: readonly string[];
    locations: LocationRegistry<Backend>;
    defaultBackend: string | undefined;
    logger: Logger;
    redact: (text: string) => string;
    imageSizeCap: number;
    registry: DriverRegistry;
    readAheadLimit: number;
  }) {
    this.#backends = parts.backends;
    this.#disabled = parts.disabled;
    this.#order = parts.order;
    this.#locations = parts.locations;
    this.#defaultBackend = parts.defaultBackend;
    this.#logger = parts.logger;
    this.#redact = parts.redact;
    this.#imageSizeCap = parts.imageSizeCap;
    this.#registry = parts.registry;
    this.#readAheadBudget = new ReadAheadBudget(parts.readAheadLimit);
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
    const callerLogger = options.logger ?? silentLogger;
    const secrets: string[] = [];
    const redactNow = () => secretRedactor(secrets);
    let redact = redactNow();
    const logger = redactingLogger(callerLogger, (text) => redact(text));

    const registry =
      options.drivers instanceof DriverRegistry
        ? options.drivers
        : await DriverRegistry.discover({
            ...options.discovery,
            logger,
            definitions: (options.drivers as readonly DriverDefinition[] | undefined) ?? [],
          });

    const enabled: [string, string, boolean][] = [
      ...Object.entries(config.enabledBackends ?? {}).map(
        ([id, type]) => [id, type, false] as [string, string, boolean],
      ),
      ...Object.entries(options.reservedStores ?? {}).map(
        ([id, type]) => [id, type, true] as [string, string, boolean],
      ),
    ];
    // A mistyped section would leave its backend on defaults: say so.
    const ids = enabled.map(([id]) => id);
    reportUnknownNames(
      'config',
      Object.keys(config.backends ?? {}).filter((name) => !ids.includes(name)),
      ids,
      { logger, strict: options.strict, noun: 'section', why: '(names no enabled backend)' },
    );
    if (enabled.length === 0) {
      throw new BadStoreConfiguration(
        'No backends are enabled: set [DEFAULT] enabled_backends (e.g. "local:file")',
      );
    }
    const defaultBackend = config.defaultBackend || undefined;
    if (defaultBackend && !enabled.some(([id]) => id === defaultBackend)) {
      throw new BadStoreConfiguration(
        `default_backend '${defaultBackend}' is not one of the enabled backends`,
      );
    }

    // Load definitions and validate options first, so every secret is known
    // before any driver can log or throw.
    const prepared: {
      id: string;
      type: string;
      reserved: boolean;
      definition: DriverDefinition;
      values: OptionValues;
    }[] = [];
    const disabled: DisabledBackend[] = [];
    for (const [id, type, reserved] of enabled) {
      if (!id || typeof type !== 'string' || !type) {
        throw new BadStoreConfiguration(`Backend '${id}' has no driver type in enabled_backends`);
      }
      let definition: DriverDefinition;
      try {
        definition = await registry.load(type);
      } catch (err) {
        if (err instanceof UnsupportedBackend) {
          const reason = `unknown backend type '${type}'. ${err.message}`;
          disabled.push({ id, type, reason });
          logger.warn(`Backend '${id}' is disabled: ${reason}`);
          continue;
        }
        if (err instanceof DriverLoadFailure) {
          disabled.push({ id, type, reason: err.message });
          logger.warn(`Backend '${id}' is disabled: ${err.message}`);
          continue;
        }
        throw err;
      }
      // Own properties only: a backend named `constructor` must not find Object's.
      const raw = config.backends && Object.hasOwn(config.backends, id) ? config.backends[id] : {};
      let checked: ReturnType<typeof validateOptions>;
      try {
        checked = validateOptions(id, definition.options, raw ?? {}, { reserved });
      } catch (err) {
        // A non-secret option may still hold a URI with credentials.
        throw redactError(err, redactNow());
      }
      const { values, unknown } = checked;
      // In single-store mode every backend gets all of [glance_store]: other drivers' options too.
      if (!config.singleStore) {
        reportUnknownNames(
          `Backend '${id}'`,
          unknown,
          [...COMMON_OPTIONS, ...definition.options].map((spec) => spec.name),
          { logger, strict: options.strict, noun: 'option' },
        );
      }
      secrets.push(...secretValues(definition.options, values));
      prepared.push({ id, type, reserved, definition, values });
    }
    redact = redactNow();

    const backends = new Map<string, Backend>();
    const locations = new LocationRegistry<Backend>();
    try {
      for (const { id, type, reserved, definition, values } of prepared) {
        const capabilities = new CapabilitySet(definition.capabilities);
        const writeSide: Backend['writeSide'] = {};
        const context: DriverContext = {
          backendId: id,
          type,
          options: values,
          capabilities,
          logger,
          reserved,
          onWritesDisabled: (reason) => {
            writeSide.addDisabledReason = redact(reason);
          },
        };
        let driver: Driver;
        try {
          driver = await definition.create(context);
        } catch (err) {
          if (err instanceof DriverLoadFailure) {
            registry.disable(type, redact(err.message));
            disabled.push({ id, type, reason: err.message });
            logger.warn(`Backend '${id}' is disabled: ${err.message}`);
            continue;
          }
          // glance_store skips a store whose driver fails to initialise.
          if (err instanceof BadStoreConfiguration) {
            disabled.push({ id, type, reason: err.message });
            logger.warn(`Backend '${id}' is disabled: ${err.message}`);
            continue;
          }
          throw err;
        }
        const backend: Backend = {
          id,
          definition,
          context,
          capabilities,
          reusable: capabilities.has(Capability.DRIVER_REUSABLE),
          driver,
          reserved,
          writeSide,
          namesItself: !config.singleStore,
        };
        backends.set(id, backend);
        locations.register(definition.schemes, id, backend);
        logger.debug(
          `Registered backend '${id}' (${type}) for schemes ${definition.schemes.join(', ')}`,
        );
      }
    } catch (err) {
      await Promise.allSettled([...backends.values()].map((b) => b.driver.close?.()));
      throw redactError(err, redact);
    }
    const unusable = () => disabled.map((d) => `'${d.id}' (${d.reason})`).join('; ');
    if (backends.size === 0 || (defaultBackend && !backends.has(defaultBackend))) {
      await Promise.allSettled([...backends.values()].map((b) => b.driver.close?.()));
      const what =
        backends.size === 0
          ? 'No backend is usable'
          : `The default backend '${defaultBackend}' is disabled`;
      throw new BadStoreConfiguration(redact(`${what}: ${unusable()}`));
    }
    return new MultiStore({
      backends,
      // Reasons come from driver code and may quote an option: mask secrets.
      disabled: disabled.map((d) => ({ ...d, reason: redact(d.reason) })),
      order: ids,
      locations,
      defaultBackend,
      logger,
      redact,
      imageSizeCap: options.imageSizeCap ?? 0,
      registry,
      readAheadLimit: checkNonNegativeInteger(
        'readAheadLimit',
        options.readAheadLimit ?? DEFAULT_READ_AHEAD_LIMIT,
      ),
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

      const hasher = hasherFor(hashingAlgo, size);
      const ingest = meterIngest(data, {
        size,
        sizeCap: options.imageSizeCap ?? this.#imageSizeCap,
        signal,
        hasher,
        ...(options.verifier ? { verifier: options.verifier } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
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
      () => this.#get(uri, options),
      (got) => {
        Object.assign(event, this.#traceBackend(got.backend));
        event.size = got.size;
        traceGetStream(event, got.stream, () => imageBytesRead(got.stream));
      },
    );
  }

  async #get(uri: string, options: GetOptions = {}): Promise<GetResult> {
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
        const driver = backend.reusable
          ? backend.driver
          : await backend.definition.create(backend.context);
        let got: GetResult;
        try {
          const location = driver.parseLocation(uri);
          const recycled = options.reuseBuffers ? new RecycledChunks() : undefined;
          // Fresh chunks unless the caller sends the bytes on with pipeTo.
          const lent = recycled ? undefined : new LentBuffers();
          const result = await driver.get(location, {
            offset,
            ...(chunkSize !== undefined ? { chunkSize } : {}),
            signal,
            context: options.context,
            allocate: recycled?.allocate ?? lent?.allocate ?? freshChunk,
            readAheadBudget: this.#readAheadBudget,
          });
          const release = backend.reusable ? undefined : () => driver.close?.();
          const stream = this.#readable(result.stream, {
            signal,
            release,
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
          if (!backend.reusable) await driver.close?.().catch(() => undefined);
          throw err;
        }
        // Fired while the driver opened the image: no caller will read this stream.
        if (signal.aborted) {
          await discardUnread(got.stream);
          throw abortError(signal, 'get');
        }
        return got;
      });
    }, options.signal);
  }

  /** Size of an image in bytes. @throws NotFound, UnknownScheme, BadStoreUri */
  getSize(uri: string, options: RequestOptions = {}): Promise<number> {
    if (!isTraced('getSize')) return this.#getSize(uri, options);
    const event = operationEvent('getSize', this.#traceStart(uri, options.backend));
    return traceOperation(
      event,
      () => this.#getSize(uri, options, (backend) => this.#traceServed(event, backend)),
      (size) => {
        event.size = size;
      },
    );
  }

  async #getSize(
    uri: string,
    options: RequestOptions,
    served?: (backend: Backend) => void,
  ): Promise<number> {
    return this.#guard(
      () =>
        this.#search(
          uri,
          options.backend,
          (backend) =>
            this.#withDriver(backend, (driver) =>
              driver.getSize(driver.parseLocation(uri), {
                signal: options.signal ?? neverAborted(),
                context: options.context,
              }),
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
      this.#delete(uri, options, (backend) => this.#traceServed(event, backend)),
    );
  }

  async #delete(
    uri: string,
    options: RequestOptions,
    served?: (backend: Backend) => void,
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
            return this.#withDriver(backend, async (driver) => {
              if (!driver.delete)
                throw new StoreDeleteNotSupported(
                  `Backend '${backend.id}' does not allow deleting images: its driver has no delete`,
                );
              await driver.delete(driver.parseLocation(uri), {
                signal: options.signal ?? neverAborted(),
                context: options.context,
              });
            });
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
    return this.#guard(async () => {
      const target = this.#backend(options.to);
      const signal = options.signal ?? neverAborted();
      const source = await this.get(uri, {
        ...(options.from !== undefined ? { backend: options.from } : {}),
        signal,
        context: options.context,
      });
      // add() reports the source's failures; this keeps a late abort-destroy of
      // the source, after add() stopped reading it, from going unhandled.
      source.stream.on('error', () => undefined);
      let added: AddResult;
      try {
        added = await this.add(options.imageId ?? randomUUID(), source.stream, source.size, {
          backend: target.id,
          ...(options.hashingAlgo !== undefined ? { hashingAlgo: options.hashingAlgo } : {}),
          signal,
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
          context: options.context,
        });
      } finally {
        source.stream.destroy();
      }
      try {
        await this.#checkCopy(added, source.size, options, signal);
      } catch (err) {
        // The copy cannot be vouched for: take it back out of the target.
        await this.delete(added.location, { backend: target.id }).catch(() => undefined);
        throw err;
      }
      this.#logger.debug(`Copied ${uri} to backend '${target.id}'`, { bytes: added.size });
      return added;
    }, options.signal);
  }

  async #checkCopy(
    added: AddResult,
    sourceSize: number,
    options: CopyOptions,
    signal: AbortSignal,
  ): Promise<void> {
    if (added.size !== sourceSize) {
      throw new ImageSizeMismatch(
        `Copy in backend '${added.backend}' is ${added.size} bytes, the source ${sourceSize}`,
      );
    }
    const { checksum, multihash } = options.expected ?? {};
    if (checksum !== undefined && checksum.toLowerCase() !== added.checksum) {
      throw new ChecksumMismatch('Copied data does not match the expected md5 checksum');
    }
    if (multihash !== undefined && multihash.toLowerCase() !== added.multihash) {
      throw new ChecksumMismatch(
        `Copied data does not match the expected ${added.hashingAlgo} multihash`,
      );
    }
    const target = this.#backend(added.backend);
    if (options.readBack === false || !target.capabilities.has(Capability.READ_ACCESS)) return;
    const back = await this.get(added.location, {
      backend: added.backend,
      signal,
      verify: { multihash: added.multihash, hashingAlgo: added.hashingAlgo },
    });
    let bytes = 0;
    for await (const chunk of back.stream) bytes += (chunk as Uint8Array).byteLength;
    if (bytes !== added.size) {
      throw new ImageSizeMismatch(
        `Copy in backend '${added.backend}' reads back as ${bytes} bytes, not ${added.size}`,
      );
    }
  }

  /** Closes every backend's driver. Further calls fail; closing twice is a no-op. */
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
    return typeof uri === 'string' ? this.#redact(redactUri(uri)) : undefined;
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

  async #withDriver<T>(backend: Backend, work: (driver: Driver) => Promise<T>): Promise<T> {
    if (backend.reusable) return work(backend.driver);
    // Not reusable: a fresh instance per use, as glance_store re-creates it.
    const driver = await backend.definition.create(backend.context);
    try {
      return await work(driver);
    } finally {
      await driver.close?.().catch(() => undefined);
    }
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
    return redactError(out, this.#redact);
  }

  #readable(
    source: AsyncIterable<Uint8Array> | Readable,
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
    const hasher = verification ? hasherFor(verification.algorithm, size) : undefined;
    return imageReadStream(source, {
      signal,
      expectedBytes: size,
      normalize: (err) => redactUriCredentials(this.#normalize(err, signal)) as Error,
      ...(hasher && verification ? { hasher, verification } : {}),
      ...(release ? { release } : {}),
      ...(recycled ? { recycled } : {}),
    });
  }
}
