/**
 * The typed face of the native binding (build/Release/rbd.node). This is the only
 * module that touches the addon: it loads it, and wraps its handles in classes
 * whose failures are {@link RbdCallError}s carrying librados/librbd's errno.
 *
 * Module-level state, on purpose: the load result of the default addon is cached
 * for the process, as the addon itself is (a native module is loaded once per
 * process and cannot be unloaded), so every backend sees the same answer.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the addon is built, relative to this package's root. */
export const ADDON_PATH = 'build/Release/rbd.node';

/** What to tell an operator when the addon is missing. */
export const INSTALL_HINT =
  "install librbd-dev and librados-dev (apt-get install librbd-dev librados-dev), then build the binding again: npm rebuild @store/rbd (pnpm runs a dependency's build script only once allowed: pnpm approve-builds, then pnpm rebuild @store/rbd)";

interface NativeCluster {
  connect(
    confFile: string,
    user: string,
    timeoutSeconds: number,
    opTimeoutSeconds?: number,
  ): Promise<void>;
  fsid(): string;
  confGet(name: string): string | null;
  shutdown(): Promise<void>;
}
interface NativePool {
  open(name: string): Promise<void>;
  close(): void;
  createImage(name: string, size: number, order: number, features: number): Promise<void>;
  removeImage(name: string): Promise<void>;
  listImages(): Promise<string[]>;
}
interface NativeImage {
  open(name: string, snapshot: string | null, readOnly: boolean): Promise<void>;
  size(): number;
  write(offset: number, data: Uint8Array): Promise<number>;
  read(offset: number, into: Uint8Array): Promise<number>;
  flush(): Promise<number>;
  resize(size: number): Promise<void>;
  snapCreate(name: string): Promise<void>;
  snapProtect(name: string): Promise<void>;
  snapUnprotect(name: string): Promise<void>;
  snapRemove(name: string): Promise<void>;
  snapExists(name: string): Promise<boolean>;
  snapSet(name: string | null): Promise<void>;
  children(): Promise<number>;
  watchers(): Promise<number>;
  snapNames(): Promise<string[]>;
  snapIsProtected(name: string): Promise<boolean>;
  timestamps(): Promise<[number, number]>;
  close(): Promise<void>;
}

/** Open native handles in this process (for leak checks). */
export interface HandleCounts {
  readonly clusters: number;
  readonly pools: number;
  readonly images: number;
  /** aio reads/writes/flushes in flight. */
  readonly aio: number;
  /** Handles released by garbage collection instead of close (each one is a bug). */
  readonly finalized: number;
}

/** The addon's exports. */
export interface NativeAddon {
  readonly Cluster: new () => NativeCluster;
  readonly Pool: new (cluster: NativeCluster) => NativePool;
  readonly Image: new (pool: NativePool) => NativeImage;
  handles(): HandleCounts;
  librbdVersion(): string;
  readonly FEATURE_LAYERING: number;
}

/** The result of loading the addon. */
export type BindingStatus =
  | { readonly ok: true; readonly addon: NativeAddon; readonly path: string }
  | { readonly ok: false; readonly reason: string };

function packageRoot(): string {
  // src/ and dist/ both sit one level below the package root.
  return join(dirname(fileURLToPath(import.meta.url)), '..');
}

let cached: BindingStatus | undefined;

/**
 * Loads the addon (once per path). Never throws: a missing or unloadable addon is
 * reported with the reason and what to install.
 */
export function loadBinding(path: string = join(packageRoot(), ADDON_PATH)): BindingStatus {
  const isDefault = path === join(packageRoot(), ADDON_PATH);
  if (isDefault && cached) return cached;
  let status: BindingStatus;
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    status = { ok: true, addon, path };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'MODULE_NOT_FOUND'
        ? `its native binding ${path} was not built`
        : `its native binding ${path} failed to load (${(err as Error).message.split('\n')[0]})`;
    status = { ok: false, reason: `The rbd driver is unavailable: ${why}; ${INSTALL_HINT}` };
  }
  if (isDefault) cached = status;
  return status;
}

/** A librados/librbd call failed; `errno` is the positive error number it returned. */
export class RbdCallError extends Error {
  constructor(
    message: string,
    readonly errno: number,
    readonly operation: string,
  ) {
    super(message);
    this.name = 'RbdCallError';
  }
}

function wrap(err: unknown): unknown {
  const e = err as Error & { errno?: number; operation?: string };
  if (e instanceof Error && typeof e.errno === 'number')
    return new RbdCallError(e.message, e.errno, e.operation ?? 'rbd');
  return err;
}

async function call<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (err) {
    throw wrap(err);
  }
}

/** Connection settings of {@link RadosCluster.connect}. */
export interface ConnectSettings {
  /** Ceph configuration file; empty for librados's default search. */
  readonly confFile: string;
  /** RADOS user id (without `client.`); empty for librados's default. */
  readonly user: string;
  /** Seconds to wait for the monitors (client_mount_timeout); 0 keeps librados's default. */
  readonly timeoutSeconds: number;
  /**
   * Seconds after which an OSD or monitor operation fails with ETIMEDOUT
   * (rados_osd_op_timeout and rados_mon_op_timeout); 0 or absent waits forever, as
   * librados does by default.
   */
  readonly opTimeoutSeconds?: number;
}

