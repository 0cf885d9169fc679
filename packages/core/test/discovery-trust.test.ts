/**
 * Discovery trusts only the app's dependency tree: packages lying in the working
 * directory's node_modules, or any folder above it, are never read, let alone run,
 * unless asked for. Each hostile package below writes a marker file when its module
 * is imported, which proves whether its code ran.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverDrivers, type Logger } from '../src/index.js';

const run = promisify(execFile);
const packagesDir = fileURLToPath(new URL('../..', import.meta.url));
let root: string;

/** A package claiming `types` whose module writes `marker` when imported. */
async function hostile(dir: string, name: string, types: string[], marker: string) {
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({
      name,
      version: '6.6.6',
      type: 'module',
      store: { drivers: Object.fromEntries(types.map((t) => [t, './index.js'])) },
    }),
  );
  await writeFile(
    join(dir, 'index.js'),
    `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'ran');\nexport default 42;\n`,
  );
}

const APP_MAIN = `
import { MultiStore, DriverRegistry } from '@store/core';
const warnings = [];
const logger = { debug() {}, info() {}, error() {}, warn: (m) => warnings.push(m) };
const store = await MultiStore.create(
  { enabledBackends: { local: 'file' }, defaultBackend: 'local',
    backends: { local: { filesystem_store_datadir: process.argv[2] } } },
  { logger },
);
await store.close();
const registry = await DriverRegistry.discover({ logger });
console.log(JSON.stringify({ status: registry.status(), warnings }));
`;

beforeAll(async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), 'store-trust-')));
  await hostile(
    join(root, 'node_modules', 'evil-above'),
    'evil-above',
    ['file', 'evil'],
    join(root, 'ran-above'),
  );
  await hostile(
    join(root, 'work', 'node_modules', '@store', 'file'),
    '@store/file',
    ['file'],
    join(root, 'ran-cwd'),
  );
  const app = join(root, 'srv', 'app');
  await mkdir(join(app, 'node_modules', '@store'), { recursive: true });
  await symlink(join(packagesDir, 'core'), join(app, 'node_modules', '@store', 'core'));
  await symlink(join(packagesDir, 'file'), join(app, 'node_modules', '@store', 'file'));
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'app',
      type: 'module',
      dependencies: { '@store/core': '*', '@store/file': '*' },
    }),
  );
  await writeFile(join(app, 'main.mjs'), APP_MAIN);
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('discovery runs nothing from the working directory or its ancestors', () => {
  for (const cwd of ['work', '.']) {
    it(`an app started in ${cwd === '.' ? 'the folder above it' : 'a folder beside it'} uses its own @store/file`, async () => {
      const { stdout } = await run(
        process.execPath,
        [join(root, 'srv', 'app', 'main.mjs'), join(root, 'images')],
        { cwd: join(root, cwd) },
      );
      const { status, warnings } = JSON.parse(stdout) as {
        status: { type: string; source: string; version?: string }[];
        warnings: string[];
      };
      expect(existsSync(join(root, 'ran-cwd'))).toBe(false);
      expect(existsSync(join(root, 'ran-above'))).toBe(false);
      expect(status).toEqual([{ type: 'file', source: '@store/file', version: '0.1.0' }]);
      expect(warnings).toEqual([]);
    });
  }
});

describe('folders scanned on request, and types claimed twice', () => {
  const warnings: string[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    error() {},
    warn: (m) => warnings.push(m),
  };

  it("scans STORE_DRIVER_PATH after the app's dependencies, which win, and warns naming both claimants", async () => {
    warnings.length = 0;
    const found = await discoverDrivers(
      {
        from: join(root, 'srv', 'app', 'main.mjs'),
        env: { STORE_DRIVER_PATH: join(root, 'node_modules') },
      },
      logger,
    );
    expect(found.map((d) => [d.type, d.packageName])).toEqual([
      ['file', '@store/file'],
      ['evil', 'evil-above'],
    ]);
    expect(found[0]!.modulePath).toBe(join(packagesDir, 'file', 'dist', 'index.js'));
    expect(warnings).toEqual([
      expect.stringMatching(/'file'.*@store\/file@0\.1\.0.*used.*evil-above@6\.6\.6.*ignored/),
    ]);
    expect(existsSync(join(root, 'ran-above'))).toBe(false);
  });

  it('warns when two copies of one package name claim the same type', async () => {
    warnings.length = 0;
    const found = await discoverDrivers(
      {
        from: join(root, 'srv', 'app'),
        nodeModules: [join(root, 'work', 'node_modules')],
      },
      logger,
    );
    expect(found.map((d) => [d.type, d.packageName, d.version])).toEqual([
      ['file', '@store/file', '0.1.0'],
    ]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(join(packagesDir, 'file'));
    expect(warnings[0]).toContain(join(root, 'work', 'node_modules', '@store', 'file'));
    expect(warnings[0]).toContain('@store/file@6.6.6');
  });
});
