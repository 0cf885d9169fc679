/** Without its native binding the driver is disabled with an install hint; other backends work. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DriverLoadFailure, type LogFields, MultiStore } from '@store/core';
// A real second driver, from the workspace build (not a dependency of this package).
import fileDriver from '@store/file';
import { collect } from '@store/testkit';
import { expect, it } from 'vitest';
import { createRbdDefinition, INSTALL_HINT, loadBinding } from '../src/index.js';

it('loads as disabled, saying what to install, and leaves the file backend working', async () => {
  const missing = loadBinding('/nonexistent/build/Release/rbd.node');
  expect(missing.ok).toBe(false);
  const root = await mkdtemp(join(tmpdir(), 'store-rbd-disabled-'));
  const warnings: string[] = [];
  const logger = {
    debug: () => {},
    info: () => {},
    error: () => {},
    warn: (message: string, _fields?: LogFields) => warnings.push(message),
  };
  try {
    const store = await MultiStore.create(
      {
        enabledBackends: { local: 'file', ceph: 'rbd' },
        defaultBackend: 'local',
        backends: { local: { filesystem_store_datadir: root }, ceph: {} },
      },
      { drivers: [fileDriver, createRbdDefinition(() => missing)], logger },
    );
    expect(store.backends.map((b) => b.id)).toEqual(['local']);
    const [disabled] = store.disabledBackends;
    expect(disabled).toMatchObject({ id: 'ceph', type: 'rbd' });
    expect(disabled!.reason).toContain('apt-get install librbd-dev librados-dev');
    expect(disabled!.reason).toContain(INSTALL_HINT);
    expect(warnings.some((w) => w.includes('librbd-dev'))).toBe(true);
    expect(store.drivers.status().find((s) => s.type === 'rbd')?.disabledReason).toContain(
      'librbd-dev',
    );
    const { location } = await store.add('img', new Uint8Array([1, 2, 3]), 3);
    expect([...(await collect((await store.get(location)).stream))]).toEqual([1, 2, 3]);
    await store.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

it('reports a failure to create as DriverLoadFailure', async () => {
  const definition = createRbdDefinition(() => ({ ok: false, reason: 'no binding' }));
  await expect(
    (async () =>
      definition.create({
        backendId: 'x',
        type: 'rbd',
        options: {},
        capabilities: undefined as never,
        logger: undefined as never,
        reserved: false,
      }))(),
  ).rejects.toBeInstanceOf(DriverLoadFailure);
});

it('builds without librbd-dev headers: the native step says what to install and succeeds', async () => {
  const script = join(__dirname, '..', 'scripts', 'build-native.mjs');
  const { stdout } = await promisify(execFile)(process.execPath, [script], {
    env: { ...process.env, STORE_RBD_INCLUDE_PATH: '/nonexistent/include' },
  });
  expect(stdout).toContain('rbd/librbd.h and rados/librados.h not found');
  expect(stdout).toContain('apt-get install librbd-dev librados-dev');
});
