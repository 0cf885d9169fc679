/**
 * The driver contract: what a storage driver package implements. Small on purpose
 * (like Rust object_store's trait): the manager does hashing, size checks,
 * capability checks, metadata checks, redaction and backend selection, so a
 * driver only moves bytes and names them.
 */

import type { Readable } from 'node:stream';
import type { CapabilitySet } from './capabilities.js';
import type { ChunkAllocator } from './chunk-buffers.js';
import { BadStoreConfiguration } from './errors.js';
import type { checkImageId } from './image-id.js';
import type { DEFAULT_ADD_BUFFER_BYTES, StoreLimits } from './limits.js';
import type { StoreLocation } from './location.js';
import type { Logger } from './logger.js';
import type { OptionSpec, OptionValues } from './options.js';
import type { ReadAheadBudget, readAhead } from './read-ahead.js';

/** What a driver instance is created with. */
export interface DriverContext {
  /** The backend id from the config (`fast` in `fast:file`). */
  readonly backendId: string;
  /** The driver type (`file`). */
  readonly type: string;
  /** The backend's options, validated against the driver's schema, defaults applied. */
  readonly options: OptionValues;
  /**
   * The backend's live capabilities, starting from the definition's; the driver may
   * add or remove flags at run time (e.g. drop WRITE_ACCESS on a read-only disk).
   */
  readonly capabilities: CapabilitySet;
  /** Where to log; secrets are already masked by the manager. */
  readonly logger: Logger;
  /** True for a reserved store of the consuming service (e.g. Glance's staging store). */
  readonly reserved: boolean;
  /**
   * Set by the manager: told why adding was disabled, so the backend is listed
   * with its reason and add is refused naming it. Drivers do not call it
   * directly: they use `configureWrites` or `disableWrites`.
   */
  readonly onWritesDisabled?: (reason: string) => void;
}

/** Request passed to {@link Driver.add}. */
export interface DriverAddRequest {
  /**
   * The image id, as given by the caller. The manager has refused ids that break
   * core's rule ({@link checkImageId}: no `/`, `\`, `.`, `..`, control or bidi
   * characters, lone surrogates); a driver calls `checkImageId` too, so that it
   * is safe without the manager, then refuses what its own location format
   * cannot carry (`Invalid`).
   */
  readonly imageId: string;
  /**
   * The image bytes. The manager has already wrapped it: it hashes, enforces the
   * declared size and the size cap, and throws (ending the iteration with an error)
   * on a short or long image, on abort, or on a source failure. A driver commits
   * only after this iterable has ended normally, and removes everything it wrote
   * when it throws. Chunks are handed over, as with Node streams: a driver may
   * keep writing one after it pulled the next.
   */
  readonly data: AsyncIterable<Uint8Array>;
  /**
   * Gives a chunk of `data` back once its bytes have been written or copied, so the
   * manager can read the next bytes into the same memory (no page faults). Calling it
   * is optional; a driver that never does gets new memory for every chunk. Absent
   * when a driver is called directly.
   */
  readonly release?: (chunk: Uint8Array) => void;
  /** Declared size in bytes; 0 means unknown. */
  readonly size: number;
  /** Fires when the caller aborts; the driver stops I/O and cleans up. */
  readonly signal: AbortSignal;
  /** Opaque request context from the caller (glance_store's `context`). */
  readonly context?: unknown;
}

/** What {@link Driver.add} returns. */
export interface DriverAddResult<L extends StoreLocation = StoreLocation> {
  readonly location: L;
  /** Bytes stored. */
  readonly size: number;
  /** Location metadata: only objects, arrays and strings (checked by the manager). */
  readonly metadata?: Record<string, unknown>;
}

/** Request passed to {@link Driver.get}. */
export interface DriverGetRequest {
  /** First byte to return (needs READ_OFFSET when > 0). */
  readonly offset: number;
  /**
   * How many bytes to return from `offset` (glance_store's `chunk_size`; needs
   * READ_CHUNK). Undefined means to the end.
   */
  readonly chunkSize?: number;
  readonly signal: AbortSignal;
  readonly context?: unknown;
  /**
   * Gives the buffers to read image bytes into, for drivers that fill buffers
   * themselves (positional reads: see {@link readAhead}). A driver must hand each
   * one out as (part of) a chunk and not touch it afterwards: when the caller
   * asked for `reuseBuffers`, the manager lends the same memory again once the
   * caller has moved past the chunk. A buffer may be shorter than asked (fresh
   * memory comes in pieces of at most 256 KiB, cheaper than larger ones): read that much
   * into it, as {@link readAhead} does. Drivers whose client library allocates may
   * ignore it.
   */
  readonly allocate: ChunkAllocator;
  /**
   * The MultiStore's memory for reading ahead of consumers: drivers that read
   * ahead pass it to {@link readAhead} (absent when a driver is called directly).
   */
  readonly readAheadBudget?: ReadAheadBudget;
}

