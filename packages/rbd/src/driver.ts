/** The rbd driver: images as RBD images with a protected snapshot, over librbd. */
import { constants } from 'node:os';
import {
  abortError,
  BackendException,
  BadStoreConfiguration,
  Capability,
  checkImageId,
  type Driver,
  type DriverAddRequest,
  type DriverAddResult,
  type DriverContext,
  type DriverGetRequest,
  type DriverGetResult,
  DriverLoadFailure,
  Duplicate,
  disableWrites,
  InUseByStore,
  Invalid,
  type ListOrphansRequest,
  type Logger,
  NotFound,
  type Orphan,
  RemoteServiceUnavailable,
  readAhead,
  throwIfAborted,
} from '@store/core';
import type { BindingStatus, NativeAddon, RbdPool } from './binding.js';
import { type ImageHandle, RbdConnection } from './client.js';
import { errnoOf, toStoreError } from './errors.js';
import { parseRbdLocation, type RbdLocation, rbdLocation } from './location.js';
import { imageOrder, type RbdOptions } from './options.js';
import { listRbdOrphans, type OrphanTarget, removeRbdOrphan } from './orphans.js';
import { writeImage } from './writer.js';

/** The snapshot every image gets, protected so that it can be cloned (glance_store's name). */
export const SNAPSHOT_NAME = 'snap';
/** aio writes in flight during add. */
const WRITE_WINDOW = 4;
/**
 * Bytes per aio read during get. Smaller than an object: each read becomes a
 * buffer the consumer owns, and many small buffers are reclaimed by the garbage
 * collector far sooner than a few large ones (which let RSS balloon).
 */
const READ_SIZE = 1 << 20;
/** At most this many aio reads in flight during get, as far as the consumer keeps up (see readAhead). */
const READ_AHEAD = 8;

const { ENOENT, EINVAL, EBUSY, EEXIST, ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH, ENOTCONN } =
  constants.errno;
/** Connection failures that mean the cluster did not answer (not a bad configuration). */
const UNREACHABLE = new Set([ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH, ENOTCONN]);

export class RbdDriver implements Driver<RbdLocation> {
  readonly #context: DriverContext;
  readonly #addon: NativeAddon;
  readonly #options: RbdOptions;
  readonly #order: number;
  readonly #logger: Logger;
  readonly #active = new Set<Promise<unknown>>();
  #connection: Promise<RbdConnection> | undefined;
  /** The cluster's fsid, once a connection has been made. */
  #fsid: string | undefined;
  #writeDisabled = false;
  #closed = false;

  private constructor(context: DriverContext, addon: NativeAddon, order: number) {
    this.#context = context;
    this.#addon = addon;
    this.#options = context.options as unknown as RbdOptions;
    this.#order = order;
    this.#logger = context.logger;
  }

  /**
   * Creates the driver and connects. Like glance_store, a cluster that cannot be
   * reached at start-up only disables adding (with a warning); it is retried on
   * every call and adding comes back once it answers.
   * @throws DriverLoadFailure when the native binding is missing.
   */
  static async create(context: DriverContext, binding: BindingStatus): Promise<RbdDriver> {
    if (!binding.ok) throw new DriverLoadFailure(binding.reason);
    const options = context.options as unknown as RbdOptions;
    const order = imageOrder(context.backendId, options.rbd_store_chunk_size);
    if (!Number.isInteger(Math.log2(options.rbd_store_chunk_size))) {
      context.logger.warn(
        `Backend '${context.backendId}': rbd_store_chunk_size ${options.rbd_store_chunk_size} is not a power of two; using ${2 ** (order - 20)} MiB objects`,
      );
    }
    const driver = new RbdDriver(context, binding.addon, order);
    try {
      await driver.#connect();
    } catch (err) {
      driver.#writeDisabled = true;
      disableWrites(
        context,
        `cannot use the Ceph cluster, until it answers: ${(err as Error).message}`,
      );
    }
    return driver;
  }

  /**
   * What an add holds ({@link Driver.addBufferBytes}): the object-sized buffer
   * being filled and the {@link WRITE_WINDOW} aio writes in flight, whatever
   * the image's size (the manager caps a small image's share).
   */
  addBufferBytes(): number {
    return this.objectSize * (WRITE_WINDOW + 1);
  }

