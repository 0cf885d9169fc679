/**
 * One backend's connection to its Ceph cluster: the cluster handle, an I/O
 * context per pool (opened on first use) and every open image, so close() can
 * release them all, in order, deterministically.
 */
import { BackendException } from '@store/core';
import {
  type ConnectSettings,
  type NativeAddon,
  RadosCluster,
  type RbdImage,
  type RbdPool,
} from './binding.js';

/**
 * An open image whose calls are tracked, so closing it first waits for the
 * reads and writes in flight (librbd must not close an image under them).
 */
export class ImageHandle {
  readonly #image: RbdImage;
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #onClosed: (handle: ImageHandle) => void;
  #closing: Promise<void> | undefined;

  /** @internal */
  constructor(image: RbdImage, onClosed: (handle: ImageHandle) => void) {
    this.#image = image;
    this.#onClosed = onClosed;
  }

  get name(): string {
    return this.#image.name;
  }

  #track<T>(work: (image: RbdImage) => Promise<T>): Promise<T> {
    if (this.#closing) {
      return Promise.reject(new BackendException(`Image ${this.name} was closed`));
    }
    const promise = work(this.#image);
    this.#inFlight.add(promise);
    const forget = () => this.#inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  size(): number {
    return this.#image.size();
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    return this.#track((image) => image.write(offset, data));
  }
  read(offset: number, into: Uint8Array): Promise<number> {
    return this.#track((image) => image.read(offset, into));
  }
  flush(): Promise<void> {
    return this.#track((image) => image.flush());
  }
  resize(size: number): Promise<void> {
    return this.#track((image) => image.resize(size));
  }
  snapCreate(name: string): Promise<void> {
    return this.#track((image) => image.snapCreate(name));
  }
  snapProtect(name: string): Promise<void> {
    return this.#track((image) => image.snapProtect(name));
  }
  snapUnprotect(name: string): Promise<void> {
    return this.#track((image) => image.snapUnprotect(name));
  }
  snapRemove(name: string): Promise<void> {
    return this.#track((image) => image.snapRemove(name));
  }
  snapExists(name: string): Promise<boolean> {
    return this.#track((image) => image.snapExists(name));
  }
  snapSet(name: string | null): Promise<void> {
    return this.#track((image) => image.snapSet(name));
  }
  children(): Promise<number> {
    return this.#track((image) => image.children());
  }
  watchers(): Promise<number> {
    return this.#track((image) => image.watchers());
  }
  snapNames(): Promise<string[]> {
    return this.#track((image) => image.snapNames());
  }
  snapIsProtected(name: string): Promise<boolean> {
    return this.#track((image) => image.snapIsProtected(name));
  }
  timestamps(): Promise<{ created: number; modified: number }> {
    return this.#track((image) => image.timestamps());
  }

  /** Waits for calls in flight, then closes the image. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
      try {
        await this.#image.close();
      } finally {
        this.#onClosed(this);
      }
    })();
    return this.#closing;
  }
}

/** A connected cluster with its pools and open images. */
export class RbdConnection {
  readonly #cluster: RadosCluster;
  readonly #pools = new Map<string, Promise<RbdPool>>();
  readonly #images = new Set<ImageHandle>();
  readonly #opening = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;
  /** The cluster's fsid, put in every location. */
  readonly fsid: string;

  private constructor(cluster: RadosCluster) {
    this.#cluster = cluster;
    this.fsid = cluster.fsid();
  }

  /** Connects to the cluster (on the thread pool). @throws RbdCallError */
  static async open(addon: NativeAddon, settings: ConnectSettings): Promise<RbdConnection> {
    return new RbdConnection(await RadosCluster.connect(addon, settings));
  }

  /** A librados configuration value, or null. */
  confGet(name: string): string | null {
    return this.#cluster.confGet(name);
  }

  #checkOpen(): void {
    if (this.#closing) throw new BackendException('The Ceph connection is closed');
  }

  /** The I/O context of pool `name`, opened once. @throws RbdCallError (ENOENT: no such pool) */
  pool(name: string): Promise<RbdPool> {
    this.#checkOpen();
    let pool = this.#pools.get(name);
    if (!pool) {
      pool = this.#cluster.openPool(name);
      this.#pools.set(name, pool);
      // A failed open is not cached: the pool may be created later.
      pool.catch(() => this.#pools.delete(name));
    }
    return pool;
  }

  /** Opens an image, tracked until its handle is closed. @throws RbdCallError */
  async openImage(
    pool: RbdPool,
    name: string,
    options: { snapshot?: string | undefined; readOnly: boolean },
  ): Promise<ImageHandle> {
    this.#checkOpen();
    const opening = pool.openImage(name, options);
    this.#opening.add(opening);
    let image: RbdImage;
    try {
      image = await opening;
    } finally {
      this.#opening.delete(opening);
    }
    const handle = new ImageHandle(image, (h) => this.#images.delete(h));
    this.#images.add(handle);
    // close() ran while the image was opening: release it right away.
    if (this.#closing) {
      await handle.close();
      throw new BackendException('The Ceph connection is closed');
    }
    return handle;
  }

  /** Closes every image, then every pool, then the cluster handle. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#opening]);
      await Promise.allSettled([...this.#images].map((h) => h.close()));
      const pools = await Promise.allSettled([...this.#pools.values()]);
      for (const p of pools) if (p.status === 'fulfilled') p.value.close();
      this.#pools.clear();
      await this.#cluster.shutdown();
    })();
    return this.#closing;
  }
}