/**
 * What {@link Driver.get} returns. The manager owns everything around the bytes:
 * it fails a stream that ends short of `size` or runs past it, types and redacts
 * its failures, stops it on abort, and lets it go once however the read ends.
 */
export interface DriverGetResult {
  /**
   * The bytes, pulled on demand (backpressure); a failure mid-way must error the
   * stream (or reject the iterator's `next`). An async generator over the client
   * library's body is enough: the manager makes the caller's stream from it.
   */
  readonly stream: AsyncIterable<Uint8Array> | Readable;
  /** Number of bytes the stream will deliver (0 when the backend cannot tell). */
  readonly size: number;
  /**
   * Frees what the read holds (a socket, a file or image handle). The manager
   * calls it exactly once, whichever way the read ends: read to its end, failed,
   * destroyed by the caller, or given up before its first byte (a generator that
   * never started never runs its `finally`, so that cleanup cannot be trusted to
   * it). Calling it after the stream was read to its end must do no harm.
   * Optional, for compatibility: without it the manager only destroys a Readable
   * `stream` or calls `return` on an iterator, which frees nothing an unstarted
   * generator holds.
   */
  close?(): void | Promise<void>;
  /**
   * Turns a failure of `stream` mid-read (a lost connection, an object replaced
   * while read) into the driver's typed error, as the driver's other calls map
   * theirs. The manager calls it on the stream's failures that are not already
   * StoreErrors; optional: without it they become BackendException.
   */
  mapError?(err: unknown): unknown;
}

/** Request of the calls that move no image data. */
export interface DriverRequest {
  readonly signal: AbortSignal;
  readonly context?: unknown;
}

/** Access control to apply to an image, as glance_store's `set_acls`. */
export interface Acls {
  readonly public: boolean;
  readonly readTenants: readonly string[];
  readonly writeTenants: readonly string[];
}

/**
 * Something a backend holds that no add completed: what an add left when its
 * process died, or when cleaning up after a failure failed too (an unfinished
 * multipart upload, uncommitted blocks, a partial RBD image, a temporary file,
 * Swift segments with no manifest). Readers never see it, but it takes space
 * until removed. Yielded by {@link Driver.listOrphans}; give it back unchanged
 * to {@link Driver.removeOrphan} of the same driver.
 */
export interface Orphan {
  /** What it is, in the driver's words (`multipart-upload`, `partial-file`, …). */
  readonly kind: string;
  /**
   * The backend's own name for it (an upload id, a blob or image name, a file
   * path): with `kind`, what {@link Driver.removeOrphan} removes. Never a secret.
   */
  readonly id: string;
  /** The image id the add was for, when the backend's names tell it. */
  readonly imageId?: string;
  /** Where it is, for people (`bucket/key`, `pool/image`, a path); no credentials. */
  readonly where: string;
  /** Bytes it occupies, when the backend tells without reading it. */
  readonly bytes?: number;
  /**
   * When it was started or last written, whichever the backend tells (its
   * driver's TSDoc says which): the age `olderThan` is judged by.
   */
  readonly since: Date;
}

/** Request passed to {@link Driver.listOrphans}. */
export interface ListOrphansRequest {
  /**
   * Only orphans whose `since` is at least this many milliseconds ago; 0 or
   * absent lists them all. An add under way holds the same things as a dead
   * one, so a removal should only ever be asked for old ones (`store gc`
   * defaults to a day).
   */
  readonly olderThan?: number;
  readonly signal: AbortSignal;
}

