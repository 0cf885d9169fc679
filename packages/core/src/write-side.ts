/**
 * glance_store's split between a driver's `configure` and `configure_add`: a
 * backend whose write side cannot be configured stays registered for reading,
 * with adding disabled, instead of stopping every backend.
 */

import { Capability } from './capabilities.js';
import type { DriverContext } from './driver.js';
import { BadStoreConfiguration } from './errors.js';

/**
 * Runs the part of a driver's set-up that only writing needs (checking a data
 * directory is writable, credentials to upload with, a part size). When it throws
 * BadStoreConfiguration, the backend loses WRITE_ACCESS, the reason is logged as
 * a warning and handed to the manager (which lists it and quotes it when add is
 * refused with StoreAddDisabled), and `undefined` is returned: the driver goes on
 * to create an instance that reads. Any other error propagates.
 *
 * This is glance_store's `Store.configure`, which catches BadStoreConfiguration
 * from `configure_add` and unsets WRITE_ACCESS.
 *
 * @returns what `work` returned, or undefined when the write side is disabled.
 */
export async function configureWrites<T>(
  context: DriverContext,
  work: () => T | Promise<T>,
): Promise<T | undefined> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof BadStoreConfiguration)) throw err;
    disableWrites(context, err.message);
    return undefined;
  }
}

/**
 * Removes WRITE_ACCESS from a backend, logs why, and tells the manager the
 * reason (see {@link configureWrites}; for a driver that finds out at run time).
 */
export function disableWrites(context: DriverContext, reason: string): void {
  context.capabilities.remove(Capability.WRITE_ACCESS);
  context.logger.warn(
    `Backend '${context.backendId}': adding images is disabled (the backend still reads): ${reason}`,
  );
  context.onWritesDisabled?.(reason);
}
