import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriverRegistry, discoverDrivers, type Logger, MultiStore } from '../src/index.js';

// A third-party driver package outside the workspace, with nothing but the
// package.json metadata to make it known: it keeps images as files in a directory.
const THIRD_PARTY_DRIVER = `
import { mkdir, readFile, writeFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
const notFound = (key) => Object.assign(new Error('missing ' + key), { code: 'ENOENT' });
export default {
  type: 'dirstore',
  schemes: ['dirstore'],
  capabilities: 1 | 8 | 64,
  options: [{ name: 'dirstore_root', type: 'string', required: true, help: 'Where images live.' }],
  async create({ options }) {
    const root = options.dirstore_root;
    await mkdir(root, { recursive: true });
    const parse = (uri) => ({ scheme: 'dirstore', uri, key: uri.slice('dirstore://'.length) });
    return {
      parseLocation: parse,
      async add({ imageId, data }) {
        const parts = [];
        for await (const c of data) parts.push(c);
        const body = Buffer.concat(parts);
        await writeFile(join(root, imageId), body, { flag: 'wx' });
        return { location: parse('dirstore://' + imageId), size: body.length, metadata: { driver: 'acme' } };
      },
      async get(loc) { const body = await readFile(join(root, loc.key)); return { stream: [body], size: body.length }; },
      async getSize(loc) { return (await stat(join(root, loc.key))).size; },
      async delete(loc) { await rm(join(root, loc.key)); },
    };
  },
};
`;

let root: string;
const warnings: string[] = [];
const logger: Logger = {
  debug() {},
  info() {},
  warn: (m, f) => warnings.push(`${m} ${JSON.stringify(f ?? {})}`),
  error() {},
};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'store-discovery-'));
  const pkg = async (name: string, manifest: object, files: Record<string, string>) => {
    const dir = join(root, 'app', 'node_modules', ...name.split('/'));
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'package.json'),
      JSON.stringify({ name, version: '1.2.3', type: 'module', ...manifest }),
    );
    for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  };
  await pkg(
    '@acme/store-dirstore',
    { store: { drivers: { dirstore: './driver.js' } } },
    { 'driver.js': THIRD_PARTY_DRIVER },
  );
  await pkg(
    'store-throws',
    { store: { drivers: { throws: './index.js' } } },
    { 'index.js': "throw new Error('boom at import');" },
  );
  await pkg(
    'store-not-a-driver',
    { store: { drivers: { nodef: './index.js' } } },
    { 'index.js': 'export default 42;' },
  );
  await pkg('unrelated', {}, { 'index.js': '' });
  await writeFile(
    join(root, 'app', 'package.json'),
    JSON.stringify({
      name: 'app',
      dependencies: { '@acme/store-dirstore': '*', 'store-throws': '*', unrelated: '*' },
      devDependencies: { 'store-not-a-driver': '*' },
    }),
  );
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('driver discovery from package.json metadata', () => {
  it("finds the drivers among the app's dependencies, resolved from a path inside the app", async () => {
    const found = await discoverDrivers({ from: join(root, 'app', 'src', 'deep') });
    expect(found.map((d) => [d.type, d.packageName, d.version])).toEqual([
      ['dirstore', '@acme/store-dirstore', '1.2.3'],
      ['throws', 'store-throws', '1.2.3'],
      ['nodef', 'store-not-a-driver', '1.2.3'],
    ]);
  });

  it('uses a third-party driver found only through its metadata', async () => {
    const images = join(root, 'images');
    const store = await MultiStore.create(
      {
        enabledBackends: { acme: 'dirstore' },
        defaultBackend: 'acme',
        backends: { acme: { dirstore_root: images } },
      },
      { discovery: { from: join(root, 'app') } },
    );
    const added = await store.add('img-1', Buffer.from('third party'), 11);
    expect(added.location).toBe('dirstore://img-1');
    expect(added.metadata).toEqual({ driver: 'acme', store: 'acme' });
    expect(await readFile(join(images, 'img-1'), 'utf8')).toBe('third party');
    expect(await store.getSize(added.location)).toBe(11);
    await store.close();
  });

  it('disables drivers that throw on import or export no definition, with a warning, and loads the rest', async () => {
    warnings.length = 0;
    const store = await MultiStore.create(
      {
        enabledBackends: { good: 'dirstore', bad: 'throws', worse: 'nodef' },
        defaultBackend: 'good',
        backends: { good: { dirstore_root: join(root, 'images2') } },
      },
      { discovery: { from: join(root, 'app') }, logger },
    );
    expect(store.backends.map((b) => b.id)).toEqual(['good']);
    expect(store.disabledBackends.map((d) => [d.id, d.reason])).toEqual([
      ['bad', expect.stringContaining('store-throws: boom at import')],
      ['worse', expect.stringContaining('has no driver definition')],
    ]);
    expect(warnings.some((w) => w.includes("Failed to load driver 'throws'"))).toBe(true);
    await store.close();
  });

  it('lets registered definitions take precedence and reports status', async () => {
    const registry = await DriverRegistry.discover({ from: join(root, 'app') });
    await registry.loadAll();
    expect(registry.status()).toEqual([
      { type: 'dirstore', source: '@acme/store-dirstore', version: '1.2.3' },
      {
        type: 'nodef',
        source: 'store-not-a-driver',
        version: '1.2.3',
        disabledReason: expect.stringContaining('no driver definition'),
      },
      {
        type: 'throws',
        source: 'store-throws',
        version: '1.2.3',
        disabledReason: expect.stringContaining('boom'),
      },
    ]);
    await expect(registry.load('absent')).rejects.toMatchObject({ code: 'UnsupportedBackend' });
  });
});
