/**
 * Core's memory driver held to the contract suite. It runs here rather than in
 * core: testkit depends on core, so core depending on testkit (even for tests)
 * would be a cycle in the workspace graph. Core's own tests cover what the
 * memory driver adds (the byte limit, copies, atomic adds).
 */
import { type MemoryDriver, MultiStore, memoryDriver } from '@store/core';
import { describeDriverContract } from '../src/index.js';

describeDriverContract({
  name: 'memory (core)',
  setup: async () => {
    const store = await MultiStore.create(
      {
        enabledBackends: { fast: 'memory' },
        defaultBackend: 'fast',
        backends: { fast: { memory_store_max_bytes: String(256 * 1024 * 1024) } },
      },
      { drivers: [memoryDriver] },
    );
    const driver = store.driverOf('fast') as MemoryDriver;
    return { store, backend: 'fast', listObjects: async () => driver.imageIds() };
  },
});
