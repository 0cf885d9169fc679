/**
 * `@store/testkit/services`: the helpers for the real services and private
 * servers (service environment, loopback ports), without the contract suite, so
 * scripts that are not vitest tests (benchmarks, the test runner's own checks)
 * can use them without loading vitest.
 *
 * @packageDocumentation
 */
export { freePort, portOpen, waitForPort } from './ports.js';
export { parseEnvFile, REQUIRE_SERVICES_VARIABLE, serviceEnv } from './services.js';
