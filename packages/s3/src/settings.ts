/**
 * Turns validated options into the settings the driver runs with, applying
 * glance_store's rules: required options, the host's scheme, the region derived
 * from Amazon host names, sizes in MiB, and the location prefix.
 */
import { BadStoreConfiguration } from '@store/core';
import { parseS3Location, type S3Scheme, s3Location } from './location.js';
import { MIN_CHUNK_SIZE_MIB, type S3Options } from './options.js';
import { proxyFor, type S3Proxy } from './proxy.js';

const MiB = 1024 * 1024;

/** Amazon S3 hosts whose region glance_store knows (its `get_s3_location`); others sign as us-east-1. */
const AMAZON_REGIONS = [
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
  'ap-east-1',
  'ap-south-1',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-northeast-3',
  'ap-southeast-1',
  'ap-southeast-2',
  'ca-central-1',
  'cn-north-1',
  'cn-northwest-1',
  'eu-central-1',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'eu-north-1',
  'sa-east-1',
];

/**
 * The Amazon region named by an S3 host such as `s3-eu-west-1.amazonaws.com`, or
 * '' for `s3.amazonaws.com` and any non-Amazon host (glance_store's `get_s3_location`).
 */
export function amazonRegionOf(host: string): string {
  const bare = /^(?:https?:\/\/)?([^:]+[^/])(?::[0-9]+)?\/?$/.exec(host)?.[1] ?? host;
  for (const region of AMAZON_REGIONS) {
    const domain = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
    if (bare === `s3-${region}.${domain}`) return region;
  }
  return '';
}

/** A bucket name usable as a DNS label (botocore's `check_dns_name`). */
export function isDnsCompatibleBucket(bucket: string): boolean {
  return (
    bucket.length >= 3 &&
    bucket.length <= 63 &&
    /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(bucket) &&
    !bucket.includes('..') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(bucket)
  );
}

/** How requests address the bucket. */
export type Addressing = 'path' | 'virtual';

/** The driver's resolved configuration. */
export interface S3Settings {
  readonly backendId: string;
  /** Endpoint URL for the SDK, or undefined to use Amazon's endpoint of `region`. */
  readonly endpoint: string | undefined;
  readonly region: string;
  /** Region to create the bucket in ('' = the server's default). */
  readonly bucketRegion: string;
  readonly addressing: Addressing;
  /** Scheme of the locations this backend writes. */
  readonly scheme: S3Scheme;
  /** The host as it appears in locations (no scheme, no trailing slash). */
  readonly uriHost: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly bucket: string;
  readonly createBucketOnPut: boolean;
  /** Bytes from which an image of known size goes in a multipart upload. */
  readonly largeObjectSize: number;
  /** Bytes per part of a multipart upload (before the 10,000-part adjustment). */
  readonly partSize: number;
  /** Parts uploaded at once. */
  readonly concurrency: number;
  /** CA certificates (PEM) for https endpoints, from s3_store_cacert; undefined = system CAs. */
  readonly ca: Buffer | undefined;
  readonly rejectUnauthorized: boolean;
  /** Forward proxy to tunnel through (s3_store_proxies, else the environment). */
  readonly proxy: S3Proxy | undefined;
  /** Attempts per request, the first included. */
  readonly maxAttempts: number;
  readonly connectTimeoutMs: number;
  /** Inactivity, not total time: a large GET may rightly take minutes. */
  readonly readTimeoutMs: number;
}

function failure(backendId: string): (why: string) => never {
  return (why) => {
    throw new BadStoreConfiguration(`Backend '${backendId}' (s3): ${why}`);
  };
}

function requiredMessage(name: string): string {
  return `option '${name}' is required (glance_store: "Could not find ${name} in configuration options")`;
}

/**
 * Resolves `options` for backend `backendId`: what reading needs (the host, TLS)
 * is checked here; keys, bucket and part sizes only matter for writing and are
 * checked by {@link checkWriteSettings} (missing ones resolve to '').
 * @throws BadStoreConfiguration naming the option that is missing or unusable.
 */
