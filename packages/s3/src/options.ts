/** The S3 driver's options, with glance_store's names, types and defaults. */
import type { OptionSpec } from '@store/core';

/** S3's smallest allowed part (except the last one), in MiB; glance_store's floor for the chunk size. */
export const MIN_CHUNK_SIZE_MIB = 5;
/** Attempts per request (1 + retries) unless s3_store_max_attempts says otherwise. */
export const MAX_ATTEMPTS = 4;

/** The addressing styles of `s3_store_bucket_url_format`. */
export const BUCKET_URL_FORMATS = ['auto', 'path', 'virtual'] as const;

export const S3_OPTIONS: readonly OptionSpec[] = [
  {
    name: 's3_store_host',
    type: 'string',
    help: 'The S3 (or S3-compatible) server: a DNS name or IP address with an optional port, optionally prefixed with http:// or https:// (http:// when omitted). Required.',
  },
  {
    name: 's3_store_access_key',
    type: 'string',
    secret: true,
    help: 'The access key used to authenticate with the S3 server. Required.',
  },
  {
    name: 's3_store_secret_key',
    type: 'string',
    secret: true,
    help: 'The secret key matching s3_store_access_key. Required.',
  },
  {
    name: 's3_store_bucket',
    type: 'string',
    help: 'The bucket images are stored in. Required.',
  },
  {
    name: 's3_store_create_bucket_on_put',
    type: 'bool',
    default: false,
    help: 'Create the bucket on the first add when it does not exist; when false, adding to a missing bucket fails.',
  },
  {
    name: 's3_store_bucket_url_format',
    type: 'string',
    default: 'auto',
    choices: BUCKET_URL_FORMATS,
    help: "How objects are addressed: 'path' (https://host/bucket/key), 'virtual' (https://bucket.host/key; needs a DNS-compatible bucket name) or 'auto' (path style for a custom endpoint, virtual style on Amazon S3, as boto3 does).",
  },
  {
    name: 's3_store_large_object_size',
    type: 'int',
    default: 100,
    help: 'Size in MiB from which images are stored with a multipart upload; smaller images of known size go in a single PUT. Images of unknown size always use a multipart upload. Below 1, adding is disabled (as glance_store).',
  },
  {
    name: 's3_store_large_object_chunk_size',
    type: 'int',
    default: 10,
    help: 'Part size in MiB of multipart uploads: at least 5, or adding is disabled (as glance_store). Raised automatically when an image of known size would need more than 10,000 parts.',
  },
  {
    name: 's3_store_thread_pools',
    type: 'int',
    default: 10,
    help: 'How many parts of a multipart upload are in memory at once (sent or being filled). Memory used by one upload is at most this x the part size. Below 1, adding is disabled (as glance_store).',
  },
  {
    name: 's3_store_region_name',
    type: 'string',
    help: 'Region used to sign requests to a custom endpoint (not in glance_store 4.1.0, which derives the region from Amazon host names only). Default: derived from an Amazon host name, else us-east-1.',
  },
  {
    name: 's3_store_cacert',
    type: 'string',
    help: 'PEM file of CA certificates to verify an https:// S3 server with, instead of the system CAs (not in glance_store 4.1.0).',
  },
  {
    name: 's3_store_insecure',
    type: 'bool',
    default: false,
    help: "Do not verify the https:// S3 server's certificate (not in glance_store 4.1.0; for tests only).",
  },
  {
    name: 's3_store_proxies',
    type: 'dict',
    help: "Forward proxy per endpoint scheme, as botocore's Config(proxies=...): e.g. 'https:http://proxy:3128,http:http://proxy:3128'. Requests go through a CONNECT tunnel. When unset, HTTPS_PROXY / HTTP_PROXY and NO_PROXY (either case) are honoured as botocore does (not an option in glance_store 4.1.0, which gets this from botocore's environment handling).",
  },
  {
    name: 's3_store_max_attempts',
    type: 'int',
    default: MAX_ATTEMPTS,
    min: 1,
    help: "Attempts per S3 request, the first included (botocore's retries total_max_attempts), with exponential backoff and jitter (standard retry mode). Not in glance_store 4.1.0, which leaves botocore's default.",
  },
  {
    name: 's3_store_connect_timeout',
    type: 'float',
    default: 5,
    min: 0.001,
    help: "Seconds to wait for a TCP connection (botocore's connect_timeout; its default is 60). Not in glance_store 4.1.0.",
  },
  {
    name: 's3_store_read_timeout',
    type: 'float',
    default: 120,
    min: 0.001,
    help: "Seconds a connection may stay silent mid-request (botocore's read_timeout; its default is 60). Not in glance_store 4.1.0.",
  },
];

/** Typed view of the validated options. */
export interface S3Options {
  readonly s3_store_host?: string;
  readonly s3_store_access_key?: string;
  readonly s3_store_secret_key?: string;
  readonly s3_store_bucket?: string;
  readonly s3_store_create_bucket_on_put: boolean;
  readonly s3_store_bucket_url_format: (typeof BUCKET_URL_FORMATS)[number];
  readonly s3_store_large_object_size: number;
  readonly s3_store_large_object_chunk_size: number;
  readonly s3_store_thread_pools: number;
  readonly s3_store_region_name?: string;
  readonly s3_store_cacert?: string;
  readonly s3_store_insecure: boolean;
  readonly s3_store_proxies?: Readonly<Record<string, string>>;
  readonly s3_store_max_attempts: number;
  readonly s3_store_connect_timeout: number;
  readonly s3_store_read_timeout: number;
}
