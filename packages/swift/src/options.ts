/**
 * The swift driver's options: glance_store's swift options, with their names,
 * types and defaults (sizes in glance_store's "MB", which is 1024 × 1000 bytes).
 */
import type { OptionSpec } from '@store/core';

/** glance_store's "MB" for the large-object options: 1024 × 1000 bytes, not a MiB. */
export const GLANCE_MB = 1024 * 1000;

/** The options a `swift` backend accepts. */
export const SWIFT_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'default_swift_reference',
    type: 'string',
    default: 'ref1',
    help: 'The account reference (a section of swift_store_config_file) used to add images; its name is the host part of the swift+config:// locations written.',
  },
  {
    name: 'swift_store_auth_version',
    type: 'string',
    default: '2',
    help: "Auth version when the reference does not set auth_version: 1 (v1 auth, as radosgw's /auth/1.0) or 3 (Keystone v3); 2 is refused (Keystone no longer serves v2.0).",
  },
  {
    name: 'swift_store_auth_address',
    type: 'string',
    help: 'The auth endpoint (e.g. http://127.0.0.1:7480/auth/1.0), when no swift_store_config_file is set.',
  },
  {
    name: 'swift_store_user',
    type: 'string',
    secret: true,
    help: 'The user to authenticate as (account:user for v1), when no swift_store_config_file is set.',
  },
  {
    name: 'swift_store_key',
    type: 'string',
    secret: true,
    help: 'The key of swift_store_user, when no swift_store_config_file is set.',
  },
  {
    name: 'swift_store_config_file',
    type: 'string',
    help: 'INI file of account references: one section per reference with auth_address, user, key and optionally auth_version. Locations then name the reference (swift+config://ref/...) instead of carrying credentials.',
  },
  {
    name: 'swift_store_auth_insecure',
    type: 'bool',
    default: false,
    help: 'Skip TLS certificate verification of the auth and storage endpoints. For test set-ups only.',
  },
  {
    name: 'swift_store_cacert',
    type: 'string',
    help: 'PEM file of CA certificates to verify https endpoints with, instead of the system ones.',
  },
  {
    name: 'swift_store_region',
    type: 'string',
    help: 'Region of the Swift endpoint in a Keystone catalog (v3 tokens, multi-tenant request contexts).',
  },
  {
    name: 'swift_store_endpoint',
    type: 'string',
    help: 'Storage URL up to, not including, the container; overrides the one the auth answer gives.',
  },
  {
    name: 'swift_store_endpoint_type',
    type: 'string',
    default: 'publicURL',
    choices: ['publicURL', 'adminURL', 'internalURL'],
    help: 'Endpoint type to pick from a Keystone catalog (v3 tokens, multi-tenant request contexts).',
  },
  {
    name: 'swift_store_service_type',
    type: 'string',
    default: 'object-store',
    help: 'Service type to pick from a Keystone catalog (v3 tokens, multi-tenant request contexts).',
  },
  {
    name: 'swift_store_container',
    type: 'string',
    default: 'glance',
    help: 'The container images are stored in, or the prefix of the containers when swift_store_multiple_containers_seed > 0.',
  },
  {
    name: 'swift_store_large_object_size',
    type: 'int',
    default: 5 * 1024,
    min: 1,
    help: 'Images of this size or more, in MB (1024 × 1000 bytes, as glance_store), and images of unknown size, are written as segments plus a DLO manifest.',
  },
  {
    name: 'swift_store_large_object_chunk_size',
    type: 'int',
    default: 200,
    min: 1,
    help: 'Size of the segments of a large image, in MB (1024 × 1000 bytes). Segments are streamed: memory does not grow with it.',
  },
  {
    name: 'swift_store_create_container_on_put',
    type: 'bool',
    default: false,
    help: 'Create the container, if missing, when an image is added. When false, adding to a missing container fails.',
  },
  {
    name: 'swift_store_multi_tenant',
    type: 'bool',
    default: false,
    help: "Store images in the requesting tenant's account: with the token of the request context (SwiftRequestContext), at swift_store_endpoint or the context's catalog endpoint, one container <swift_store_container>_<image id> per image. Excludes swift_store_config_file.",
  },
  {
    name: 'swift_store_multiple_containers_seed',
    type: 'int',
    default: 0,
    min: 0,
    max: 32,
    help: 'When N > 0, images go to containers named <swift_store_container>_<first N characters of the image id> (dashes not counted), 16^N containers in all.',
  },
  {
    name: 'swift_store_admin_tenants',
    type: 'list',
    default: [],
    help: 'Tenants added to the write ACL (X-Container-Write) set by setAcls in multi-tenant mode.',
  },
  {
    name: 'swift_store_ssl_compression',
    type: 'bool',
    default: true,
    help: "TLS-layer compression. Accepted for compatibility; Node's TLS never compresses.",
  },
  {
    name: 'swift_store_retry_get_count',
    type: 'int',
    default: 0,
    min: 0,
    help: 'How many times a read that fails mid-way is resumed (a ranged GET from the first byte not yet delivered) before the read fails.',
  },
  {
    name: 'swift_store_expire_soon_interval',
    type: 'int',
    default: 60,
    min: 0,
    help: 'Seconds before a token expires (when the auth answer tells) within which a new one is requested first.',
  },
  {
    name: 'swift_store_use_trusts',
    type: 'bool',
    default: true,
    help: "Keystone trusts in multi-tenant mode. Not used: the caller's token serves every request (what glance_store falls back to when it cannot create a trust).",
  },
  {
    name: 'swift_buffer_on_upload',
    type: 'bool',
    default: false,
    help: 'Buffer each segment on disk before it is sent (glance_store: to resume uploads). Not needed here: a failed add removes its segments; accepted and ignored.',
  },
  {
    name: 'swift_upload_buffer_dir',
    type: 'string',
    help: 'Directory for swift_buffer_on_upload. Accepted and ignored.',
  },
];

/** Typed view of the validated options. */
export interface SwiftOptions {
  readonly default_swift_reference: string;
  readonly swift_store_auth_version: string;
  readonly swift_store_auth_address?: string;
  readonly swift_store_user?: string;
  readonly swift_store_key?: string;
  readonly swift_store_config_file?: string;
  readonly swift_store_auth_insecure: boolean;
  readonly swift_store_cacert?: string;
  readonly swift_store_region?: string;
  readonly swift_store_endpoint?: string;
  readonly swift_store_endpoint_type: string;
  readonly swift_store_service_type: string;
  readonly swift_store_container: string;
  readonly swift_store_large_object_size: number;
  readonly swift_store_large_object_chunk_size: number;
  readonly swift_store_create_container_on_put: boolean;
  readonly swift_store_multi_tenant: boolean;
  readonly swift_store_multiple_containers_seed: number;
  readonly swift_store_admin_tenants: readonly string[];
  readonly swift_store_ssl_compression: boolean;
  readonly swift_store_retry_get_count: number;
  readonly swift_store_expire_soon_interval: number;
  readonly swift_store_use_trusts: boolean;
  readonly swift_buffer_on_upload: boolean;
  readonly swift_upload_buffer_dir?: string;
}
