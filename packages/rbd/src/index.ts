/**
 * @store/rbd: the Ceph RBD driver. glance_store's rbd store over a native librbd
 * binding: images are RBD images with a protected snapshot (`snap`) that Ceph
 * clones copy-on-write; writes and reads keep several aio calls in flight.
 *
 * @packageDocumentation
 */
import { Capability, type DriverDefinition, defineDriver } from '@store/core';
import { type BindingStatus, type HandleCounts, loadBinding } from './binding.js';
import { RbdDriver } from './driver.js';
import { RBD_OPTIONS } from './options.js';

export {
  ADDON_PATH,
  type BindingStatus,
  type HandleCounts,
  INSTALL_HINT,
  loadBinding,
} from './binding.js';
export { RbdDriver, SNAPSHOT_NAME } from './driver.js';
export { parseRbdLocation, quote, type RbdLocation, rbdLocation, unquote } from './location.js';
export { imageOrder, RBD_OPTIONS, type RbdOptions } from './options.js';

/**
 * Builds the `rbd` driver definition with the given way of loading the native
 * binding (tests pass one that fails, to see the driver disabled).
 */
export function createRbdDefinition(load: () => BindingStatus = loadBinding): DriverDefinition {
  return defineDriver({
    type: 'rbd',
    schemes: ['rbd'],
    // glance_store declares RW_ACCESS; this driver also reads from an offset and a
    // bounded chunk, and shares one cluster connection across calls.
    capabilities: Capability.READ_RANDOM | Capability.WRITE_ACCESS | Capability.DRIVER_REUSABLE,
    options: RBD_OPTIONS,
    description: 'Images as Ceph RBD images with a protected, cloneable snapshot',
    create: (context) => RbdDriver.create(context, load()),
  });
}

/**
 * Open native handles in this process (clusters, pools, images, aio calls), or
 * undefined when the binding is not available. Zero everywhere once every store is closed.
 */
export function nativeHandleCounts(): HandleCounts | undefined {
  const binding = loadBinding();
  return binding.ok ? binding.addon.handles() : undefined;
}

/** The `rbd` driver definition (discovered through package.json `store.drivers`). */
const rbdDriver = createRbdDefinition();

export default rbdDriver;