/** A connected cluster (rados_t). */
export class RadosCluster {
  readonly #addon: NativeAddon;
  readonly #native: NativeCluster;

  private constructor(addon: NativeAddon, native: NativeCluster) {
    this.#addon = addon;
    this.#native = native;
  }

  /** Connects, on the thread pool. */
  static async connect(addon: NativeAddon, settings: ConnectSettings): Promise<RadosCluster> {
    const native = new addon.Cluster();
    await call(
      native.connect(
        settings.confFile,
        settings.user,
        settings.timeoutSeconds,
        settings.opTimeoutSeconds ?? 0,
      ),
    );
    return new RadosCluster(addon, native);
  }

  /** The cluster's fsid. */
  fsid(): string {
    return this.#native.fsid();
  }

  /** A configuration value as librados sees it, or null when unknown. */
  confGet(name: string): string | null {
    return this.#native.confGet(name);
  }

  /** Opens an I/O context on `name`. */
  async openPool(name: string): Promise<RbdPool> {
    const native = new this.#addon.Pool(this.#native);
    await call(native.open(name));
    return new RbdPool(this.#addon, native, name);
  }

  /** Disconnects; every pool must be closed first. */
  shutdown(): Promise<void> {
    return call(this.#native.shutdown());
  }
}

/** An I/O context on one pool (rados_ioctx_t). */
export class RbdPool {
  readonly #addon: NativeAddon;
  readonly #native: NativePool;
  /** The pool's name. */
  readonly name: string;

  /** @internal */
  constructor(addon: NativeAddon, native: NativePool, name: string) {
    this.#addon = addon;
    this.#native = native;
    this.name = name;
  }

  /** Creates an image of `size` bytes with objects of 2^order bytes. */
  createImage(name: string, size: number, order: number, features: number): Promise<void> {
    return call(this.#native.createImage(name, size, order, features));
  }

  /** Removes an image (fails with ENOTEMPTY while it has snapshots, EBUSY while watched). */
  removeImage(name: string): Promise<void> {
    return call(this.#native.removeImage(name));
  }

  /** The names of the pool's images. */
  listImages(): Promise<string[]> {
    return call(this.#native.listImages());
  }

  /** Opens an image, at `snapshot` if given; read-only opens register no watch. */
  async openImage(
    name: string,
    options: { snapshot?: string | undefined; readOnly: boolean },
  ): Promise<RbdImage> {
    const native = new this.#addon.Image(this.#native);
    await call(native.open(name, options.snapshot ?? null, options.readOnly));
    return new RbdImage(native, name);
  }

  /** Releases the I/O context; its images must be closed first. */
  close(): void {
    this.#native.close();
  }
}

/** An open image (rbd_image_t). Reads and writes are librbd aio, the rest runs on the thread pool. */
export class RbdImage {
  readonly #native: NativeImage;
  /** The image's name. */
  readonly name: string;

  /** @internal */
  constructor(native: NativeImage, name: string) {
    this.#native = native;
    this.name = name;
  }

  /** Size in bytes (of the snapshot, when opened at one). */
  size(): number {
    return this.#native.size();
  }

  /** Writes `data` at `offset`; `data` must not change until the promise settles. */
  async write(offset: number, data: Uint8Array): Promise<void> {
    await call(this.#native.write(offset, data));
  }

  /** Reads `into.byteLength` bytes at `offset`; resolves with the bytes read. */
  read(offset: number, into: Uint8Array): Promise<number> {
    return call(this.#native.read(offset, into));
  }

  /** Waits until the writes acknowledged so far are on the OSDs. */
  async flush(): Promise<void> {
    await call(this.#native.flush());
  }

  resize(size: number): Promise<void> {
    return call(this.#native.resize(size));
  }

  snapCreate(name: string): Promise<void> {
    return call(this.#native.snapCreate(name));
  }

  snapProtect(name: string): Promise<void> {
    return call(this.#native.snapProtect(name));
  }

  snapUnprotect(name: string): Promise<void> {
    return call(this.#native.snapUnprotect(name));
  }

  snapRemove(name: string): Promise<void> {
    return call(this.#native.snapRemove(name));
  }

  snapExists(name: string): Promise<boolean> {
    return call(this.#native.snapExists(name));
  }

  /** Points later reads and {@link children} at `name` (null: the image head). */
  snapSet(name: string | null): Promise<void> {
    return call(this.#native.snapSet(name));
  }

  /** Number of clones of the snapshot set with {@link snapSet}. */
  children(): Promise<number> {
    return call(this.#native.children());
  }

  /** Number of clients watching the image (read-write opens, mapped devices). */
  watchers(): Promise<number> {
    return call(this.#native.watchers());
  }

  /** The names of the image's snapshots. */
  snapNames(): Promise<string[]> {
    return call(this.#native.snapNames());
  }

  snapIsProtected(name: string): Promise<boolean> {
    return call(this.#native.snapIsProtected(name));
  }

  /** When the image was created and last written, in ms since the epoch. */
  async timestamps(): Promise<{ created: number; modified: number }> {
    const [created, modified] = await call(this.#native.timestamps());
    return { created, modified };
  }

  /** Closes the image; no read or write may be in flight. */
  close(): Promise<void> {
    return call(this.#native.close());
  }
}
