// @ts-check
/**
 * What a soak left in a remote backend: the objects, blobs or images whose names
 * start with the soak's prefix, read behind the store's back with the driver's own
 * SDK (resolved through the driver package, so the soak needs no SDK of its own) or,
 * for rbd, the `rbd` CLI. Unfinished S3 multipart uploads count as leftovers too.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';

const require = createRequire(import.meta.url);
const run = promisify(execFile);

/**
 * Loads `sdk` as the driver package `driver` sees it.
 * @param {string} driver @param {string} sdk
 * @returns {any}
 */
function sdkOf(driver, sdk) {
  return createRequire(require.resolve(`${driver}/package.json`))(sdk);
}

/** @param {unknown} value */
const text = (value) => (typeof value === 'string' ? value : '');

/**
 * A lister for a backend of `type` with these (validated) options, or undefined for
 * types the soak cannot list.
 * @param {string} type
 * @param {Record<string, unknown>} options
 * @returns {((prefix: string) => Promise<string[]>) | undefined}
 */
export function remoteLister(type, options) {
  if (type === 's3') return s3Lister(options);
  if (type === 'azure') return azureLister(options);
  if (type === 'rbd') return rbdLister(options);
  return undefined;
}

/**
 * An SDK client for the S3 backend with these options.
 * @param {Record<string, unknown>} options
 */
function s3Client(options) {
  const s3 = sdkOf('@store/s3', '@aws-sdk/client-s3');
  const host = text(options.s3_store_host);
  const client = new s3.S3Client({
    endpoint: /^https?:\/\//.test(host) ? host : `http://${host}`,
    region: text(options.s3_store_region_name) || 'us-east-1',
    forcePathStyle: options.s3_store_bucket_url_format !== 'virtual',
    credentials: {
      accessKeyId: text(options.s3_store_access_key),
      secretAccessKey: text(options.s3_store_secret_key),
    },
  });
  return { s3, client };
}

/** @param {Record<string, unknown>} options */
function s3Lister(options) {
  const { s3, client } = s3Client(options);
  const Bucket = text(options.s3_store_bucket);
  return async (/** @type {string} */ prefix) => {
    /** @type {string[]} */
    const out = [];
    try {
      /** @type {string | undefined} */
      let token;
      do {
        /** @type {{ Contents?: { Key: string }[], IsTruncated?: boolean, NextContinuationToken?: string }} */
        const page = await client.send(
          new s3.ListObjectsV2Command({ Bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const o of page.Contents ?? []) out.push(o.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      const uploads = await client.send(
        new s3.ListMultipartUploadsCommand({ Bucket, Prefix: prefix }),
      );
      for (const u of uploads.Uploads ?? []) out.push(`multipart upload of ${u.Key}`);
    } catch (err) {
      if (/** @type {{ name?: string }} */ (err).name !== 'NoSuchBucket') throw err;
    }
    return out;
  };
}

/**
 * An SDK client of the Azure container with these options.
 * @param {Record<string, unknown>} options
 */
function azureContainer(options) {
  const azure = sdkOf('@store/azure', '@azure/storage-blob');
  const connection = text(options.azure_store_connection_string);
  const service = connection
    ? azure.BlobServiceClient.fromConnectionString(connection)
    : new azure.BlobServiceClient(
        text(options.azure_store_account_url),
        new azure.StorageSharedKeyCredential(
          text(options.azure_store_account_name) ||
            new URL(text(options.azure_store_account_url)).pathname.split('/')[1] ||
            '',
          text(options.azure_store_account_key),
        ),
      );
  return service.getContainerClient(text(options.azure_store_container));
}

/** @param {Record<string, unknown>} options */
function azureLister(options) {
  const container = azureContainer(options);
  return async (/** @type {string} */ prefix) => {
    /** @type {string[]} */
    const out = [];
    try {
      for await (const item of container.listBlobsFlat({ prefix })) out.push(item.name);
    } catch (err) {
      if (/** @type {{ statusCode?: number }} */ (err).statusCode !== 404) throw err;
    }
    return out;
  };
}

/** @param {Record<string, unknown>} options */
function rbdLister(options) {
  const args = ['ls', '--format', 'json', '-p', text(options.rbd_store_pool) || 'images'];
  if (text(options.rbd_store_ceph_conf)) args.push('--conf', text(options.rbd_store_ceph_conf));
  if (text(options.rbd_store_user)) args.push('--id', text(options.rbd_store_user));
  return async (/** @type {string} */ prefix) => {
    const { stdout } = await run('rbd', args, { timeout: 60_000, maxBuffer: 64 << 20 });
    return /** @type {string[]} */ (JSON.parse(stdout)).filter((name) => name.startsWith(prefix));
  };
}

/**
 * Removes the bucket or container a soak ran in, once it is empty (for a soak in a
 * scratch bucket or container made for it); rbd pools are left alone.
 * @param {string} type
 * @param {Record<string, unknown>} options
 */
export async function dropEmptyScratch(type, options) {
  if (type === 's3') {
    const { s3, client } = s3Client(options);
    try {
      await client.send(new s3.DeleteBucketCommand({ Bucket: text(options.s3_store_bucket) }));
    } finally {
      client.destroy();
    }
  } else if (type === 'azure') await azureContainer(options).deleteIfExists();
}
