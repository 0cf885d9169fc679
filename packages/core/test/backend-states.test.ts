/**
 * One misconfigured backend never stops the others (glance_store's create_multi_stores):
 * a write-side failure leaves the backend reading with adding disabled, a driver that
 * refuses its configuration or an unknown type is disabled, and create fails only
 * when nothing is usable or the default backend is disabled.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  BadStoreConfiguration,
  BadStoreUri,
  Capability,
  configureWrites,
  type Driver,
  defineDriver,
  type Logger,
  MultiStore,
  NotFound,
  type StoreLocation,
} from '../src/index.js';

/**
 * A driver kept in the test to exercise the manager: `preset` holds readable
 * objects; `write_side` = 'bad' fails the write-side configuration, `read_side`
 * = 'bad' fails the whole configuration.
 */
function presetDriver(preset: Record<string, string>) {
  return defineDriver({
    type: 'preset',
    schemes: ['preset'],
    capabilities: Capability.RW_RANDOM | Capability.DRIVER_REUSABLE,
    options: [
      { name: 'read_side', type: 'string', help: 'bad: refuse the whole configuration' },
      { name: 'write_side', type: 'string', help: 'bad: refuse the write side' },
      { name: 'preset_secret', type: 'string', secret: true, help: 'A secret.' },
    ],
    create: async (context) => {
      if (context.options.read_side === 'bad')
        throw new BadStoreConfiguration(`Backend '${context.backendId}': read side refused`);
      await configureWrites(context, () => {
        if (context.options.write_side === 'bad')
          throw new BadStoreConfiguration(
            `Backend '${context.backendId}': write side refused (secret ${context.options.preset_secret})`,
          );
      });
      const parse = (uri: string): StoreLocation => {
        if (!uri.startsWith('preset://')) throw new BadStoreUri(uri);
        return { scheme: 'preset', uri };
      };
      const body = (location: StoreLocation) => {
        const found = preset[location.uri.slice('preset://'.length)];
        if (found === undefined) throw new NotFound(location.uri);
        return Buffer.from(found);
      };
      const driver: Driver = {
        parseLocation: parse,
        add: async () => {
          throw new Error('add must not be reached');
        },
        get: async (location) => ({
          stream: Readable.from([body(location)]),
          size: body(location).byteLength,
        }),
        getSize: async (location) => body(location).byteLength,
        delete: async () => undefined,
      };
      return driver;
    },
  });
}

function warnings() {
  const lines: string[] = [];
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    error: () => {},
    warn: (message) => lines.push(message),
  };
  return { logger, lines };
}

describe('a misconfigured backend', () => {
  const drivers = [presetDriver({ img: 'abc' })];

  it('keeps reading with adding disabled when its write side fails, and says why', async () => {
    const { logger, lines } = warnings();
    const store = await MultiStore.create(
      {
        enabledBackends: { ro: 'preset', ok: 'preset' },
        defaultBackend: 'ro',
        backends: { ro: { write_side: 'bad', preset_secret: 'hush-123' }, ok: {} },
      },
      { drivers, logger },
    );
    expect(store.backendStates).toEqual([
      {
        id: 'ro',
        type: 'preset',
        state: 'add-disabled',
        reason: "Backend 'ro': write side refused (secret ***)",
      },
      { id: 'ok', type: 'preset', state: 'enabled' },
    ]);
    expect(store.backend('ro').capabilityNames).not.toContain('WRITE_ACCESS');
    expect(store.backend('ro').addDisabledReason).toContain('write side refused');
    expect(store.backend('ok').addDisabledReason).toBeUndefined();
    expect(lines.join('\n')).toContain("Backend 'ro': adding images is disabled");
    expect(lines.join('\n')).not.toContain('hush-123');
    // Reads still work; add is refused naming the reason.
    expect(await store.getSize('preset://img', { backend: 'ro' })).toBe(3);
    await expect(store.add('x', Buffer.from('a'), 1)).rejects.toMatchObject({
      code: 'StoreAddDisabled',
      message:
        "Backend 'ro' does not allow adding images: Backend 'ro': write side refused (secret ***)",
    });
    expect(() => store.verifyDefault()).not.toThrow();
    await store.close();
  });

  it('is disabled when its driver refuses the configuration or its type is unknown', async () => {
    const { logger, lines } = warnings();
    const store = await MultiStore.create(
      {
        enabledBackends: { ok: 'preset', bad: 'preset', odd: 'nosuch' },
        defaultBackend: 'ok',
        backends: { ok: {}, bad: { read_side: 'bad' } },
      },
      { drivers, logger },
    );
    expect(store.backends.map((b) => b.id)).toEqual(['ok']);
    expect(store.backendStates).toEqual([
      { id: 'ok', type: 'preset', state: 'enabled' },
      { id: 'bad', type: 'preset', state: 'disabled', reason: "Backend 'bad': read side refused" },
      {
        id: 'odd',
        type: 'nosuch',
        state: 'disabled',
        reason: expect.stringContaining('install a package that provides it (e.g. @store/nosuch)'),
      },
    ]);
    expect(lines.some((l) => l.startsWith("Backend 'odd' is disabled: unknown backend type"))).toBe(
      true,
    );
    await expect(store.getSize('preset://img', { backend: 'bad' })).rejects.toMatchObject({
      code: 'UnknownScheme',
      message: expect.stringContaining('is disabled: '),
    });
    expect(await store.getSize('preset://img')).toBe(3);
    await store.close();
  });

  it('fails create only when nothing is usable or the default backend is disabled', async () => {
    await expect(
      MultiStore.create(
        {
          enabledBackends: { a: 'nosuch', b: 'preset' },
          backends: { b: { read_side: 'bad' } },
        },
        { drivers },
      ),
    ).rejects.toMatchObject({
      code: 'BadStoreConfiguration',
      message: expect.stringMatching(/^No backend is usable: 'a' \(unknown backend type .*'b' \(/),
    });
    await expect(
      MultiStore.create(
        {
          enabledBackends: { a: 'preset', b: 'preset' },
          defaultBackend: 'b',
          backends: { b: { read_side: 'bad' } },
        },
        { drivers },
      ),
    ).rejects.toThrow("The default backend 'b' is disabled: 'b' (Backend 'b': read side refused)");
    // Without a default, one usable backend is enough.
    const store = await MultiStore.create(
      { enabledBackends: { a: 'preset', b: 'nosuch' }, backends: {} },
      { drivers },
    );
    expect(store.backendStates.map((s) => s.state)).toEqual(['enabled', 'disabled']);
    await store.close();
  });
});