  /** Object size in bytes (the unit of reads and writes). */
  get objectSize(): number {
    return 2 ** this.#order;
  }

  /**
   * Locations in this backend's cluster and pool, as glance_store's url_prefix
   * `rbd://<fsid>/<pool>/`; before the cluster has answered, every rbd location
   * (glance_store's `rbd://`). Legacy `rbd://<image>` locations name no cluster.
   */
  owns(location: RbdLocation): boolean {
    if (this.#fsid === undefined) return true;
    return location.fsid === this.#fsid && location.pool === this.#options.rbd_store_pool;
  }

  parseLocation(uri: string): RbdLocation {
    return parseRbdLocation(uri);
  }

  #connect(): Promise<RbdConnection> {
    if (this.#closed) return Promise.reject(new BackendException('The rbd driver is closed'));
    if (!this.#connection) {
      const { rbd_store_ceph_conf: confFile, rbd_store_user: user } = this.#options;
      const connecting = RbdConnection.open(this.#addon, {
        confFile,
        user: user ?? '',
        timeoutSeconds: Math.max(0, this.#options.rados_connect_timeout),
        opTimeoutSeconds: Math.max(0, this.#options.rados_op_timeout),
      }).then(
        (connection) => {
          this.#fsid = connection.fsid;
          if (this.#writeDisabled) {
            this.#writeDisabled = false;
            this.#context.capabilities.add(Capability.WRITE_ACCESS);
            this.#logger.info(
              `Backend '${this.#context.backendId}': the Ceph cluster answers, adding images is enabled`,
            );
          }
          return connection;
        },
        (err) => {
          this.#connection = undefined;
          throw this.#connectError(err);
        },
      );
      this.#connection = connecting;
    }
    return this.#connection;
  }

  #connectError(err: unknown): Error {
    const errno = errnoOf(err);
    const conf = this.#options.rbd_store_ceph_conf || 'the default Ceph configuration';
    const what = `Backend '${this.#context.backendId}': cannot connect to the Ceph cluster (${conf}, user ${this.#options.rbd_store_user ?? 'default'})`;
    const detail = `${what}: ${(err as Error).message}`;
    if (errno !== undefined && UNREACHABLE.has(errno))
      return new RemoteServiceUnavailable(detail, { cause: err });
    return new BadStoreConfiguration(detail, { cause: err });
  }

