/**
 * @store/swift: glance_store's Swift driver for OpenStack Swift and Ceph
 * radosgw's Swift API. Images are objects; large ones (and those of unknown
 * size) are segments plus a Dynamic Large Object manifest, exactly as
 * glance_store writes them, so either implementation reads the other's images.
 *
 * @packageDocumentation
 */
import { Capability, defineDriver } from '@store/core';
import { SwiftDriver } from './driver.js';
import { SWIFT_OPTIONS } from './options.js';

export { type AccountReference, parseAccountFile } from './accounts.js';
export {
  type CatalogEndpoint,
  type CatalogService,
  type EndpointFilter,
  endpointFromCatalog,
  type SwiftRequestContext,
} from './context.js';
export { SwiftDriver } from './driver.js';
export {
  containerFor,
  credentialsLocation,
  locationUrl,
  parseSwiftLocation,
  quoteCredential,
  referenceLocation,
  SWIFT_SCHEMES,
  type SwiftLocation,
  type SwiftScheme,
} from './location.js';
export { GLANCE_MB, SWIFT_OPTIONS, type SwiftOptions } from './options.js';
export { manifestPrefix, segmentName } from './upload.js';

/** The `swift` driver definition (discovered through package.json `store.drivers`). */
const swiftDriver = defineDriver({
  type: 'swift',
  schemes: ['swift+config', 'swift+https', 'swift+http', 'swift'],
  // Ranged reads and whole-image writes, one client reused: READ_RANDOM | WRITE_ACCESS | DRIVER_REUSABLE = 79.
  capabilities: Capability.READ_RANDOM | Capability.WRITE_ACCESS | Capability.DRIVER_REUSABLE,
  options: SWIFT_OPTIONS,
  description: 'Images as objects (large ones as DLO segments) in OpenStack Swift or radosgw',
  create: (context) => SwiftDriver.create(context),
});

export default swiftDriver;
