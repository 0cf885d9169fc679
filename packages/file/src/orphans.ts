/**
 * Orphans of a file backend: the temporary files of adds whose process died
 * (found as the start-up sweep finds them, see partials.ts), for `store gc`.
 * A temporary file whose writer is still a live process here is never one.
 */
import { unlink } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { InUseByStore, type ListOrphansRequest, NotFound, type Orphan } from '@store/core';
import { findPartials, isPartialName } from './partials.js';
import { mapWriteError, TEMP_PREFIX } from './writer.js';

/** The kind of a file backend's orphans. */
export const PARTIAL_FILE = 'partial-file';

/**
 * The temporary files in `directories` whose writer is not alive, last written
 * at least `olderThan` ms ago; `since` is the file's modification time.
 */
export async function* listFileOrphans(
  directories: readonly string[],
  request: ListOrphansRequest,
): AsyncGenerator<Orphan> {
  const newest = Date.now() - (request.olderThan ?? 0);
  for (const directory of directories) {
    for await (const partial of findPartials(directory, TEMP_PREFIX, request.signal)) {
      if (partial.mtime.getTime() > newest) continue;
      yield {
        kind: PARTIAL_FILE,
        id: partial.path,
        where: partial.path,
        bytes: partial.size,
        since: partial.mtime,
      };
    }
  }
}

/**
 * Removes a temporary file {@link listFileOrphans} found, after checking it is
 * one: a temporary name directly in one of `directories` (nothing else is ever
 * removed, whatever the orphan says) whose writer is not alive.
 * @throws NotFound for an orphan that is not this backend's; InUseByStore when
 * its writer runs; StorageWriteDenied when the file cannot be removed.
 */
export async function removeFileOrphan(
  directories: readonly string[],
  orphan: Orphan,
): Promise<void> {
  const path = resolve(orphan.id);
  const name = basename(path);
  if (
    orphan.kind !== PARTIAL_FILE ||
    !directories.some((d) => resolve(d) === dirname(path)) ||
    !name.startsWith(TEMP_PREFIX)
  ) {
    throw new NotFound(`${orphan.where} is not a temporary file of this backend`);
  }
  if (!isPartialName(name, TEMP_PREFIX))
    throw new InUseByStore(`${path} is being written by a live process`);
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw mapWriteError(err, path);
  });
}
