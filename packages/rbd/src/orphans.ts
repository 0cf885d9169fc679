/**
 * Orphans of an rbd backend: images of its pool that no add completed. An add
 * creates the image, writes it, then creates and protects the snapshot `snap`
 * (glance_store's order), so an image without a protected `snap` is partial:
 * what an add left when its process died, or when removing the image after a
 * failure failed too (a delete that failed half-way leaves one as well).
 *
 * Not orphans, whatever their snapshots: an image someone has open for writing
 * (it has watchers: an add under way holds a watch, and a dead client's watch
 * expires within a minute), and an image with a snapshot of another name (not
 * written by an add: a pool shared with other services keeps theirs). `since`
 * is when the image was last written (librbd updates it about once a minute),
 * or created if later.
 */
import { constants } from 'node:os';
import { InUseByStore, type ListOrphansRequest, NotFound, type Orphan } from '@store/core';
import type { RbdPool } from './binding.js';
import type { ImageHandle, RbdConnection } from './client.js';
import { errnoOf } from './errors.js';

/** The kind of an rbd backend's orphans. */
export const PARTIAL_IMAGE = 'partial-image';

const { ENOENT, EBUSY, ENOTEMPTY } = constants.errno;

/** Where the orphans are, and how failures are reported. */
export interface OrphanTarget {
  readonly connection: RbdConnection;
  readonly pool: RbdPool;
  /** The name of the image snapshot every add protects (`snap`). */
  readonly snapshot: string;
  /** Maps a librbd failure to a typed error. */
  readonly fail: (err: unknown, action: string) => Error;
}

/** What an image is, as far as orphans go. */
type Verdict =
  | { readonly orphan: true; readonly since: number; readonly hasSnapshot: boolean }
  | { readonly orphan: false; readonly why: 'gone' | 'image' | 'open' | 'foreign' };

async function judge(target: OrphanTarget, name: string): Promise<Verdict> {
  let image: ImageHandle;
  try {
    // A read-only open registers no watch of its own.
    image = await target.connection.openImage(target.pool, name, { readOnly: true });
  } catch (err) {
    if (errnoOf(err) === ENOENT) return { orphan: false, why: 'gone' };
    throw err;
  }
  try {
    if ((await image.watchers()) > 0) return { orphan: false, why: 'open' };
    const snapshots = await image.snapNames();
    if (snapshots.some((s) => s !== target.snapshot)) return { orphan: false, why: 'foreign' };
    const hasSnapshot = snapshots.length > 0;
    if (hasSnapshot && (await image.snapIsProtected(target.snapshot)))
      return { orphan: false, why: 'image' };
    const { created, modified } = await image.timestamps();
    return { orphan: true, since: Math.max(created, modified), hasSnapshot };
  } finally {
    await image.close();
  }
}

/** The pool's partial images, in the pool's order. */
export async function* listRbdOrphans(
  target: () => Promise<OrphanTarget>,
  request: ListOrphansRequest,
): AsyncGenerator<Orphan> {
  const { signal } = request;
  const newest = Date.now() - (request.olderThan ?? 0);
  const where = await target();
  const poolName = where.pool.name;
  let names: string[];
  try {
    names = await where.pool.listImages();
  } catch (err) {
    throw where.fail(err, `listing the images of pool '${poolName}'`);
  }
  for (const name of names) {
    signal.throwIfAborted();
    let verdict: Verdict;
    try {
      verdict = await judge(where, name);
    } catch (err) {
      throw where.fail(err, `looking at RBD image ${poolName}/${name}`);
    }
    if (!verdict.orphan || verdict.since > newest) continue;
    yield {
      kind: PARTIAL_IMAGE,
      id: name,
      imageId: name,
      where: `${poolName}/${name}`,
      since: new Date(verdict.since),
    };
  }
}

/**
 * Removes a partial image {@link listRbdOrphans} found, after judging it again:
 * its unprotected `snap` (if any), then the image.
 * @throws InUseByStore when it is complete now, open, or has snapshots of
 * other names; NotFound for an orphan that is not an rbd one.
 */
export async function removeRbdOrphan(target: OrphanTarget, orphan: Orphan): Promise<void> {
  if (orphan.kind !== PARTIAL_IMAGE)
    throw new NotFound(`${orphan.where} is not a partial RBD image`);
  const name = orphan.id;
  const where = `${target.pool.name}/${name}`;
  try {
    const verdict = await judge(target, name);
    if (!verdict.orphan) {
      if (verdict.why === 'gone') return;
      throw new InUseByStore(
        verdict.why === 'image'
          ? `RBD image ${where} is complete now (its snapshot is protected)`
          : verdict.why === 'open'
            ? `RBD image ${where} is open for writing by a client`
            : `RBD image ${where} has snapshots no add makes`,
      );
    }
    if (verdict.hasSnapshot) {
      const image = await target.connection.openImage(target.pool, name, { readOnly: false });
      try {
        await image.snapRemove(target.snapshot).catch((err) => {
          if (errnoOf(err) !== ENOENT) throw err;
        });
      } finally {
        await image.close();
      }
    }
    await target.pool.removeImage(name);
  } catch (err) {
    if (err instanceof InUseByStore) throw err;
    const errno = errnoOf(err);
    if (errno === ENOENT) return;
    if (errno === EBUSY || errno === ENOTEMPTY)
      throw new InUseByStore(`RBD image ${where} is in use or has snapshots now`, { cause: err });
    throw target.fail(err, `removing partial RBD image ${where}`);
  }
}