export function resolveSettings(
  backendId: string,
  options: S3Options,
  /** Where HTTP(S)_PROXY and NO_PROXY are read from. */
  env: Readonly<Record<string, string | undefined>> = process.env,
  /** The CA bundle s3_store_cacert names, read by the caller (core's loadCaFile). */
  ca?: Buffer,
): S3Settings {
  const fail = failure(backendId);
  const optional = (name: keyof S3Options): string => {
    const value = options[name];
    return typeof value === 'string' ? value.trim() : '';
  };
  const host = optional('s3_store_host');
  if (host === '') fail(requiredMessage('s3_store_host'));
  const accessKey = optional('s3_store_access_key');
  const secretKey = optional('s3_store_secret_key');
  const bucket = optional('s3_store_bucket');

  const https = /^https:\/\//i.test(host);
  const fullHost = /^https?:\/\//i.test(host) ? host : `http://${host}`;
  const uriHost = fullHost.replace(/^https?:\/\//i, '').replace(/^\/+|\/+$/g, '');
  if (uriHost === '') fail("option 's3_store_host' names no host");
  try {
    new URL(fullHost);
  } catch {
    fail(`option 's3_store_host' is not a usable host: '${host}'`);
  }

  const amazonRegion = amazonRegionOf(host);
  const addressingOption = options.s3_store_bucket_url_format;
  // boto3's 'auto' uses path style with a custom endpoint and virtual style on Amazon's own.
  const addressing: Addressing =
    addressingOption === 'path' || (addressingOption === 'auto' && !amazonRegion)
      ? 'path'
      : 'virtual';

  const settings: S3Settings = {
    backendId,
    endpoint: amazonRegion ? undefined : fullHost.replace(/\/+$/, ''),
    region: options.s3_store_region_name || amazonRegion || 'us-east-1',
    bucketRegion: amazonRegion || options.s3_store_region_name || '',
    addressing,
    scheme: https ? 's3+https' : 's3',
    uriHost,
    accessKey,
    secretKey,
    bucket,
    createBucketOnPut: options.s3_store_create_bucket_on_put,
    largeObjectSize: options.s3_store_large_object_size * MiB,
    partSize: options.s3_store_large_object_chunk_size * MiB,
    concurrency: options.s3_store_thread_pools,
    ca,
    rejectUnauthorized: !options.s3_store_insecure,
    proxy: proxyFor(
      backendId,
      new URL(
        amazonRegion ? `https://s3.${amazonRegion}.amazonaws.com` : fullHost.replace(/\/+$/, ''),
      ),
      options.s3_store_proxies,
      env,
    ),
    maxAttempts: options.s3_store_max_attempts,
    connectTimeoutMs: Math.round(options.s3_store_connect_timeout * 1000),
    readTimeoutMs: Math.round(options.s3_store_read_timeout * 1000),
  };
  return settings;
}

/**
 * What writing needs, as glance_store's configure_add checks it: the keys and
 * the bucket, a part size of at least 5 MiB, a positive upload concurrency and
 * large-object size; and keys and bucket its location format can carry. A failure
 * disables adding only: the backend still reads with the keys locations carry.
 * @throws BadStoreConfiguration naming the option.
 */
export function checkWriteSettings(settings: S3Settings, options: S3Options): void {
  const fail = failure(settings.backendId);
  for (const name of ['s3_store_access_key', 's3_store_secret_key', 's3_store_bucket'] as const) {
    const value = options[name];
    if (typeof value !== 'string' || value.trim() === '') fail(requiredMessage(name));
  }
  if (options.s3_store_large_object_chunk_size < MIN_CHUNK_SIZE_MIB)
    fail(
      `s3_store_large_object_chunk_size must be at least ${MIN_CHUNK_SIZE_MIB} MB, got ${options.s3_store_large_object_chunk_size}`,
    );
  if (options.s3_store_thread_pools <= 0)
    fail(`s3_store_thread_pools must be a positive integer, got ${options.s3_store_thread_pools}`);
  if (options.s3_store_large_object_size <= 0)
    fail(
      `s3_store_large_object_size must be a positive integer, got ${options.s3_store_large_object_size}`,
    );
  if (options.s3_store_bucket_url_format === 'virtual' && !isDnsCompatibleBucket(settings.bucket))
    fail(
      `bucket '${settings.bucket}' is not a valid DNS name, which s3_store_bucket_url_format = virtual needs`,
    );
  checkRoundTrip(settings, fail);
}

/**
 * The keys must survive glance_store's location format, which escapes nothing:
 * a ':' in the secret, or an '@', '?' or '#' anywhere, would change their meaning.
 */
function checkRoundTrip(settings: S3Settings, fail: (why: string) => never): void {
  const sample = s3Location({
    scheme: settings.scheme,
    accessKey: settings.accessKey,
    secretKey: settings.secretKey,
    host: settings.uriHost,
    bucket: settings.bucket,
    key: 'image-id',
  });
  let parsed: ReturnType<typeof parseS3Location> | undefined;
  try {
    parsed = parseS3Location(sample.uri);
  } catch {
    parsed = undefined;
  }
  if (
    !parsed ||
    parsed.accessKey !== settings.accessKey ||
    parsed.secretKey !== settings.secretKey ||
    parsed.host !== settings.uriHost ||
    parsed.bucket !== settings.bucket
  ) {
    fail(
      "the access key, secret key, host or bucket contains characters glance_store's location format cannot carry (':' in the access key or secret, '@', '?', '#', or a secret starting with '//')",
    );
  }
}
