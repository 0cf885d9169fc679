/**
 * Orphans of a swift backend: segments (`<image>-00001`, …, as glance_store
 * names them) of an image whose manifest does not exist, what an add leaves when
 * its process dies before writing the manifest, or when removing its segments
 * after a failure failed too. Readers never see them (no location names them),
 * but a later add of the same id would join them into its image: the driver's
 * add removes them for its own id first; `store gc` finds the rest.
 *
 * Segment names are told from image ids by their number: five digits, or six
 * to nine without a leading zero (`%05d`, up to a billion segments), so a
 * UUID's last group (twelve characters, sometimes all digits) never passes for one. An image id of the form `<id>-NNNNN` with no image
 * `<id>` beside it would, as the add's own cleanup assumes too.
 */
import type http from 'node:http';
import {
  InUseByStore,
  isStoreError,
  type ListOrphansRequest,
  NotFound,
  type Orphan,
} from '@store/core';
import type { Account, SwiftClient } from './client.js';

/** The kind of a swift backend's orphans. */
export const ORPHAN_SEGMENTS = 'segments';

/** A segment's name: its image's object name, and its number (5 to 9 digits, see above). */
const SEGMENT = /^(.+)-(\d{5}|[1-9]\d{5,8})$/;

/** Where the orphans are. */
export interface OrphanTarget {
  readonly client: SwiftClient;
  readonly account: Account;
  /** swift_store_container. */
  readonly container: string;
  /** swift_store_multiple_containers_seed: with it, images are in `<container>_<prefix>` containers. */
  readonly seed: number;
}

interface Entry {
  readonly name: string;
  readonly bytes: number;
  readonly lastModified: number;
}

/** Swift's listing times are UTC without a zone; radosgw's end in Z. */
function parseTime(text: string | undefined): number {
  if (!text) return 0;
  const time = Date.parse(/Z|[+-]\d\d:?\d\d$/.test(text) ? text : `${text}Z`);
  return Number.isNaN(time) ? 0 : time;
}

async function readJson(response: http.IncomingMessage): Promise<unknown[]> {
  const parts: Buffer[] = [];
  for await (const chunk of response as AsyncIterable<Buffer>) parts.push(chunk);
  const text = Buffer.concat(parts).toString('utf8');
  return text ? (JSON.parse(text) as unknown[]) : [];
}

/** Every entry of a listing (the account's containers without `container`), page by page. */
async function* list(
  target: OrphanTarget,
  container: string | undefined,
  prefix: string,
  signal: AbortSignal,
): AsyncGenerator<Entry> {
  let marker = '';
  for (;;) {
    const response = await target.client.send(target.account, {
      method: 'GET',
      ...(container !== undefined ? { container } : {}),
      query: { prefix, format: 'json', ...(marker ? { marker } : {}) },
      signal,
      action: container !== undefined ? `listing container '${container}'` : 'listing containers',
    });
    const page = (await readJson(response)) as {
      name: string;
      bytes?: number;
      last_modified?: string;
    }[];
    if (page.length === 0) return;
    for (const entry of page) {
      yield {
        name: entry.name,
        bytes: entry.bytes ?? 0,
        lastModified: parseTime(entry.last_modified),
      };
    }
    marker = page.at(-1)!.name;
  }
}

/** The containers this backend's images are in. */
async function containers(target: OrphanTarget, signal: AbortSignal): Promise<string[]> {
  if (target.seed === 0) return [target.container];
  const names: string[] = [];
  for await (const entry of list(target, undefined, `${target.container}_`, signal))
    names.push(entry.name);
  return names;
}

/** True when `object` exists in `container`. */
async function exists(
  target: OrphanTarget,
  container: string,
  object: string,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    await target.client.call(target.account, {
      method: 'HEAD',
      container,
      object,
      signal,
      action: `checking object '${object}' in container '${container}'`,
    });
    return true;
  } catch (err) {
    if (isStoreError(err, 'NotFound')) return false;
    throw err;
  }
}

