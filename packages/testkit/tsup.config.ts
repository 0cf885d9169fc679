import { defineConfig } from 'tsup';

export default defineConfig({
  // services: the vitest-free subpath @store/testkit/services.
  entry: { index: 'src/index.ts', services: 'src/services-entry.ts' },
  external: ['vitest', '@store/core'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
});
