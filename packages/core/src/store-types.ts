/**
 * The manager's public types: the options and results of {@link MultiStore}'s
 * calls and how it describes its backends. index.ts re-exports them.
 */

import type { Writable } from 'node:stream';
import type { CapabilityName } from './capabilities.js';
import type { DiscoveryOptions, DriverRegistry } from './discovery.js';
import type { DriverDefinition } from './driver.js';
import type { ImageVerifier } from './ingest.js';
import type { StoreLimits } from './limits.js';
import type { Logger } from './logger.js';
import type { MultiStore } from './manager.js';
import type { Strictness } from './names.js';
import type { PipeToOptions } from './pipe-to.js';
import type { ImageStream } from './reader.js';
import type { VerifyOptions } from './verify.js';

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
   * 0 reads one chunk at a time. With {@link StoreLimits.bufferMemory} set, reads
   * ahead share that budget with adds, this being the most they may take of it.
   */
  readonly readAheadLimit?: number;
  /**
   * Bounds on work in flight across all backends: adds and gets running at once,
   * and the bytes their buffers may hold. Work over a limit waits in order (an
   * aborted waiter leaves at once with OperationAborted); {@link MultiStore.stats}
   * shows use and queues. No limit by default.
   */
  readonly limits?: StoreLimits;
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
