/**
 * The Azure driver's options. glance_store has no Azure driver, so the names
 * follow its other object-store drivers (`s3_store_*`, `swift_store_*`) with an
 * `azure_store_` prefix.
 */
import type { OptionSpec } from '@store/core';

/** Azure's limit on the number of committed blocks in one block blob. */
export const MAX_BLOCKS = 50_000;
/** Azure's largest block, in MiB. */
export const MAX_BLOCK_MIB = 4000;

/** The options an `azure` backend accepts. */
export const AZURE_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'azure_store_account_url',
    type: 'string',
    help: 'URL of the Blob service endpoint, e.g. https://<account>.blob.core.windows.net, or http://127.0.0.1:10000/devstoreaccount1 for Azurite. Defaults to https://<azure_store_account_name>.blob.core.windows.net. Not used with azure_store_connection_string.',
  },
  {
    name: 'azure_store_connection_string',
    type: 'string',
    secret: true,
    help: 'A storage account connection string (AccountName/AccountKey, or a SharedAccessSignature, plus endpoints). Replaces azure_store_account_url and the credential options.',
  },
  {
    name: 'azure_store_account_name',
    type: 'string',
    help: 'The storage account name. Derived from the account URL or connection string when unset; it is the first part of every location this backend writes.',
  },
  {
    name: 'azure_store_account_key',
    type: 'string',
    secret: true,
    help: 'The storage account key (base64), for Shared Key authentication. Set this or azure_store_sas_token.',
  },
  {
    name: 'azure_store_sas_token',
    type: 'string',
    secret: true,
    help: 'A shared access signature (the query string, with or without its leading "?"), granting at least read, write, create and delete on the container (and create on the account when creating the container).',
  },
  {
    name: 'azure_store_container',
    type: 'string',
    default: 'glance',
    help: 'The container images are stored in: 3 to 63 lower-case letters, digits and single hyphens.',
  },
  {
    name: 'azure_store_create_container_on_put',
    type: 'bool',
    default: false,
    help: 'Create the container, if missing, when an image is first added. When false, adding to a missing container fails.',
  },
  {
    name: 'azure_store_block_size',
    type: 'int',
    default: 4,
    min: 1,
    max: MAX_BLOCK_MIB,
    help: `Size in MiB of the blocks an image is uploaded in. A blob holds at most ${MAX_BLOCKS} blocks, so images of unknown size are limited to ${MAX_BLOCKS} blocks; for a declared size the block is enlarged as needed.`,
  },
  {
    name: 'azure_store_upload_concurrency',
    type: 'int',
    default: 4,
    min: 1,
    max: 64,
    help: 'Blocks of one image buffered and uploaded at once. Memory used by an upload is at most azure_store_block_size x azure_store_upload_concurrency.',
  },
  {
    name: 'azure_store_retries',
    type: 'int',
    default: 3,
    min: 0,
    max: 10,
    help: 'Retries of a request that failed with a network error, a timeout or a server error (5xx), with exponential back-off; after the last one the call fails with RemoteServiceUnavailable.',
  },
  {
    name: 'azure_store_retry_delay',
    type: 'float',
    default: 0.2,
    min: 0,
    help: "Seconds of the first back-off before a retry (the SDK's retryDelayInMs); it grows exponentially up to azure_store_max_retry_delay.",
  },
  {
    name: 'azure_store_max_retry_delay',
    type: 'float',
    default: 3,
    min: 0,
    help: "Seconds: the longest back-off before a retry (the SDK's maxRetryDelayInMs).",
  },
  {
    name: 'azure_store_connect_timeout',
    type: 'float',
    default: 5,
    min: 0.001,
    help: 'Seconds to wait for a TCP connection to the endpoint; a connection not made in time fails the try, which is retried as a network error.',
  },
  {
    name: 'azure_store_read_timeout',
    type: 'float',
    default: 120,
    min: 0.001,
    help: "Seconds a connection may stay silent mid-request (no byte sent or received: waiting for an answer, a download's data, or the service reading an upload) before the try fails and is retried as a network error. Inactivity, not total time. The SDK itself has no client-side timeout.",
  },
  {
    name: 'azure_store_ca_certificates_file',
    type: 'string',
    help: 'PEM file of CA certificates to verify the endpoint with, instead of the system ones (https endpoints only).',
  },
  {
    name: 'azure_store_insecure',
    type: 'bool',
    default: false,
    help: 'Skip TLS certificate verification of the endpoint. For test set-ups only.',
  },
];

/** Typed view of the validated options. */
export interface AzureOptions {
  readonly azure_store_account_url?: string;
  readonly azure_store_connection_string?: string;
  readonly azure_store_account_name?: string;
  readonly azure_store_account_key?: string;
  readonly azure_store_sas_token?: string;
  readonly azure_store_container: string;
  readonly azure_store_create_container_on_put: boolean;
  readonly azure_store_block_size: number;
  readonly azure_store_upload_concurrency: number;
  readonly azure_store_retries: number;
  readonly azure_store_retry_delay: number;
  readonly azure_store_max_retry_delay: number;
  readonly azure_store_connect_timeout: number;
  readonly azure_store_read_timeout: number;
  readonly azure_store_ca_certificates_file?: string;
  readonly azure_store_insecure: boolean;
}
