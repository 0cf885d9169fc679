/** The file driver: images as files in one or more local data directories. */
import type { Stats } from 'node:fs';
import { constants } from 'node:fs';
import { lstat, open, stat, unlink } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import {
  checkImageId as checkCoreImageId,
  configureWrites,
  type Driver,
  type DriverAddRequest,
  type DriverAddResult,
  type DriverContext,
  type DriverGetRequest,
  type DriverGetResult,
  Duplicate,
  Forbidden,
  Invalid,
  type ListOrphansRequest,
  NotFound,
  type Orphan,
  quoteImageId,
  readAhead,
  StoreAddDisabled,
} from '@store/core';
import {
  chooseDataDir,
  type DataDir,
  flatFileIn,
  parseDataDirs,
  parseLegacyDirs,
  prepareDataDirs,
  realDataDirs,
} from './datadirs.js';
import { FsDeadline } from './fs-deadline.js';
import { type FileLocation, fileLocation, parseFileLocation } from './location.js';
import { loadMountMetadata, type MountMetadata, metadataFor } from './metadata-file.js';
import { type FileOptions, fileModeOf } from './options.js';
import { listFileOrphans, removeFileOrphan } from './orphans.js';
import { sweepPartials } from './partials.js';
import { TEMP_PREFIX, writeAtomically } from './writer.js';

/** Reads use at least this buffer size: below it, per-read overhead dominates. */
const MIN_READ_BUFFER = 1 << 20;
/**
 * The most reads in flight for a consumer that keeps up: deep enough that the
 * thread pool always has a read queued while the event loop hands out the last
 * one, and no deeper than its default four threads: reads beyond those only
 * wait in its queue, holding memory.
 * readAhead starts at one and widens only while the consumer keeps up.
 */
const READ_AHEAD = 4;
const MAX_NAME_BYTES = 255;
/**
 * Opening an image never follows a symlink and never waits: a FIFO swapped in
 * after the lstat check opens at once (and fstat refuses it) instead of holding
 * a libuv thread until a writer appears.
 */
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Checks that `imageId` names a file directly inside a data directory, whose
 * location URI parses back to the same file: core's rule for every driver
 * (no path separator, `.`, `..`, control character or lone surrogate), then the
 * file driver's own.
 * @throws Invalid for ids core refuses, ids that contain `?` or `#` or end in
 * whitespace (lost when the location is parsed back), start with the
 * temporary-file prefix, or are too long for a file name.
 */