/** One configured backend's driver instance. */
export interface Driver<L extends StoreLocation = StoreLocation> {
  /**
   * Parses a location URI of one of the driver's schemes.
   * @throws BadStoreUri naming what is wrong.
   */
  parseLocation(uri: string): L;
  /**
   * Stores an image. @throws Duplicate, StorageFull, StorageWriteDenied, …
   * Optional: a read-only driver (no WRITE_ACCESS) leaves it out, and the manager
   * refuses adds to its backends with StoreAddDisabled, as glance_store does.
   */
  add?(request: DriverAddRequest): Promise<DriverAddResult<L>>;
  /**
   * The most bytes of image data one add of `size` bytes (0: unknown) holds at
   * once in this driver: the chunks it was handed and has not released, and its
   * own buffers (e.g. s3's part buffers, rbd's writes in flight). The manager
   * reserves this much of its buffer memory ({@link StoreLimits.bufferMemory})
   * before the add starts. Optional: without it the manager assumes
   * {@link DEFAULT_ADD_BUFFER_BYTES}.
   */
  addBufferBytes?(size: number): number;
  /**
   * Opens an image for reading, from `request.offset` for `request.chunkSize`
   * bytes (to the end without it). The manager never asks for a chunkSize of 0
   * (it checks the image exists with getSize and returns no bytes).
   * @returns undefined when the backend refuses the range because it starts at
   * or past the image's end (HTTP 416): the manager confirms with getSize that
   * the image exists and is that short, and returns no bytes, as reading past
   * the end of a file does. A driver that knows the size may instead return an
   * empty stream of size 0.
   * @throws NotFound
   */
  get(location: L, request: DriverGetRequest): Promise<DriverGetResult | undefined>;
  /** Size of the image in bytes. @throws NotFound */
  getSize(location: L, request: DriverRequest): Promise<number>;
  /**
   * Removes the image. @throws NotFound, InUseByStore
   * Optional, as add: without it the manager answers StoreDeleteNotSupported.
   */
  delete?(location: L, request: DriverRequest): Promise<void>;
  /**
   * Whether this backend holds `location`, judged from its configuration alone
   * (no I/O): glance_store's `url_prefix`, with which Glance attaches a backend id
   * to a legacy location. Optional: a driver without it owns no location.
   */
  owns?(location: L): boolean;
  /** Applies ACLs; optional (the manager skips drivers without it, with a debug log). */
  setAcls?(location: L, acls: Acls, request: DriverRequest): Promise<void>;
  /**
   * Lists what this backend holds that no add completed ({@link Orphan}),
   * oldest-first where the backend lists that way. Never yields a stored image
   * nor the work of a writer it can tell is alive (a file whose writer's process
   * runs). Optional: a driver without it has nothing to collect, or cannot tell.
   * @throws what the backend's listing throws, as typed errors.
   */
  listOrphans?(request: ListOrphansRequest): AsyncIterable<Orphan>;
  /**
   * Removes an orphan {@link listOrphans} yielded, checking first, where the
   * backend can tell, that it still is one: what became an image meanwhile is
   * refused with InUseByStore and left untouched. Removing what is already gone
   * succeeds. Offered together with listOrphans.
   */
  removeOrphan?(orphan: Orphan, request: DriverRequest): Promise<void>;
  /** Releases connections and handles; called by the manager's close(). */
  close?(): Promise<void>;
}

/**
 * A driver package's default export: how to create instances of the driver.
 * Build it with {@link defineDriver}.
 */
export interface DriverDefinition {
  /** The type name used in `enabled_backends` (`file`, `rbd`, …). */
  readonly type: string;
  /** URI schemes the driver's locations use; the first is the one it writes. */
  readonly schemes: readonly string[];
  /** Capability bitmask a new instance starts with. */
  readonly capabilities: number;
  /** Options the driver accepts (the common `store_description` is added by core). */
  readonly options: readonly OptionSpec[];
  /** One line describing the driver. */
  readonly description?: string;
  /**
   * Creates a configured instance. Throw BadStoreConfiguration for bad settings,
   * DriverLoadFailure when the driver cannot work on this machine at all (a
   * missing native library): the manager then disables its backends with a warning.
   */
  create(context: DriverContext): Driver | Promise<Driver>;
}

const TYPE_NAME = /^[a-z][a-z0-9_-]*$/;

/**
 * Checks a driver definition's shape and returns it unchanged, typed. Use it as
 * the default export of a driver package.
 */
export function defineDriver<D extends DriverDefinition>(definition: D): D {
  const where = `Driver definition '${String(definition?.type)}'`;
  if (!definition || typeof definition !== 'object')
    throw new TypeError('A driver definition must be an object');
  if (!TYPE_NAME.test(definition.type))
    throw new TypeError(`${where}: type must match ${TYPE_NAME}`);
  if (!Array.isArray(definition.schemes) || definition.schemes.length === 0)
    throw new BadStoreConfiguration(`${where}: needs at least one URI scheme`);
  if (
    !Number.isInteger(definition.capabilities) ||
    definition.capabilities < 0 ||
    definition.capabilities > 255
  )
    throw new TypeError(`${where}: capabilities must be a bitmask between 0 and 255`);
  if (typeof definition.create !== 'function')
    throw new TypeError(`${where}: create must be a function`);
  const names = new Set<string>();
  for (const option of definition.options) {
    if (names.has(option.name))
      throw new TypeError(`${where}: option '${option.name}' is declared twice`);
    names.add(option.name);
  }
  return definition;
}

/** True when `value` looks like a driver definition (used when loading packages). */
export function isDriverDefinition(value: unknown): value is DriverDefinition {
  const v = value as DriverDefinition | undefined;
  return (
    !!v &&
    typeof v === 'object' &&
    typeof v.type === 'string' &&
    Array.isArray(v.schemes) &&
    typeof v.create === 'function' &&
    Array.isArray(v.options)
  );
}
