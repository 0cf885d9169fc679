/**
 * @store/testkit: the contract suite every @store driver runs against itself,
 * plus helpers for tests against the real services.
 *
 * @packageDocumentation
 */
export {
  ADD_BUFFER_CEILING,
  ADD_BUFFER_PROBE_SIZES,
  type ContractSubject,
  type DriverContractOptions,
  describeDriverContract,
} from './contract.js';
export { chunked, collect, digest, failingSource, patternBytes } from './data.js';
export { type FaultProxy, startFaultProxy } from './fault-proxy.js';
export {
  addKillingServer,
  failure,
  type KilledAdd,
  type KillingAddOptions,
} from './faults.js';
export { addsUnderMemoryLimit, type QueuedAdds } from './limits.js';
export { freePort, portOpen, waitForPort } from './ports.js';
export { type ForwardProxy, startProxy } from './proxy.js';
export { PrivateRadosgw, type PrivateRadosgwOptions } from './radosgw.js';
export { countRequests, type RequestCounter } from './requests.js';
export { parseEnvFile, REQUIRE_SERVICES_VARIABLE, serviceEnv } from './services.js';
