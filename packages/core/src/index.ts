/**
 * @store/core: the driver contract, capabilities, locations, typed errors, config,
 * driver discovery and the multi-backend manager. Depends on no driver.
 *
 * @packageDocumentation
 */
export { Capability, CapabilitySet, capabilityNames, hasCapability, type CapabilityName } from './capabilities.js';
export { configFromIni, loadConfig, parseConfig, parseIni, type IniSections, type StoreConfig } from './config.js';
export {
  discoverDrivers,
  DriverRegistry,
  type DiscoveredDriver,
  type DiscoveryOptions,
  type DriverStatus,
} from './discovery.js';
export {
  defineDriver,
  isDriverDefinition,
  type Acls,
  type Driver,
  type DriverAddRequest,
  type DriverAddResult,
  type DriverContext,
  type DriverDefinition,
  type DriverGetRequest,
  type DriverGetResult,
  type DriverRequest,
} from './driver.js';
export * from './errors.js';
export { createImageHasher, resolveHashAlgorithm, type HasherOptions, type ImageDigests, type ImageHasher } from './hashing.js';
export { toAsyncChunks, type ImageData, type ImageVerifier } from './ingest.js';
export { LocationRegistry, schemeOf, type SchemeEntry, type StoreLocation } from './location.js';
export { redactingLogger, silentLogger, type LogFields, type Logger } from './logger.js';
export {
  MultiStore,
  type AddOptions,
  type AddResult,
  type BackendInfo,
  type DisabledBackend,
  type GetOptions,
  type GetResult,
  type MultiStoreOptions,
  type RequestOptions,
} from './manager.js';
export { checkLocationMetadata } from './metadata.js';
export {
  COMMON_OPTIONS,
  parseDict,
  redactOptions,
  renderOptionsSample,
  secretValues,
  validateOptions,
  type OptionSpec,
  type OptionType,
  type OptionValues,
} from './options.js';
export { redactError, redactUri, secretRedactor } from './redaction.js';