/** An orphan's group of segments as listed. */
interface Group {
  readonly container: string;
  readonly object: string;
  count: number;
  bytes: number;
  last: number;
}

/**
 * Segments whose image has no manifest, one orphan per image; `since` is when
 * the newest of them was written (an add still writing is young). A container
 * that does not exist holds none.
 */
export async function* listSwiftOrphans(
  target: OrphanTarget,
  request: ListOrphansRequest,
): AsyncGenerator<Orphan> {
  const { signal } = request;
  const newest = Date.now() - (request.olderThan ?? 0);
  for (const container of await containers(target, signal)) {
    // The listing is sorted, and an image sorts before its own segments: an image
    // is usually the last other name before them, which saves asking for it.
    let lastOther: string | undefined;
    let group: Group | undefined;
    const finish = async (done: Group | undefined): Promise<Orphan | undefined> => {
      if (!done || done.last > newest) return undefined;
      if (done.object === lastOther) return undefined;
      if (await exists(target, done.container, done.object, signal)) return undefined;
      return toOrphan(done);
    };
    try {
      for await (const entry of list(target, container, '', signal)) {
        const match = SEGMENT.exec(entry.name);
        const current = group;
        if (match && current && current.object === match[1]) {
          current.count++;
          current.bytes += entry.bytes;
          current.last = Math.max(current.last, entry.lastModified);
          continue;
        }
        const orphan = await finish(group);
        if (orphan) yield orphan;
        group = undefined;
        if (match) {
          group = {
            container,
            object: match[1]!,
            count: 1,
            bytes: entry.bytes,
            last: entry.lastModified,
          };
        } else lastOther = entry.name;
      }
      const orphan = await finish(group);
      if (orphan) yield orphan;
    } catch (err) {
      if (isStoreError(err, 'NotFound')) continue; // no such container
      throw err;
    }
  }
}

function toOrphan(group: Group): Orphan {
  return {
    kind: ORPHAN_SEGMENTS,
    id: `${group.container}/${group.object}`,
    imageId: group.object,
    where: `${group.container}/${group.object}-NNNNN (${group.count} segment${group.count === 1 ? '' : 's'})`,
    bytes: group.bytes,
    since: new Date(group.last),
  };
}

/**
 * Deletes the segments of an orphan {@link listSwiftOrphans} found: those
 * written no later than it said (so a new add of the same id, writing fresh
 * segments meanwhile, keeps them), after checking that the image still has no
 * manifest.
 * @throws InUseByStore when the image exists now; NotFound for an orphan that
 * is not one of this backend's containers.
 */
export async function removeSwiftOrphan(
  target: OrphanTarget,
  orphan: Orphan,
  signal: AbortSignal,
): Promise<void> {
  const slash = orphan.id.indexOf('/');
  const container = orphan.id.slice(0, slash);
  const object = orphan.id.slice(slash + 1);
  const ours =
    target.seed === 0
      ? container === target.container
      : container.startsWith(`${target.container}_`);
  if (orphan.kind !== ORPHAN_SEGMENTS || slash < 1 || !object || !ours)
    throw new NotFound(`${orphan.where} is not a group of segments of this backend`);
  if (await exists(target, container, object, signal))
    throw new InUseByStore(`Image '${object}' in container '${container}' exists now`);
  const prefix = `${object}-`;
  const doomed: string[] = [];
  try {
    for await (const entry of list(target, container, prefix, signal)) {
      if (SEGMENT.exec(entry.name)?.[1] !== object) continue;
      if (entry.lastModified > orphan.since.getTime()) continue;
      doomed.push(entry.name);
    }
  } catch (err) {
    if (isStoreError(err, 'NotFound')) return;
    throw err;
  }
  for (const name of doomed) {
    try {
      await target.client.call(target.account, {
        method: 'DELETE',
        container,
        object: name,
        signal,
        action: `removing orphan segment '${name}' from container '${container}'`,
      });
    } catch (err) {
      if (!isStoreError(err, 'NotFound')) throw err;
    }
  }
}
