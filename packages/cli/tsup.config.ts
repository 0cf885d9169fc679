import { defineConfig } from 'tsup';

// One build for the library entry and the `store` bin (dist/cli.js keeps its
// shebang and is made executable by tsup); shared code goes to common chunks.
export default defineConfig({
  entry: ['src/index.ts', 'src/cli.ts'],
  external: ['@store/core'],
  format: ['esm', 'cjs'],
  dts: { entry: 'src/index.ts' },
  clean: true,
  sourcemap: true,
  shims: true,
  target: 'node20',
});
