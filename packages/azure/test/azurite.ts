/** Where the tests that start an Azurite of their own find it. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** azurite-blob from the workspace (a root dev dependency, as tools/services uses it). */
export function azuriteBin(): string {
  for (let dir = resolve(process.cwd()); ; dir = dirname(dir)) {
    const bin = join(dir, 'node_modules', '.bin', 'azurite-blob');
    if (existsSync(bin)) return bin;
    if (dirname(dir) === dir) throw new Error('azurite-blob not found: run pnpm install');
  }
}
