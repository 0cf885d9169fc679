import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { include: ['test/**/*.test.ts'], testTimeout: 30_000 },
  // Tests that load the file driver from its sources must share this core, not its build.
  resolve: { alias: { '@store/core': fileURLToPath(new URL('./src/index.ts', import.meta.url)) } },
});
