/**
 * @store/file: the filesystem driver. glance_store's filesystem store, with
 * atomic writes (temporary name, then link) and path-escape protection.
 *
 * @packageDocumentation
 */
import { Capability, defineDriver } from '@store/core';
import { FileDriver } from './driver.js';
import { FILE_OPTIONS } from './options.js';

export { type DataDir, parseDataDirs } from './datadirs.js';
export { checkImageId, FileDriver } from './driver.js';
export { type FileLocation, fileLocation, parseFileLocation } from './location.js';
export { DEFAULT_DATADIR, FILE_OPTIONS, type FileOptions } from './options.js';
export { partialPath, type SweepRequest, sweepPartials } from './partials.js';
export { TEMP_PREFIX } from './writer.js';

/** The `file` driver definition (discovered through package.json `store.drivers`). */
const fileDriver = defineDriver({
  type: 'file',
  schemes: ['file', 'filesystem'],
  // glance_store's value: READ_RANDOM | WRITE_ACCESS | DRIVER_REUSABLE = 79.
  capabilities: Capability.READ_RANDOM | Capability.WRITE_ACCESS | Capability.DRIVER_REUSABLE,
  options: FILE_OPTIONS,
  description: 'Images as files in local directories',
  create: (context) => FileDriver.create(context),
});

export default fileDriver;