export function checkImageId(imageId: string): void {
  checkCoreImageId(imageId);
  const why =
    /[?#]/.test(imageId) || imageId !== imageId.trimEnd()
      ? 'contains ? or # or ends in whitespace, which its location URI would lose'
      : imageId.startsWith(TEMP_PREFIX)
        ? `starts with the reserved prefix ${TEMP_PREFIX}`
        : Buffer.byteLength(imageId) > MAX_NAME_BYTES
          ? `is longer than ${MAX_NAME_BYTES} bytes`
          : undefined;
  if (why) throw new Invalid(`Image id ${quoteImageId(imageId)} ${why}`);
}

function notFound(err: unknown, path: string): never {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR')
    throw new NotFound(`Image not found at ${path}`, { cause: err });
  if (code === 'ELOOP') throw notRegular(path, err);
  if (code === 'EACCES' || code === 'EPERM')
    throw new Forbidden(`Permission denied for ${path}`, { cause: err });
  throw err;
}

function notRegular(path: string, cause?: unknown): NotFound {
  return new NotFound(
    `Image not found: ${path} is not a regular file`,
    cause ? { cause } : undefined,
  );
}

/** What writing needs, set up by {@link FileDriver.create}'s write side. */
interface WriteSide {
  /** Mode of new image files, undefined to leave them as created. */
  readonly fileMode: number | undefined;
  readonly mounts: readonly MountMetadata[];
}

export class FileDriver implements Driver<FileLocation> {
  /** Where images are added. */
  readonly #dirs: readonly DataDir[];
  /** Where images are read and deleted: the data directories, then the legacy ones. */
  readonly #readDirs: readonly DataDir[];
  /** Real paths of `#readDirs`: locations are judged against these. */
  readonly #realDirs: ReadonlySet<string>;
  readonly #options: FileOptions;
  /** Undefined when the write side failed to configure (the backend has no WRITE_ACCESS). */
  readonly #writeSide: WriteSide | undefined;
  /** Every call on the filesystem goes through it (filesystem_store_timeout). */
  readonly #calls: FsDeadline;

  private constructor(
    dirs: readonly DataDir[],
    readDirs: readonly DataDir[],
    realDirs: ReadonlySet<string>,
    options: FileOptions,
    writeSide: WriteSide | undefined,
    calls: FsDeadline,
  ) {
    this.#dirs = dirs;
    this.#readDirs = readDirs;
    this.#realDirs = realDirs;
    this.#options = options;
    this.#writeSide = writeSide;
    this.#calls = calls;
  }

  /**
   * Reads the directories, then configures what writing needs (creating the
   * data directories, checking write access, the file mode, the metadata file,
   * the sweep of partial files). As glance_store's configure_add, a failure there
   * only disables adding: images in the directories are still read and deleted.
   * @throws BadStoreConfiguration when the directories themselves are misconfigured.
   */
  static async create(context: DriverContext): Promise<FileDriver> {
    const options = context.options as unknown as FileOptions;
    const dirs = parseDataDirs(
      context.backendId,
      options.filesystem_store_datadir,
      options.filesystem_store_datadirs,
    );
    const legacy = parseLegacyDirs(context.backendId, options.filesystem_store_legacy_datadirs);
    const writeSide = await configureWrites(context, async (): Promise<WriteSide> => {
      const fileMode = fileModeOf(context.backendId, options.filesystem_store_file_perm);
      await prepareDataDirs(context.backendId, dirs, fileMode, context.logger);
      if (options.filesystem_store_partial_max_age > 0) {
        for (const { path } of dirs) {
          await sweepPartials({
            directory: path,
            prefix: TEMP_PREFIX,
            maxAgeMs: options.filesystem_store_partial_max_age * 1000,
            logger: context.logger,
          });
        }
      }
      const mounts = options.filesystem_store_metadata_file
        ? await loadMountMetadata(context.backendId, options.filesystem_store_metadata_file)
        : [];
      return { fileMode, mounts };
    });
    const readDirs = [...dirs, ...legacy.filter((l) => !dirs.some((d) => d.path === l.path))];
    const realDirs = await realDataDirs(context.backendId, readDirs, context.logger);
    const calls = new FsDeadline(context.backendId, options.filesystem_store_timeout * 1000);
    return new FileDriver(dirs, readDirs, realDirs, options, writeSide, calls);
  }

  /**
   * Paths directly in one of the data directories (images are flat files), as
   * written; glance_store's url_prefix is `file://` and the highest-priority one.
   */
  owns(location: FileLocation): boolean {
    const directory = dirname(resolve(location.path));
    return this.#dirs.some((dir) => dir.path === directory);
  }

  parseLocation(uri: string): FileLocation {
    return parseFileLocation(uri);
  }

  /**
   * The image file a location names, if it belongs to this backend: a regular
   * file (lstat: a symlink is not one) directly inside a data directory.
   * @throws NotFound otherwise (another backend may own it).
   */
  async #ownFile(location: FileLocation): Promise<{ path: string; info: Stats }> {
    // A parent that is not one of this backend's directories as written is most
    // likely another backend's: resolving it is not refused while this one is hung.
    const resolving = () => flatFileIn(this.#readDirs, this.#realDirs, location.path);
    const parent = dirname(location.path);
    const path = this.#readDirs.some((dir) => dir.path === parent)
      ? await this.#calls.run(`resolving ${location.path}`, resolving)
      : await resolving();
    if (path === undefined || basename(path).startsWith(TEMP_PREFIX)) {
      throw new NotFound(
        `Image not found: ${location.path} is not a file directly in this backend's data directories`,
      );
    }
    const info = await this.#calls
      .run(`lstat of ${path}`, () => lstat(path))
      .catch((err) => notFound(err, path));
    if (!info.isFile()) throw notRegular(path);
    return { path, info };
  }

  async add(request: DriverAddRequest): Promise<DriverAddResult<FileLocation>> {
    checkImageId(request.imageId);
    const writeSide = this.#writeSide;
    if (!writeSide) {
      throw new StoreAddDisabled(
        'Adding images is disabled: the data directories could not be set up for writing',
      );
    }
    const directory = await this.#calls.run('statfs of the data directories', () =>
      chooseDataDir(this.#dirs, request.size),
    );
    const location = fileLocation(`${directory}/${request.imageId}`);
    // Early answer for the common case; the final link() is the atomic check.
    const exists = await this.#calls.run(`stat of ${location.path}`, () =>
      stat(location.path).then(
        () => true,
        () => false,
      ),
    );
    if (exists) {
      throw new Duplicate(`Image already exists at ${location.path}`);
    }
    const size = await writeAtomically({
      directory,
      name: request.imageId,
      data: request.data,
      release: request.release,
      ...(this.#options.filesystem_thin_provisioning
        ? { thinChunkSize: this.#options.filesystem_store_chunk_size }
        : {}),
      fileMode: writeSide.fileMode,
      fsync: this.#options.filesystem_store_fsync,
      signal: request.signal,
      calls: this.#calls,
    });
    return { location, size, metadata: metadataFor(writeSide.mounts, location.path) };
  }

  async get(location: FileLocation, request: DriverGetRequest): Promise<DriverGetResult> {
    const { path } = await this.#ownFile(location);
    const calls = this.#calls;
    const file = await calls
      .run(
        `open of ${path}`,
        () => open(path, READ_FLAGS),
        // Opened after its timeout: no stream will read it.
        (late) => calls.cleanup(() => late.close()),
      )
      .catch((err) => notFound(err, path));
    try {
      const info = await calls.run(`fstat of ${path}`, () => file.stat());
      if (!info.isFile()) throw notRegular(path);
      const start = Math.min(request.offset, info.size);
      const end =
        request.chunkSize === undefined
          ? info.size
          : Math.min(info.size, start + request.chunkSize);
      const stream = readAhead({
        start,
        end,
        unit: Math.max(this.#options.filesystem_store_chunk_size, MIN_READ_BUFFER),
        depth: READ_AHEAD,
        budget: request.readAheadBudget,
        signal: request.signal,
        read: async (position, target) =>
          (
            await calls.run(`read of ${path}`, () =>
              file.read(target, 0, target.byteLength, position),
            )
          ).bytesRead,
        allocate: request.allocate,
        source: path,
        onEnd: () => calls.cleanup(() => file.close()),
      });
      return { stream, size: end - start };
    } catch (err) {
      await calls.cleanup(() => file.close());
      throw err;
    }
  }

  async getSize(location: FileLocation): Promise<number> {
    return (await this.#ownFile(location)).info.size;
  }

  /** Temporary files of adds whose process died (see orphans.ts). */
  listOrphans(request: ListOrphansRequest): AsyncIterable<Orphan> {
    return listFileOrphans(
      this.#dirs.map((d) => d.path),
      request,
    );
  }

  removeOrphan(orphan: Orphan): Promise<void> {
    return removeFileOrphan(
      this.#dirs.map((d) => d.path),
      orphan,
    );
  }

  async delete(location: FileLocation): Promise<void> {
    // unlink removes the directory entry checked just before, never what a symlink points to.
    const { path } = await this.#ownFile(location);
    await this.#calls
      .run(`unlink of ${path}`, () => unlink(path))
      .catch((err) => notFound(err, path));
  }
}
