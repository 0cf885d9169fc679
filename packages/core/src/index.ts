/**
 * @store/core: the driver contract, capabilities, locations, typed errors, config,
 * driver discovery and the multi-backend manager. Depends on no driver.
 *
 * @packageDocumentation
 */

export {
  type Block,
  type BlockSink,
  BlockWriter,
  type BlockWriterOptions,
  writeBlocks,
} from './block-writer.js';
export { loadCaFile } from './ca-file.js';
export {
  Capability,
  type CapabilityName,
  CapabilitySet,
  capabilityNames,
  hasCapability,
} from './capabilities.js';
export {
  type ChunkAllocator,
  freshChunk,
  LentBuffers,
  type LentBuffersOptions,
} from './chunk-buffers.js';
export {
  type ConfigOptions,
  configFromIni,
  formatIni,
  type IniSections,
  loadConfig,
  parseConfig,
  parseIni,
  type StoreConfig,
} from './config.js';
export {
  type DiscoveredDriver,
  type DiscoveryOptions,
  DriverRegistry,
  type DriverStatus,
  discoverDrivers,
} from './discovery.js';
export {
  type Acls,
  type Driver,
  type DriverAddRequest,
  type DriverAddResult,
  type DriverContext,
  type DriverDefinition,
  type DriverGetRequest,
  type DriverGetResult,
  type DriverRequest,
  defineDriver,
  isDriverDefinition,
  type ListOrphansRequest,
  type Orphan,
} from './driver.js';
export * from './errors.js';
export { FileSource, type FileSourceOptions, fileSource, isFileSource } from './file-source.js';
export {
  checkChecksumAvailable,
  createImageHasher,
  type HasherOptions,
  type ImageDigests,
  type ImageHasher,
  resolveHashAlgorithm,
  shutdownHashWorkers,
} from './hashing.js';
export { checkImageId, imageIdProblem, MAX_IMAGE_ID_BYTES, quoteImageId } from './image-id.js';
export { type ImageData, type ImageVerifier, toAsyncChunks } from './ingest.js';
export {
  DEFAULT_ADD_BUFFER_BYTES,
  type LimitState,
  type LimitStats,
  type StoreLimits,
} from './limits.js';
export {
  LocationRegistry,
  MAX_LOCATION_LENGTH,
  type SchemeEntry,
  type StoreLocation,
  schemeOf,
} from './location.js';
export { type LogFields, type Logger, redactingLogger, silentLogger } from './logger.js';
export { MultiStore } from './manager.js';
export {
  MemoryDriver,
  type MemoryDriverOptions,
  type MemoryLocation,
  memoryDriver,
  parseMemoryLocation,
} from './memory-driver.js';
export { checkLocationMetadata } from './metadata.js';
export { closestName, type Strictness } from './names.js';
export { looksSecret, redactOptions, secretValues } from './option-redaction.js';
export { renderOptionsSample } from './option-sample.js';
export { parseDict, repeatedValues, validateOptions } from './option-values.js';
export { COMMON_OPTIONS, type OptionSpec, type OptionType, type OptionValues } from './options.js';
export type { OrphanOptions } from './orphans.js';
export type { PipeToOptions } from './pipe-to.js';
export {
  openProxyTunnel,
  type ProxyTunnelFailure,
  type ProxyTunnelOptions,
  type TunnelProxy,
} from './proxy-tunnel.js';
export { type ReadAheadBudget, type ReadAheadOptions, readAhead } from './read-ahead.js';
export type { ImageStream } from './reader.js';
export { redactError, redactUri, secretRedactor } from './redaction.js';
export type {
  AclOptions,
  AddOptions,
  AddResult,
  BackendInfo,
  BackendState,
  CopyOptions,
  DisabledBackend,
  GetOptions,
  GetResult,
  MultiStoreOptions,
  RequestOptions,
} from './store-types.js';
export {
  GET_STREAM_CLOSE_CHANNEL,
  STORE_OPERATIONS,
  type StoreOperation,
  type StoreOperationEvent,
  storeChannelName,
  storeChannels,
} from './tracing.js';
export type { VerifyOptions } from './verify.js';
export { configureWrites, disableWrites } from './write-side.js';
