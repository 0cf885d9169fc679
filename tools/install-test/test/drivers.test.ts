/**
 * @store/core and the five network drivers (http, s3, azure, swift, rbd) installed from their
 * tarballs with plain npm into one app outside the repository, as a user installs them: rbd's
 * native binding compiled by its install script there, every driver discovered from
 * package.json, each backend used against the services of tools/services from an ESM and a
 * CommonJS script (errors typed by the core the app imported), and a tsc --strict check of
 * every driver's public types. Credentials reach the app through its environment only.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, test } from 'vitest';
// testkit's vitest-free subpath, from its build (tools/test builds every package first;
// tools/install-test is no workspace package, so the name @store/testkit does not resolve here).
import { serviceEnv } from '../../../packages/testkit/dist/services.js';
import { npmApp, runAppOutput, sh, tarballSpecs, typescriptDevDependencies } from './apps.js';

const PACKAGES = [
  '@store/core',
  '@store/http',
  '@store/s3',
  '@store/azure',
  '@store/swift',
  '@store/rbd',
];

// Each throws when STORE_REQUIRE_SERVICES=1 and its variables are missing; otherwise it prints
// why the service tests are skipped.
const services = [
  serviceEnv('ceph radosgw (S3)', [
    'STORE_TEST_S3_ENDPOINT',
    'STORE_TEST_S3_ACCESS_KEY',
    'STORE_TEST_S3_SECRET_KEY',
  ] as const),
  serviceEnv('ceph radosgw (Swift)', [
    'STORE_TEST_SWIFT_AUTH_URL',
    'STORE_TEST_SWIFT_USER',
    'STORE_TEST_SWIFT_KEY',
  ] as const),
  serviceEnv('Azurite (Azure Blob emulator)', [
    'STORE_TEST_AZURE_CONNECTION_STRING',
    'STORE_TEST_AZURE_KEY',
  ] as const),
  serviceEnv('ceph (rbd)', [
    'STORE_TEST_CEPH_CONF',
    'STORE_TEST_CEPH_KEYRING',
    'STORE_TEST_CEPH_USER',
    'STORE_TEST_RBD_POOL',
  ] as const),
];
/** The services' variables, handed to the apps through their environment; undefined: skip. */
const env: Record<string, string> | undefined = services.every(Boolean)
  ? Object.assign({}, ...services)
  : undefined;

/** The checks fixtures/drivers-app/scenario.cjs makes, whichever way core was loaded. */
const SCENARIO_CHECKS = [
  'every driver discovered and its backend enabled',
  ...['s3', 'swift', 'azure', 'rbd'].flatMap((backend) => [
    `${backend}: add, get, getSize (same bytes, md5 and multihash)`,
    `${backend}: delete, then get of the deleted image: err instanceof NotFound`,
  ]),
  ...['s3', 'swift', 'azure'].map(
    (type) =>
      `${type}-wrong-secret: add refused: err instanceof Forbidden, the secret nowhere in it`,
  ),
  'web (http): get and getSize of an image a local server serves',
  'web (http): get of a URL the server does not have: err instanceof NotFound',
  'web (http): add is refused: err instanceof StoreAddDisabled',
];

/** The credentials of the services: the access and secret keys, and the cephx keys. */
function credentials(vars: Record<string, string>): Map<string, string> {
  const secrets = new Map<string, string>();
  for (const name of [
    'STORE_TEST_S3_ACCESS_KEY',
    'STORE_TEST_S3_SECRET_KEY',
    'STORE_TEST_SWIFT_KEY',
    'STORE_TEST_AZURE_KEY',
  ]) {
    if (vars[name]) secrets.set(name, vars[name]);
  }
  const keyring = readFileSync(vars.STORE_TEST_CEPH_KEYRING!, 'utf8');
  for (const [, key] of keyring.matchAll(/^\s*key\s*=\s*(\S+)/gm))
    secrets.set(`cephx key in ${vars.STORE_TEST_CEPH_KEYRING}`, key!);
  return secrets;
}

describe('an app depending on @store/core and every network driver', () => {
  let app: string;
  beforeAll(async () => {
    // One npm install for everything below: the drivers' SDKs, rbd's compile, TypeScript.
    app = await npmApp(
      'drivers-app',
      {
        dependencies: tarballSpecs(PACKAGES),
        devDependencies: typescriptDevDependencies(),
      },
      [
        'drivers-app/scenario.cjs',
        'shared/checks.cjs',
        'drivers-app/esm-app.mjs',
        'drivers-app/cjs-app.cjs',
        'drivers-app/tsconfig.json',
        'drivers-app/types.mts',
        'drivers-app/types.cts',
      ],
    );
  });

  test('every driver type-checks against its shipped declarations with tsc --strict (ESM and CommonJS)', async () => {
    // tsc exits non-zero on any error, an unused @ts-expect-error included; sh() then throws
    // with tsc's output.
    const { stdout } = await sh(app, join(app, 'node_modules/.bin/tsc'), ['-p', '.']);
    expect(stdout).toBe('');
  });

  test("rbd's tarball carries no binary built elsewhere (its install script compiles one)", () => {
    const packed = execFileSync('tar', ['-tzf', inject('tarballs')['@store/rbd']!]).toString();
    expect(packed.split('\n').filter((entry) => entry.includes('/build/'))).toEqual([]);
  });

  describe.skipIf(!env)('against the services of tools/services', () => {
    test("rbd's install script compiled its native binding in the app", () => {
      // node-gyp's Makefile is not in the tarball: it exists only if the binding was built here.
      const rbd = join(app, 'node_modules/@store/rbd');
      expect(existsSync(join(rbd, 'build/Makefile'))).toBe(true);
      expect(existsSync(join(rbd, 'build/Release/rbd.node'))).toBe(true);
    });

    describe.each([
      ['ESM (import)', 'esm-app.mjs'],
      ['CommonJS (require)', 'cjs-app.cjs'],
    ])('%s app with s3, swift, azure, rbd and http backends', (_kind, script) => {
      let checks: Record<string, true | string>;
      let errors: string[];
      let output: string;
      beforeAll(async () => {
        const ran = await runAppOutput<{ checks: Record<string, true | string>; errors: string[] }>(
          app,
          [script],
          env,
        );
        ({ checks, errors } = ran.result);
        output = ran.stdout + ran.stderr;
      });
      test.each(SCENARIO_CHECKS)('%s', (name) => {
        expect(checks[name]).toBe(true);
      });
      test('no credential in anything the app printed, its error messages included', () => {
        expect(errors.length).toBeGreaterThanOrEqual(5);
        const leaked = [...credentials(env!)]
          .filter(([, value]) => value.length >= 8 && output.includes(value))
          .map(([name]) => name);
        expect(leaked).toEqual([]);
      });
    });
  });
});
