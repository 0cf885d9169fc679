/**
 * @store/azure: the Azure Blob Storage driver. Images are block blobs, uploaded
 * in blocks with bounded memory and committed atomically with a conditional
 * write. Not a glance_store driver: it shows that a driver outside glance_store's
 * set fits the same contract.
 *
 * @packageDocumentation
 */
import { Capability, defineDriver } from '@store/core';
import { AzureDriver } from './driver.js';
import { AZURE_OPTIONS } from './options.js';

export { AzureDriver } from './driver.js';
export {
  AZURE_SCHEME,
  type AzureLocation,
  accountNameProblem,
  azureLocation,
  blobNameProblem,
  containerNameProblem,
  parseAzureLocation,
} from './location.js';
export { AZURE_OPTIONS, type AzureOptions, MAX_BLOCK_MIB, MAX_BLOCKS } from './options.js';
export { effectiveBlockSize, UPLOAD_ID_METADATA } from './upload.js';

/** The `azure` driver definition (discovered through package.json `store.drivers`). */
const azureDriver = defineDriver({
  type: 'azure',
  schemes: ['azure'],
  // Ranged reads and whole-image writes, one client reused: READ_RANDOM | WRITE_ACCESS | DRIVER_REUSABLE = 79.
  capabilities: Capability.READ_RANDOM | Capability.WRITE_ACCESS | Capability.DRIVER_REUSABLE,
  options: AZURE_OPTIONS,
  description: 'Images as block blobs in an Azure Blob Storage container',
  create: (context) => AzureDriver.create(context),
});

export default azureDriver;
