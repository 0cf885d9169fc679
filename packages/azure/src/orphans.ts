/**
 * Orphans of an azure backend: blobs of its container that have staged
 * (uncommitted) blocks and were never committed, what an add whose process
 * died leaves. Readers never see them; the service discards them after a week,
 * and until then they take space.
 *
 * Uncommitted blocks of a blob that is committed (a writer that lost a race to
 * the same name) are not listed: they go at that blob's next commit, or after
 * the week, and removing them early would mean committing the image again.
 */
import type { BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import { InUseByStore, type ListOrphansRequest, NotFound, type Orphan } from '@store/core';
import { azureErrorCode, httpStatus } from './errors.js';

/** The kind of an azure backend's orphans. */
export const UNCOMMITTED_BLOCKS = 'uncommitted-blocks';

/** Where the orphans are, and how failures are reported. */
export interface OrphanTarget {
  readonly container: ContainerClient;
  /** Maps an SDK failure to a typed error without secrets. */
  readonly fail: (err: unknown, action: string) => Error;
}

/** Bytes of a blob's staged blocks, when it has no committed version; undefined otherwise. */
async function uncommittedBytes(
  blob: BlockBlobClient,
  signal: AbortSignal,
): Promise<number | undefined> {
  let list: Awaited<ReturnType<BlockBlobClient['getBlockList']>>;
  try {
    list = await blob.getBlockList('all', { abortSignal: signal });
  } catch (err) {
    if (httpStatus(err) === 404) return undefined; // gone meanwhile
    throw err;
  }
  const staged = list.uncommittedBlocks ?? [];
  if ((list.committedBlocks ?? []).length > 0 || staged.length === 0) return undefined;
  // An empty image has no committed block either: only a blob with no committed version is one.
  try {
    await blob.getProperties({ abortSignal: signal });
    return undefined;
  } catch (err) {
    if (httpStatus(err) !== 404) throw err;
  }
  return staged.reduce((sum, block) => sum + block.size, 0);
}

/**
 * The container's never-committed blobs; `since` is the blob's last
 * modification as the listing gives it. A container that does not exist holds none.
 */
export async function* listAzureOrphans(
  target: OrphanTarget,
  request: ListOrphansRequest,
): AsyncGenerator<Orphan> {
  const { container } = target;
  const { signal } = request;
  const newest = Date.now() - (request.olderThan ?? 0);
  const listing = container.listBlobsFlat({ includeUncommitedBlobs: true, abortSignal: signal });
  const action = `listing uncommitted blobs of container '${container.containerName}'`;
  for (;;) {
    let next: Awaited<ReturnType<typeof listing.next>>;
    try {
      next = await listing.next();
    } catch (err) {
      if (azureErrorCode(err) === 'ContainerNotFound') return;
      throw target.fail(err, action);
    }
    if (next.done) return;
    const item = next.value;
    // A never-committed blob lists with no content; anything longer is committed.
    if ((item.properties.contentLength ?? 0) !== 0) continue;
    const since = item.properties.lastModified ?? item.properties.createdOn;
    if (!since || since.getTime() > newest) continue;
    let bytes: number | undefined;
    try {
      bytes = await uncommittedBytes(container.getBlockBlobClient(item.name), signal);
    } catch (err) {
      throw target.fail(err, `reading the block list of blob '${item.name}'`);
    }
    if (bytes === undefined) continue;
    yield {
      kind: UNCOMMITTED_BLOCKS,
      id: item.name,
      imageId: item.name,
      where: `${container.containerName}/${item.name}`,
      bytes,
      since,
    };
  }
}

/**
 * Discards the staged blocks of a blob {@link listAzureOrphans} found. The
 * service has no call for that alone: an empty block list is committed on
 * condition that no blob of the name exists (which discards them; a blob
 * committed meanwhile makes it fail, untouched), and that empty blob is then
 * deleted on condition it is still the one just made.
 * @throws InUseByStore when the blob was committed meanwhile; NotFound for an
 * orphan that is not an azure one.
 */
export async function removeAzureOrphan(
  target: OrphanTarget,
  orphan: Orphan,
  signal: AbortSignal,
): Promise<void> {
  if (orphan.kind !== UNCOMMITTED_BLOCKS)
    throw new NotFound(`${orphan.where} is not a blob with uncommitted blocks`);
  const blob = target.container.getBlockBlobClient(orphan.id);
  const action = `discarding the uncommitted blocks of blob '${orphan.id}'`;
  try {
    if ((await uncommittedBytes(blob, signal)) === undefined) {
      if (await blob.exists({ abortSignal: signal }))
        throw new InUseByStore(`Blob '${orphan.id}' was committed meanwhile: it is an image now`);
      return; // gone already
    }
    let etag: string | undefined;
    try {
      etag = (
        await blob.commitBlockList([], {
          conditions: { ifNoneMatch: '*' },
          abortSignal: signal,
        })
      ).etag;
    } catch (err) {
      if (httpStatus(err) === 409 || httpStatus(err) === 412)
        throw new InUseByStore(`Blob '${orphan.id}' was committed meanwhile: it is an image now`);
      throw err;
    }
    await blob.delete({ conditions: { ifMatch: etag }, abortSignal: signal });
  } catch (err) {
    if (err instanceof InUseByStore) throw err;
    throw target.fail(err, action);
  }
}
