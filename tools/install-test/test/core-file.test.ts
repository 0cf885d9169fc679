/**
 * @store/core and @store/file installed from their tarballs with plain npm into apps outside
 * the repository: what a user gets from the published packages, ESM, CommonJS and TypeScript.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, test } from 'vitest';
import { listTree, npmApp, runApp, sh, tarballSpecs, typescriptDevDependencies } from './apps.js';

const CORE_FILE = ['@store/core', '@store/file'];

/** The checks fixtures/app/scenario.cjs makes, whichever way core was loaded. */
const SCENARIO_CHECKS = [
  'add, get, getSize, delete on the default backend',
  'get without a backend finds an image only in slow',
  'getSize without a backend finds an image only in slow',
  'delete without a backend finds an image only in slow',
  'get of a deleted image: err instanceof NotFound',
];

/** Installed package names in `nodeModules` (scoped ones as @scope/name). */
function installedPackages(nodeModules: string): string[] {
  const names: string[] = [];
  for (const entry of readdirSync(nodeModules)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      for (const sub of readdirSync(join(nodeModules, entry))) names.push(`${entry}/${sub}`);
    } else names.push(entry);
  }
  return names.sort();
}

describe('an app depending on @store/core and @store/file only', () => {
  let app: string;
  beforeAll(async () => {
    app = await npmApp('core-file-app', { dependencies: tarballSpecs(CORE_FILE) }, [
      'app/scenario.cjs',
      'shared/checks.cjs',
      'app/esm-app.mjs',
      'app/cjs-app.cjs',
    ]);
  });

  test('gets no SDK, no native code and no other driver', () => {
    const nodeModules = join(app, 'node_modules');
    expect(installedPackages(nodeModules)).toEqual(CORE_FILE);
    const tree = listTree(nodeModules);
    expect(tree.filter((p) => p.endsWith('.node') || p.endsWith('binding.gyp'))).toEqual([]);
    expect(tree.filter((p) => /(^|\/)(@aws-sdk|@azure|node-addon-api)(\/|$)/.test(p))).toEqual([]);
  });

  describe.each([
    ['ESM (import)', 'esm-app.mjs'],
    ['CommonJS (require)', 'cjs-app.cjs'],
  ])('%s app with fast:file, slow:file', (_kind, script) => {
    let checks: Record<string, true | string>;
    beforeAll(async () => {
      const dir = mkdtempSync(join(inject('scratch'), 'data-'));
      checks = await runApp(app, [script, dir]);
    });
    test.each(SCENARIO_CHECKS)('%s', (name) => {
      expect(checks[name]).toBe(true);
    });
  });
});

describe('a TypeScript app checked with tsc --strict (module nodenext)', () => {
  let app: string;
  beforeAll(async () => {
    app = await npmApp(
      'typescript-app',
      {
        type: 'module',
        dependencies: tarballSpecs(CORE_FILE),
        devDependencies: typescriptDevDependencies(),
      },
      ['ts-app/tsconfig.json', 'ts-app/app.mts', 'ts-app/app.cts'],
    );
  });

  test('type-checks against the shipped declarations (ESM and CommonJS entry points)', async () => {
    // tsc exits non-zero on any error, an unused @ts-expect-error included; sh() then throws
    // with tsc's output.
    const { stdout } = await sh(app, join(app, 'node_modules/.bin/tsc'), ['-p', '.']);
    expect(stdout).toBe('');
  });
});
