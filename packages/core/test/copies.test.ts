/**
 * Two copies of core in one process (a CommonJS app's `require` gives dist/index.cjs
 * while drivers import dist/index.js; a driver linked from a folder resolves its own
 * copy): whatever one copy made, the other must recognise. These tests load the
 * built copies, so run `pnpm --filter @store/core build` first.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Core = typeof import('../src/index.js');

const coreDir = fileURLToPath(new URL('..', import.meta.url));
const fileDriverDir = fileURLToPath(new URL('../../file', import.meta.url));
const cjs = createRequire(import.meta.url)(join(coreDir, 'dist/index.cjs')) as Core;
let esm: Core;
let root: string;

beforeAll(async () => {
  esm = (await import(join(coreDir, 'dist/index.js'))) as Core;
  root = await mkdtemp(join(tmpdir(), 'store-copies-'));
  // An app with @store/file installed as a link, found by the ordinary discovery:
  // the driver's ESM build imports core's ESM copy.
  await mkdir(join(root, 'app', 'node_modules', '@store'), { recursive: true });
  await symlink(fileDriverDir, join(root, 'app', 'node_modules', '@store', 'file'));
  await writeFile(
    join(root, 'app', 'package.json'),
    JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { '@store/file': '*' } }),
  );
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('objects made by one copy of core are recognised by another', () => {
  it('errors: instanceof holds across copies, for the class and its ancestors only', () => {
    for (const [maker, checker] of [
      [esm, cjs],
      [cjs, esm],
    ] as const) {
      const notFound = new maker.NotFound('gone');
      expect(notFound instanceof checker.NotFound).toBe(true);
      expect(notFound instanceof checker.StoreError).toBe(true);
      expect(notFound instanceof Error).toBe(true);
      expect(notFound instanceof checker.Duplicate).toBe(false);
      expect(notFound instanceof checker.BackendException).toBe(false);
      expect(checker.isStoreError(notFound, 'NotFound')).toBe(true);
      expect(new maker.StoreError('base') instanceof checker.NotFound).toBe(false);
      expect(new maker.StoreError('base') instanceof checker.StoreError).toBe(true);
    }
  });

  it("errors: an app's subclass of a core error stays an instance of that error in the other copy", () => {
    class GoneForGood extends esm.NotFound {}
    const err = new GoneForGood('gone for good');
    expect(err instanceof cjs.NotFound).toBe(true);
    expect(err instanceof cjs.StoreError).toBe(true);
    expect(err instanceof GoneForGood).toBe(true);
    // A plain NotFound is not an instance of the app's subclass.
    expect(new cjs.NotFound('x') instanceof GoneForGood).toBe(false);
    expect(new esm.NotFound('x') instanceof GoneForGood).toBe(false);
  });

  it('errors: an unbranded object with a code is not a StoreError', () => {
    const impostor = Object.assign(new Error('not ours'), { code: 'NotFound' });
    for (const core of [esm, cjs]) {
      expect(impostor instanceof core.NotFound).toBe(false);
      expect(impostor instanceof core.StoreError).toBe(false);
      expect(core.isStoreError(impostor)).toBe(false);
      expect(({ code: 'NotFound' } as object) instanceof core.NotFound).toBe(false);
      expect((null as unknown as object) instanceof core.StoreError).toBe(false);
    }
  });

  it('driver definitions, capability sets and registries are recognised', async () => {
    const definition = esm.defineDriver({
      type: 'nothing',
      schemes: ['nothing'],
      capabilities: esm.Capability.READ_ACCESS,
      options: [],
      create: () => {
        throw new esm.DriverLoadFailure('nothing to create');
      },
    });
    expect(cjs.isDriverDefinition(definition)).toBe(true);
    expect(cjs.defineDriver(definition)).toBe(definition);
    expect(new esm.CapabilitySet(9) instanceof cjs.CapabilitySet).toBe(true);
    expect(new cjs.CapabilitySet(9) instanceof esm.CapabilitySet).toBe(true);
    expect({ mask: 9 } instanceof cjs.CapabilitySet).toBe(false);

    // A registry built by one copy, handed to the other copy's MultiStore.
    const registry = new esm.DriverRegistry().register(definition);
    expect(registry instanceof cjs.DriverRegistry).toBe(true);
    // The other copy's DriverLoadFailure is recognised: the backend is disabled, and with
    // nothing else usable create fails saying so (not with the driver's raw error).
    await expect(
      cjs.MultiStore.create(
        { enabledBackends: { a: 'nothing' }, backends: {} },
        { drivers: registry },
      ),
    ).rejects.toMatchObject({
      code: 'BadStoreConfiguration',
      message: "No backend is usable: 'a' (nothing to create)",
    });
  });
});

describe('a MultiStore from the CommonJS copy with drivers discovered from their ESM builds', () => {
  it('finds an image in the second file backend through get, getSize and delete, and surfaces NotFound typed', async () => {
    const fast = join(root, 'fast');
    const slow = join(root, 'slow');
    const store = await cjs.MultiStore.create(
      {
        enabledBackends: { fast: 'file', slow: 'file' },
        defaultBackend: 'fast',
        backends: {
          fast: { filesystem_store_datadir: fast },
          slow: { filesystem_store_datadir: slow },
        },
      },
      { discovery: { from: join(root, 'app') } },
    );
    try {
      const { location } = await store.add('img-1', Buffer.from('in the slow one'), 15, {
        backend: 'slow',
      });
      expect(location).toBe(`file://${slow}/img-1`);
      // Same scheme in both backends: without a backend id, the manager must search both.
      expect(await store.getSize(location)).toBe(15);
      const { stream } = await store.get(location);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).toString()).toBe('in the slow one');
      await store.delete(location);

      const missing = await store.getSize(location).catch((err: unknown) => err);
      expect(missing).toBeInstanceOf(cjs.NotFound);
      expect(missing).toBeInstanceOf(esm.NotFound);
      // The driver's own NotFound, with a backend named: not turned into BackendException.
      const direct = await store.getSize(location, { backend: 'slow' }).catch((err) => err);
      expect(direct).toBeInstanceOf(cjs.NotFound);
    } finally {
      await store.close();
    }
  });
});