  /** Runs `work` counted as active, so close() lets it finish. */
  async #run<T>(work: () => Promise<T>): Promise<T> {
    const promise = work();
    this.#active.add(promise);
    try {
      return await promise;
    } finally {
      this.#active.delete(promise);
    }
  }

  /** The pool for `location` (or the configured one) on a live connection. */
  async #pool(
    connection: RbdConnection,
    name: string,
    missing: 'configuration' | 'notfound',
  ): Promise<RbdPool> {
    try {
      return await connection.pool(name);
    } catch (err) {
      if (errnoOf(err) === ENOENT) {
        const message = `Pool '${name}' does not exist in Ceph cluster ${connection.fsid}`;
        throw missing === 'configuration'
          ? new BadStoreConfiguration(
              `Backend '${this.#context.backendId}': option 'rbd_store_pool': ${message}`,
              { cause: err },
            )
          : new NotFound(message, { cause: err });
      }
      throw toStoreError(err, `opening pool '${name}'`);
    }
  }

  /** Connection and pool of a location; NotFound for another cluster's location. */
  async #target(location: RbdLocation): Promise<{ connection: RbdConnection; pool: RbdPool }> {
    const connection = await this.#connect();
    if (location.fsid && location.fsid !== connection.fsid) {
      throw new NotFound(
        `Image ${location.image} is in Ceph cluster ${location.fsid}, not in this backend's cluster ${connection.fsid}`,
      );
    }
    const pool = await this.#pool(
      connection,
      location.pool ?? this.#options.rbd_store_pool,
      'notfound',
    );
    return { connection, pool };
  }

  async #open(
    connection: RbdConnection,
    pool: RbdPool,
    image: string,
    options: { snapshot?: string | undefined; readOnly: boolean },
  ): Promise<ImageHandle> {
    try {
      return await connection.openImage(pool, image, options);
    } catch (err) {
      const where = `${pool.name}/${image}${options.snapshot ? `@${options.snapshot}` : ''}`;
      if (errnoOf(err) === ENOENT)
        throw new NotFound(`RBD image ${where} does not exist`, { cause: err });
      throw toStoreError(err, `opening RBD image ${where}`);
    }
  }

  #features(connection: RbdConnection): number {
    // As glance_store: the cluster's rbd_default_features, layering when unset;
    // layering always, so the snapshot can be cloned.
    const configured = Number.parseInt(connection.confGet('rbd_default_features') ?? '', 10);
    const features = Number.isFinite(configured) && configured > 0 ? configured : 0;
    return features | this.#addon.FEATURE_LAYERING;
  }

  add(request: DriverAddRequest): Promise<DriverAddResult<RbdLocation>> {
    return this.#run(() => this.#add(request));
  }

  async #add(request: DriverAddRequest): Promise<DriverAddResult<RbdLocation>> {
    checkImageId(request.imageId);
    const name = request.imageId;
    const connection = await this.#connect();
    const poolName = this.#options.rbd_store_pool;
    const pool = await this.#pool(connection, poolName, 'configuration');
    throwIfAborted(request.signal, 'add');
    if (request.size === 0) {
      this.#logger.debug(`Image ${name} has no declared size: growing it as data arrives`);
    }
    try {
      await pool.createImage(name, request.size, this.#order, this.#features(connection));
    } catch (err) {
      const errno = errnoOf(err);
      if (errno === EEXIST)
        throw new Duplicate(`RBD image ${poolName}/${name} already exists`, { cause: err });
      if (errno === EINVAL)
        throw new Invalid(`librbd refused the image name '${name}'`, { cause: err });
      throw toStoreError(err, `creating RBD image ${poolName}/${name}`);
    }
    // From here on, any failure removes the image and its snapshot.
    let image: ImageHandle | undefined;
    try {
      image = await this.#open(connection, pool, name, { readOnly: false });
      const size = await writeImage(image, {
        data: request.data,
        declaredSize: request.size,
        unit: this.objectSize,
        window: WRITE_WINDOW,
        thin: this.#options.rbd_thin_provisioning,
        signal: request.signal,
        release: request.release,
      });
      throwIfAborted(request.signal, 'add');
      await image.snapCreate(SNAPSHOT_NAME);
      await image.snapProtect(SNAPSHOT_NAME);
      await image.close();
      return {
        location: rbdLocation({
          fsid: connection.fsid,
          pool: poolName,
          image: name,
          snapshot: SNAPSHOT_NAME,
        }),
        size,
      };
    } catch (err) {
      await image?.close().catch(() => undefined);
      await this.#remove(connection, pool, name, SNAPSHOT_NAME, { checkInUse: false }).catch(
        (cleanup) => {
          this.#logger.error(
            `Failed to remove partial RBD image ${poolName}/${name}: ${(cleanup as Error).message}`,
          );
        },
      );
      throw request.signal.aborted
        ? abortError(request.signal, 'add')
        : toStoreError(err, `writing RBD image ${poolName}/${name}`);
    }
  }

  async get(location: RbdLocation, request: DriverGetRequest): Promise<DriverGetResult> {
    const { connection, pool } = await this.#target(location);
    const image = await this.#open(connection, pool, location.image, {
      snapshot: location.snapshot,
      readOnly: true,
    });
    try {
      const total = image.size();
      const start = Math.min(request.offset, total);
      const end =
        request.chunkSize === undefined ? total : Math.min(total, start + request.chunkSize);
      const stream = readAhead({
        start,
        end,
        unit: Math.min(READ_SIZE, this.objectSize),
        depth: READ_AHEAD,
        budget: request.readAheadBudget,
        signal: request.signal,
        read: (position, target) => image.read(position, target),
        allocate: request.allocate,
        source: `image ${image.name}`,
        onEnd: () => image.close(),
      });
      return {
        stream,
        size: end - start,
        mapError: (err) => toStoreError(err, `reading RBD image ${location.image}`),
      };
    } catch (err) {
      await image.close().catch(() => undefined);
      throw err;
    }
  }

  async getSize(location: RbdLocation): Promise<number> {
    const { connection, pool } = await this.#target(location);
    const image = await this.#open(connection, pool, location.image, {
      snapshot: location.snapshot,
      readOnly: true,
    });
    try {
      return image.size();
    } finally {
      await image.close();
    }
  }

  delete(location: RbdLocation): Promise<void> {
    return this.#run(async () => {
      const { connection, pool } = await this.#target(location);
      await this.#remove(connection, pool, location.image, location.snapshot, { checkInUse: true });
    });
  }

  /**
   * Removes an image and its snapshot. With checkInUse, an image that has watchers
   * or whose snapshot has clones is refused (InUseByStore) before anything changes.
   */
  async #remove(
    connection: RbdConnection,
    pool: RbdPool,
    name: string,
    snapshot: string | undefined,
    { checkInUse }: { checkInUse: boolean },
  ): Promise<void> {
    const where = `${pool.name}/${name}`;
    if (checkInUse) {
      // A read-only open registers no watch of its own.
      const probe = await this.#open(connection, pool, name, { readOnly: true });
      try {
        const watchers = await probe.watchers();
        if (watchers > 0)
          throw new InUseByStore(
            `RBD image ${where} is in use: ${watchers} client(s) have it open`,
          );
        if (snapshot && (await probe.snapExists(snapshot))) {
          await probe.snapSet(snapshot);
          const clones = await probe.children();
          if (clones > 0)
            throw new InUseByStore(
              `RBD image ${where} is in use: snapshot '${snapshot}' has ${clones} clone(s)`,
            );
        }
      } catch (err) {
        throw toStoreError(err, `checking whether RBD image ${where} is in use`);
      } finally {
        await probe.close();
      }
    }
    if (snapshot) {
      const image = await this.#open(connection, pool, name, { readOnly: false });
      try {
        await image.snapUnprotect(snapshot).catch((err) => {
          // EINVAL: not protected (already unprotected); ENOENT: no such snapshot.
          const errno = errnoOf(err);
          if (errno === EINVAL || errno === ENOENT) return;
          if (errno === EBUSY)
            throw new InUseByStore(`Snapshot ${where}@${snapshot} has clones`, { cause: err });
          throw err;
        });
        await image.snapRemove(snapshot).catch((err) => {
          if (errnoOf(err) === ENOENT) {
            this.#logger.debug(`Snapshot ${where}@${snapshot} does not exist`);
            return;
          }
          throw err;
        });
      } catch (err) {
        throw toStoreError(err, `removing snapshot ${where}@${snapshot}`);
      } finally {
        await image.close();
      }
    }
    try {
      await pool.removeImage(name);
    } catch (err) {
      const errno = errnoOf(err);
      if (errno === ENOENT) throw new NotFound(`RBD image ${where} does not exist`, { cause: err });
      throw toStoreError(err, `removing RBD image ${where}`);
    }
  }

  /** Images of the pool without a protected snapshot, that no client has open (see orphans.ts). */
  listOrphans(request: ListOrphansRequest): AsyncIterable<Orphan> {
    return listRbdOrphans(() => this.#orphanTarget(), request);
  }

  removeOrphan(orphan: Orphan): Promise<void> {
    return this.#run(async () => removeRbdOrphan(await this.#orphanTarget(), orphan));
  }

  async #orphanTarget(): Promise<OrphanTarget> {
    const connection = await this.#connect();
    const pool = await this.#pool(connection, this.#options.rbd_store_pool, 'configuration');
    return {
      connection,
      pool,
      snapshot: SNAPSHOT_NAME,
      fail: (err, action) => toStoreError(err, action),
    };
  }

  /**
   * Lets adds and deletes under way finish, then closes every image handle
   * (unread get streams included), the pools and the cluster connection.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#active.size > 0) await Promise.allSettled([...this.#active]);
    const connection = await this.#connection?.catch(() => undefined);
    this.#connection = undefined;
    await connection?.close();
  }
}
