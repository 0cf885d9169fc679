/**
 * Temporary ("partial") files: the names writes go to until they are complete,
 * and the sweep that removes those a crashed writer left behind.
 *
 * A temporary name carries its writer's pid (`<prefix><pid>-<uuid>`). A sweep
 * removes one only when both hold: its writer is not a live process here, and
 * it was last written longer ago than the maximum age. The pid tells a crashed
 * writer from a running one (Node has no portable flock); the age covers what
 * the pid cannot: a pid reused by another process (the file is then kept until
 * that process ends), a writer on another host or in another pid namespace
 * sharing the directory (a live writer keeps the file's mtime fresh), and names
 * from before pids were embedded.
 */
import { randomUUID } from 'node:crypto';
import { lstat, opendir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type Logger, silentLogger } from '@store/core';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** `<pid>-<uuid>`, or a bare `<uuid>` (names written before the pid was embedded). */
const PARTIAL_TAIL = new RegExp(`^(?:(\\d{1,10})-)?${UUID}$`);

/** A fresh temporary path in `directory` for a write by this process. */
export function partialPath(directory: string, prefix: string): string {
  return join(directory, `${prefix}${process.pid}-${randomUUID()}`);
}

/** True when `pid` is a running process (EPERM: it exists but belongs to someone else). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A temporary file whose writer is not alive here (see {@link findPartials}). */
export interface Partial {
  /** Its file name in the directory. */
  readonly name: string;
  readonly path: string;
  /** Bytes written to it so far. */
  readonly size: number;
  /** When it was last written. */
  readonly mtime: Date;
}

/**
 * The temporary files in `directory` whose writer is not a live process here:
 * regular files named by {@link partialPath} with `prefix`, any age (the caller
 * judges it). @throws the error of listing the directory.
 */
export async function* findPartials(
  directory: string,
  prefix: string,
  signal?: AbortSignal,
): AsyncGenerator<Partial> {
  for await (const entry of await opendir(directory)) {
    signal?.throwIfAborted();
    if (!entry.isFile() || !isPartialName(entry.name, prefix)) continue;
    const path = join(directory, entry.name);
    try {
      const info = await lstat(path);
      if (info.isFile()) yield { name: entry.name, path, size: info.size, mtime: info.mtime };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** True when `name` is a temporary name of `prefix` whose writer is not a live process here. */
export function isPartialName(name: string, prefix: string): boolean {
  if (!name.startsWith(prefix)) return false;
  const match = PARTIAL_TAIL.exec(name.slice(prefix.length));
  if (!match) return false;
  const pid = match[1] === undefined ? undefined : Number(match[1]);
  return !(pid !== undefined && pid > 0 && isAlive(pid));
}

/** What {@link sweepPartials} is asked. */
export interface SweepRequest {
  /** The directory whose temporary files are swept (not its subdirectories). */
  readonly directory: string;
  /** The temporary names' prefix; only `<prefix><pid>-<uuid>` and `<prefix><uuid>` names are touched. */
  readonly prefix: string;
  /** Files last written less than this long ago are kept. */
  readonly maxAgeMs: number;
  readonly logger?: Logger;
}

/**
 * Removes the stale temporary files in `directory`: regular files named by
 * {@link partialPath} with `prefix`, whose writer is not alive, last modified
 * more than `maxAgeMs` ago. Never throws: a directory that cannot be listed or
 * a file that cannot be removed is logged as a warning and left.
 * @returns the names removed.
 */
export async function sweepPartials(request: SweepRequest): Promise<string[]> {
  const { directory, prefix, maxAgeMs } = request;
  const logger = request.logger ?? silentLogger;
  const removed: string[] = [];
  const oldest = Date.now() - maxAgeMs;
  try {
    for await (const { name, path, mtime } of findPartials(directory, prefix)) {
      if (mtime.getTime() > oldest) continue;
      try {
        await unlink(path);
        removed.push(name);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        logger.warn(`Cannot remove the stale temporary file ${path}`, {
          error: (err as Error).message,
        });
      }
    }
  } catch (err) {
    logger.warn(`Cannot sweep stale temporary files in ${directory}`, {
      error: (err as Error).message,
    });
  }
  if (removed.length > 0) {
    logger.info(`Removed ${removed.length} stale temporary file(s) left by a crashed write`, {
      directory,
      files: removed,
    });
  }
  return removed;
}
