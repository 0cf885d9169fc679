/** Test access to the radosgw started by tools/services: env, a scratch bucket per suite, cleanup. */
import { randomUUID } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { serviceEnv } from '@store/testkit';

export const env = serviceEnv('ceph radosgw (S3)', [
  'STORE_TEST_S3_ENDPOINT',
  'STORE_TEST_S3_ACCESS_KEY',
  'STORE_TEST_S3_SECRET_KEY',
] as const);

/** A fresh bucket name, so suites running at the same time never see each other's objects. */
export function scratchBucket(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** The backend options for radosgw, with small multipart thresholds so tests stay fast. */
export function s3Options(
  bucket: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  if (!env) throw new Error('radosgw is not configured');
  return {
    s3_store_host: env.STORE_TEST_S3_ENDPOINT,
    s3_store_access_key: env.STORE_TEST_S3_ACCESS_KEY,
    s3_store_secret_key: env.STORE_TEST_S3_SECRET_KEY,
    s3_store_bucket: bucket,
    s3_store_create_bucket_on_put: 'true',
    ...extra,
  };
}

/** A plain SDK client, to look at the bucket behind the driver's back. */
export function adminClient(): S3Client {
  if (!env) throw new Error('radosgw is not configured');
  return new S3Client({
    endpoint: env.STORE_TEST_S3_ENDPOINT,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: {
      accessKeyId: env.STORE_TEST_S3_ACCESS_KEY,
      secretAccessKey: env.STORE_TEST_S3_SECRET_KEY,
    },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Every object key and every unfinished multipart upload (as `upload:<key>`) in `bucket`. */
export async function listEverything(client: S3Client, bucket: string): Promise<string[]> {
  const out: string[] = [];
  try {
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) out.push(o.Key!);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    for (const u of uploads.Uploads ?? []) out.push(`upload:${u.Key}:${u.UploadId}`);
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchBucket') return [];
    throw err;
  }
  return out;
}

/** Unfinished multipart uploads in `bucket`. */
export async function listUploads(client: S3Client, bucket: string): Promise<string[]> {
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (uploads.Uploads ?? []).map((u) => `${u.Key}:${u.UploadId}`);
}

/** The ETag of an object: multipart objects have a `-<parts>` suffix. */
export async function etagOf(client: S3Client, bucket: string, key: string): Promise<string> {
  return (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag ?? '';
}

/** Drops `bucket` through a client of its own, for teardowns that keep none. */
export async function dropBucketAlone(bucket: string): Promise<void> {
  const admin = adminClient();
  try {
    await dropBucket(admin, bucket);
  } finally {
    admin.destroy();
  }
}

/** Removes every object and upload in `bucket`, then the bucket (radosgw keeps objects in RAM here). */
export async function dropBucket(client: S3Client, bucket: string): Promise<void> {
  for (const entry of await listEverything(client, bucket)) {
    if (entry.startsWith('upload:')) {
      const [, key, uploadId] = /^upload:(.*):([^:]*)$/.exec(entry)!;
      await client.send(
        new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }),
      );
    } else await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: entry }));
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch((err) => {
    if ((err as { name?: string }).name !== 'NoSuchBucket') throw err;
  });
}
