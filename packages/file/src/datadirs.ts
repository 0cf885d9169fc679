/**
 * The data directories of a file backend: one directory, or several with
 * priorities, and the choice of where a new image goes.
 */
import { constants } from 'node:fs';
import { access, chmod, mkdir, realpath, stat, statfs } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { BadStoreConfiguration, type Logger, StorageFull } from '@store/core';
import { DEFAULT_DATADIR } from './options.js';

/** A directory and its priority (higher first). */
export interface DataDir {
  readonly path: string;
  readonly priority: number;
}

/** Parses `filesystem_store_datadir(s)` into directories, in priority order. */
export function parseDataDirs(
  backendId: string,
  datadir: string | undefined,
  datadirs: readonly string[] | undefined,
): DataDir[] {
  const bad = (why: string): never => {
    throw new BadStoreConfiguration(`Backend '${backendId}': ${why}`);
  };
  if (datadir && datadirs && datadirs.length > 0) {
    bad("set either 'filesystem_store_datadir' or 'filesystem_store_datadirs', not both");
  }
  if (!datadirs || datadirs.length === 0)
    return [{ path: resolve(datadir || DEFAULT_DATADIR), priority: 0 }];
  const dirs = new Map<string, number>();
  for (const entry of datadirs) {
    // As glance_store: split at the last colon; a non-empty tail must be an integer.
    const colon = entry.lastIndexOf(':');
    const rawPath = (colon >= 0 ? entry.slice(0, colon) : entry).trim();
    const rawPriority = colon >= 0 ? entry.slice(colon + 1).trim() : '';
    if (rawPriority !== '' && !/^[+-]?\d+$/.test(rawPriority)) {
      bad(
        `option 'filesystem_store_datadirs' has an invalid priority '${rawPriority}' in '${entry}'`,
      );
    }
    if (rawPath === '')
      bad(`option 'filesystem_store_datadirs' has an empty directory in '${entry}'`);
    const path = resolve(rawPath);
    const priority = rawPriority === '' ? 0 : Number.parseInt(rawPriority, 10);
    const seen = dirs.get(path);
    if (seen !== undefined && seen !== priority) {
      bad(`option 'filesystem_store_datadirs' lists ${path} twice with different priorities`);
    }
    dirs.set(path, priority);
  }
  return [...dirs]
    .map(([path, priority]) => ({ path, priority }))
    .sort((a, b) => b.priority - a.priority);
}

/**
 * Creates missing directories, checks write access, and grants group/other
 * execute permission when the file permissions need it (as glance_store does).
 */
export async function prepareDataDirs(
  backendId: string,
  dirs: readonly DataDir[],
  /** Mode of image files (from fileModeOf), undefined to leave them as created. */
  fileMode: number | undefined,
  logger: Logger,
): Promise<void> {
  for (const { path } of dirs) {
    try {
      await mkdir(path, { recursive: true });
      await access(path, constants.W_OK);
    } catch (err) {
      throw new BadStoreConfiguration(
        `Backend '${backendId}': cannot write to data directory ${path}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    if (fileMode !== undefined) {
      try {
        const mode = (await stat(path)).mode;
        let wanted = mode;
        if (fileMode & 0o007) wanted |= 0o001;
        if (fileMode & 0o070) wanted |= 0o010;
        if (wanted !== mode) await chmod(path, wanted & 0o7777);
      } catch {
        logger.warn(`Unable to set execute permission on data directory ${path}`);
      }
    }
  }
}

/** Free bytes available to this process on the filesystem holding `path`. */
export async function freeBytes(path: string): Promise<number> {
  const s = await statfs(path);
  return s.bavail * s.bsize;
}

/**
 * The directory a new image of `size` bytes goes to: the highest priority with
 * enough room, and among equal priorities the one with the most free space.
 * @throws StorageFull when none has room.
 */
export async function chooseDataDir(dirs: readonly DataDir[], size: number): Promise<string> {
  if (dirs.length === 1) return dirs[0]!.path;
  let i = 0;
  while (i < dirs.length) {
    const priority = dirs[i]!.priority;
    let best: { path: string; free: number } | undefined;
    for (; i < dirs.length && dirs[i]!.priority === priority; i++) {
      const free = await freeBytes(dirs[i]!.path);
      if (free >= size && (!best || free > best.free)) best = { path: dirs[i]!.path, free };
    }
    if (best) return best.path;
  }
  throw new StorageFull(
    `There is not enough disk space left in any data directory for ${size} bytes`,
  );
}

/**
 * The directories of `filesystem_store_legacy_datadirs` (read and delete only),
 * resolved to absolute paths; a relative entry is refused, as it would depend on
 * the working directory.
 * @throws BadStoreConfiguration for an empty or relative entry.
 */
export function parseLegacyDirs(
  backendId: string,
  entries: readonly string[] | undefined,
): DataDir[] {
  return (entries ?? []).map((entry) => {
    const path = entry.trim();
    if (!isAbsolute(path)) {
      throw new BadStoreConfiguration(
        `Backend '${backendId}': option 'filesystem_store_legacy_datadirs' needs absolute directories, got '${entry}'`,
      );
    }
    return { path: resolve(path), priority: 0 };
  });
}

/**
 * The real paths (symlinks resolved) of `dirs`, against which locations are
 * judged. A directory that cannot be resolved (missing, unreadable parent) holds
 * nothing this backend can read: it is left out with a warning, so the others
 * still serve their images.
 */
export async function realDataDirs(
  backendId: string,
  dirs: readonly DataDir[],
  logger: Logger,
): Promise<ReadonlySet<string>> {
  const real = new Set<string>();
  for (const { path } of dirs) {
    try {
      real.add(await realpath(path));
    } catch (err) {
      logger.warn(
        `Backend '${backendId}': cannot resolve data directory ${path}, no image is read from it: ${(err as Error).message}`,
      );
    }
  }
  return real;
}

/**
 * The file a location's `path` names when it is a plain name directly inside
 * one of the data directories (images are flat), judged by real paths: the
 * path's parent must be a configured directory as written, or resolve to one.
 * So `DATADIR/link/x` through a directory symlink, `DATADIR/link/../x` and
 * `DATADIR/sub/x` are refused. Returns undefined when the path is not such a
 * name; the file itself is not looked at.
 */
export async function flatFileIn(
  dirs: readonly DataDir[],
  realDirs: ReadonlySet<string>,
  path: string,
): Promise<string | undefined> {
  const slash = path.lastIndexOf('/');
  const name = path.slice(slash + 1);
  const parent = path.slice(0, slash) || '/';
  if (name === '' || name === '.' || name === '..') return undefined;
  // The directory exactly as configured: no component comes from inside a data directory.
  if (dirs.some((d) => d.path === parent)) return path;
  const realParent = await realpath(parent).catch(() => undefined);
  return realParent !== undefined && realDirs.has(realParent) ? join(realParent, name) : undefined;
}
