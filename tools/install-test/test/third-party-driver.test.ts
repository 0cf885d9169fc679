/**
 * Third-party driver packages, each installed into an app from a folder (npm makes a symlink)
 * with its own node_modules holding another copy of @store/core, as a driver author's
 * checkout is: discovered without registerDriver, its errors typed in the app, and its
 * contract suite run with the installed @store/testkit. The drivers: the repository's example
 * (examples/third-party-driver), and a fixture with a byte quota, whose StorageFull a test
 * can cause (the example's comes only from a full disk).
 */
import { cpSync, lstatSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, test } from 'vitest';
import { fixtures, npmApp, npmInstall, runApp, sh, storeOverrides, tarballSpecs } from './apps.js';

interface DriverUnderTest {
  /** Where its source lives. */
  readonly source: string;
  /** What the app scenario needs to know of it (see fixtures/app/scenario.cjs). */
  readonly describe: { type: string; dirOption: string; missing: string; quota?: string };
}

const DRIVERS: readonly [string, DriverUnderTest][] = [
  [
    'examples/third-party-driver',
    {
      source: join(import.meta.dirname, '../../../examples/third-party-driver'),
      describe: { type: 'memo', dirOption: 'memo_dir', missing: 'memo://missing' },
    },
  ],
  [
    'fixtures/driver',
    {
      source: join(fixtures, 'driver'),
      describe: {
        type: 'fixture-dir',
        dirOption: 'fixture_dir',
        missing: 'fixturedir://missing',
        quota: 'fixture_max_bytes',
      },
    },
  ],
];

/** The checks fixtures/app/scenario.cjs makes with a third-party driver enabled. */
function driverChecks(driver: DriverUnderTest): string[] {
  return [
    'add, get, getSize, delete on the default backend',
    'get without a backend finds an image only in slow',
    'get of a deleted image: err instanceof NotFound',
    'third-party driver discovered: add, get, delete',
    "third-party driver's NotFound is NotFound",
    "third-party driver's Duplicate is Duplicate",
    ...(driver.describe.quota ? ["third-party driver's StorageFull is StorageFull"] : []),
  ];
}

/** Vitest's own variables, which would make the driver's vitest think it runs inside ours. */
function outsideVitest(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS'),
  );
}

describe.each(DRIVERS)('third-party driver %s installed from a folder', (label, driver) => {
  const slug = label.replace(/[^a-z0-9]+/gi, '-');
  let driverDir: string;
  let packageName: string;
  let app: string;
  beforeAll(async () => {
    // The author's checkout: its @store dev dependencies from our tarballs, the rest from npm.
    driverDir = join(inject('scratch'), `driver-${slug}`);
    cpSync(driver.source, driverDir, {
      recursive: true,
      filter: (path) => !path.split(/[\\/]/).includes('node_modules'),
    });
    const manifestPath = join(driverDir, 'package.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
      name: string;
      devDependencies?: Record<string, string>;
      overrides?: Record<string, string>;
    };
    packageName = manifest.name;
    manifest.devDependencies = {
      ...manifest.devDependencies,
      ...tarballSpecs(['@store/core', '@store/testkit']),
    };
    manifest.overrides = storeOverrides();
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    await npmInstall(driverDir);

    app = await npmApp(
      `app-${slug}`,
      {
        dependencies: {
          ...tarballSpecs(['@store/core', '@store/file']),
          [packageName]: `file:${driverDir}`,
        },
      },
      ['app/scenario.cjs', 'shared/checks.cjs', 'app/esm-app.mjs', 'app/cjs-app.cjs'],
    );
  });

  test('is a symlink, and the driver resolves its own copy of @store/core', () => {
    expect(lstatSync(join(app, 'node_modules', packageName)).isSymbolicLink()).toBe(true);
    const appCore = realpathSync(join(app, 'node_modules/@store/core'));
    const driverCore = realpathSync(join(driverDir, 'node_modules/@store/core'));
    expect(driverCore).not.toBe(appCore);
  });

  describe.each([
    ['ESM (import)', 'esm-app.mjs'],
    ['CommonJS (require)', 'cjs-app.cjs'],
  ])('%s app with fast:file, slow:file and the driver', (_kind, script) => {
    let checks: Record<string, true | string>;
    beforeAll(async () => {
      const dir = mkdtempSync(join(inject('scratch'), 'data-'));
      checks = await runApp(app, [script, dir, JSON.stringify(driver.describe)]);
    });
    test.each(driverChecks(driver))('%s', (name) => {
      expect(checks[name]).toBe(true);
    });
  });

  test('passes the contract suite of the installed @store/testkit', async () => {
    const report = join(inject('scratch'), `contract-${slug}.json`);
    await sh(
      driverDir,
      join(driverDir, 'node_modules/.bin/vitest'),
      ['run', '--reporter=json', `--outputFile=${report}`],
      outsideVitest(),
    ).catch((err: Error) => {
      throw new Error(`the driver's contract suite failed: ${err.message.slice(0, 4000)}`);
    });
    const result = JSON.parse(readFileSync(report, 'utf8')) as {
      numPassedTests: number;
      numFailedTests: number;
      numPendingTests: number;
    };
    expect(result.numFailedTests).toBe(0);
    expect(result.numPendingTests).toBe(0);
    expect(result.numPassedTests).toBeGreaterThan(10);
  });
});
