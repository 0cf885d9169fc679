/**
 * @store/s3: the S3 driver. glance_store's s3 store on the AWS SDK v3: single
 * streamed PUTs for small images, bounded-memory parallel multipart uploads for
 * large or unknown-size ones, ranged streaming reads, and glance_store's location
 * format with credentials masked in every message.
 *
 * @packageDocumentation
 */
import { Capability, defineDriver } from '@store/core';
import { S3Driver } from './driver.js';
import { S3_OPTIONS } from './options.js';

// The public surface: the driver, its locations and its options. Everything else
// (client, settings, errors, proxy, upload sizing) is internal; tests import it
// from its own module.
export { S3Driver } from './driver.js';
export {
  parseS3Location,
  S3_SCHEMES,
  type S3Location,
  type S3Scheme,
  s3Location,
} from './location.js';
export { S3_OPTIONS, type S3Options } from './options.js';

/** The `s3` driver definition (discovered through package.json `store.drivers`). */
const s3Driver = defineDriver({
  type: 's3',
  schemes: ['s3', 's3+https', 's3+http'],
  // glance_store declares RW_ACCESS (9); ranged reads are supported here, and one
  // instance (with its connection pool) serves every request.
  capabilities: Capability.READ_RANDOM | Capability.WRITE_ACCESS | Capability.DRIVER_REUSABLE,
  options: S3_OPTIONS,
  description: 'Images as objects in an S3 bucket (Amazon S3, Ceph radosgw, MinIO)',
  create: (context) => S3Driver.create(context),
});

export default s3Driver;
