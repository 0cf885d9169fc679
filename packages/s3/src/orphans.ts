/**
 * Orphans of an s3 backend: multipart uploads in its bucket that were never
 * completed nor aborted (an add whose process died, or whose abort failed).
 * Their parts take space, invisible to readers, until aborted or until a bucket
 * lifecycle rule (AbortIncompleteMultipartUpload) does it.
 */
import {
  AbortMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { type ListOrphansRequest, NotFound, type Orphan } from '@store/core';
import { isS3NotFound } from './errors.js';

/** The kind of an s3 backend's orphans. */
export const MULTIPART_UPLOAD = 'multipart-upload';

/** Where the orphans are, and how failures are reported. */
export interface OrphanTarget {
  readonly client: S3Client;
  readonly bucket: string;
  /** Maps an SDK failure to a typed error without credentials. */
  readonly fail: (err: unknown, action: string) => Error;
}

/**
 * The bucket's unfinished multipart uploads, their parts' bytes summed;
 * `since` is the latest of the upload's start and its parts' writes (a slow add
 * still writing is young). A bucket that does not exist holds none.
 */
export async function* listS3Orphans(
  target: OrphanTarget,
  request: ListOrphansRequest,
): AsyncGenerator<Orphan> {
  const { client, bucket } = target;
  const { signal } = request;
  const newest = Date.now() - (request.olderThan ?? 0);
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    let page: Awaited<ReturnType<typeof listPage>>;
    try {
      page = await listPage(client, bucket, keyMarker, uploadIdMarker, signal);
    } catch (err) {
      if (isS3NotFound(err)) return;
      throw target.fail(err, `listing the multipart uploads of bucket ${bucket}`);
    }
    for (const upload of page.Uploads ?? []) {
      if (!upload.Key || !upload.UploadId) continue;
      // Cheap first cut: an upload started after the cut-off is young whatever its parts say.
      if (upload.Initiated && upload.Initiated.getTime() > newest) continue;
      let parts: { bytes: number; last: number } | undefined;
      try {
        parts = await partsOf(client, bucket, upload.Key, upload.UploadId, signal);
      } catch (err) {
        if (isS3NotFound(err)) continue; // completed or aborted meanwhile
        throw target.fail(err, `listing the parts of an upload to ${bucket}/${upload.Key}`);
      }
      const since = Math.max(upload.Initiated?.getTime() ?? 0, parts.last);
      if (since > newest) continue;
      yield {
        kind: MULTIPART_UPLOAD,
        id: upload.UploadId,
        imageId: upload.Key,
        where: `${bucket}/${upload.Key}`,
        bytes: parts.bytes,
        since: new Date(since),
      };
    }
    if (!page.IsTruncated) return;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
    if (!keyMarker && !uploadIdMarker) return;
  }
}

function listPage(
  client: S3Client,
  bucket: string,
  keyMarker: string | undefined,
  uploadIdMarker: string | undefined,
  signal: AbortSignal,
) {
  return client.send(
    new ListMultipartUploadsCommand({
      Bucket: bucket,
      ...(keyMarker ? { KeyMarker: keyMarker } : {}),
      ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
    }),
    { abortSignal: signal },
  );
}

/** Bytes of an upload's parts, and when the last one was written (ms; 0 without parts). */
async function partsOf(
  client: S3Client,
  bucket: string,
  key: string,
  uploadId: string,
  signal: AbortSignal,
): Promise<{ bytes: number; last: number }> {
  let bytes = 0;
  let last = 0;
  let marker: string | undefined;
  for (;;) {
    const page = await client.send(
      new ListPartsCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        ...(marker ? { PartNumberMarker: marker } : {}),
      }),
      { abortSignal: signal },
    );
    for (const part of page.Parts ?? []) {
      bytes += part.Size ?? 0;
      last = Math.max(last, part.LastModified?.getTime() ?? 0);
    }
    if (!page.IsTruncated || !page.NextPartNumberMarker) return { bytes, last };
    marker = page.NextPartNumberMarker;
  }
}

/**
 * Aborts an upload {@link listS3Orphans} found. An upload completed meanwhile
 * has no id any more: the abort then finds nothing and the image is untouched.
 * @throws NotFound for an orphan that is not an s3 one.
 */
export async function removeS3Orphan(
  target: OrphanTarget,
  orphan: Orphan,
  signal: AbortSignal,
): Promise<void> {
  if (orphan.kind !== MULTIPART_UPLOAD || orphan.imageId === undefined) {
    throw new NotFound(`${orphan.where} is not a multipart upload of this backend`);
  }
  try {
    await target.client.send(
      new AbortMultipartUploadCommand({
        Bucket: target.bucket,
        Key: orphan.imageId,
        UploadId: orphan.id,
      }),
      { abortSignal: signal },
    );
  } catch (err) {
    if (isS3NotFound(err)) return;
    throw target.fail(err, `aborting upload ${orphan.id} of ${target.bucket}/${orphan.imageId}`);
  }
}
