import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  Capability,
  memoryDriver as coreMemoryDriver,
  type Driver,
  type DriverDefinition,
  DriverLoadFailure,
  defineDriver,
  type Logger,
  MemoryDriver,
  type MemoryLocation,
  MultiStore,
} from '../src/index.js';

/**
 * Core's memory driver under another definition, with the hooks these tests need
 * (another type, capabilities or options, metadata, an add failing with a secret).
 * Every instance the manager creates shares one MemoryDriver, so a driver that is
 * not DRIVER_REUSABLE (created for each use) still finds what was added.
 */
function memoryDriver(
  overrides: Partial<DriverDefinition> & {
    onCreate?: () => void;
    metadata?: Record<string, unknown>;
    secretInErrors?: boolean;
  } = {},
) {
  let instances = 0;
  let memory: MemoryDriver | undefined;
  const definition = defineDriver({
    ...coreMemoryDriver,
    type: overrides.type ?? 'memory',
    schemes: overrides.schemes ?? coreMemoryDriver.schemes,
    capabilities: overrides.capabilities ?? coreMemoryDriver.capabilities,
    options: overrides.options ?? [
      ...coreMemoryDriver.options,
      { name: 'memory_password', type: 'string', secret: true, help: 'A secret.' },
    ],
    create: (context) => {
      instances++;
      overrides.onCreate?.();
      memory ??= new MemoryDriver({ backendId: context.backendId });
      const shared = memory;
      const driver: Driver<MemoryLocation> = {
        parseLocation: (uri) => shared.parseLocation(uri),
        owns: (location) => shared.owns(location),
        async add(request) {
          if (overrides.secretInErrors)
            throw new Error(`backend refused password ${context.options.memory_password}`);
          const added = await shared.add(request);
          return overrides.metadata ? { ...added, metadata: overrides.metadata } : added;
        },
        get: (location, request) => shared.get(location, request),
        getSize: (location, request) => shared.getSize(location, request),
        delete: (location, request) => shared.delete(location, request),
      };
      return driver;
    },
  });
  /** Ids of the images the backend holds. */
  const held = () => memory?.imageIds() ?? [];
  return { definition, held, instances: () => instances };
}

const config = (type = 'memory', options: Record<string, unknown> = {}) => ({
  enabledBackends: { m: type },
  defaultBackend: 'm',
  backends: { m: options },
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'no error';
}

function recordingLogger() {
  const lines: string[] = [];
  const log = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  const logger: Logger = {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
  };
  return { logger, lines };
}

describe('MultiStore', () => {
  it('adds with md5 + multihash, accepting buffers, iterables and Readables', async () => {
    const { definition } = memoryDriver();
    const store = await MultiStore.create(config(), { drivers: [definition] });
    const body = Buffer.from('hello image');
    const md5 = createHash('md5').update(body).digest('hex');
    for (const [i, data] of [
      body,
      [body.subarray(0, 3), body.subarray(3)],
      Readable.from([body]),
    ].entries()) {
      const added = await store.add(`img-${i}`, data as never, body.byteLength, {
        hashingAlgo: 'sha3_256',
      });
      expect(added).toMatchObject({
        location: `memory://m/img-${i}`,
        size: 11,
        checksum: md5,
        hashingAlgo: 'sha3-256',
        metadata: { store: 'm' },
      });
      expect(added.multihash).toBe(createHash('sha3-256').update(body).digest('hex'));
    }
    await store.close();
  });

  it('hashes large and unknown-size images in worker threads with the same results', async () => {
    const { definition } = memoryDriver();
    const store = await MultiStore.create(config(), { drivers: [definition] });
    const body = Buffer.alloc(9 * 1024 * 1024 + 5, 7);
    body.write('distinct', 12345);
    const chunks = Array.from({ length: 20 }, (_, i) =>
      body.subarray(i * 500_000, (i + 1) * 500_000),
    ).filter((c) => c.byteLength);
    const added = await store.add('big', chunks, 0, { hashingAlgo: 'sha512' });
    expect(added.checksum).toBe(createHash('md5').update(body).digest('hex'));
    expect(added.multihash).toBe(createHash('sha512').update(body).digest('hex'));
    const md5only = await store.add('big-md5', chunks, body.byteLength, { hashingAlgo: 'md5' });
    expect(md5only.multihash).toBe(md5only.checksum);
    await store.close();
  });

  it('raises UnknownHashingAlgo before the driver sees a byte', async () => {
    let created = 0;
    const { definition, held } = memoryDriver({ onCreate: () => created++ });
    const store = await MultiStore.create(config(), { drivers: [definition] });
    expect(
      await codeOf(store.add('x', Buffer.from('a'), 1, { hashingAlgo: 'whirlpool-9000' })),
    ).toBe('UnknownHashingAlgo');
    expect(held()).toEqual([]);
  });

  it('enforces declared size, size cap, and feeds the verifier and progress', async () => {
    const { definition, held } = memoryDriver();
    const store = await MultiStore.create(config(), { drivers: [definition], imageSizeCap: 10 });
    expect(await codeOf(store.add('short', Buffer.from('abc'), 4))).toBe('ImageSizeMismatch');
    expect(await codeOf(store.add('long', Buffer.from('abcde'), 4))).toBe('ImageSizeMismatch');
    expect(await codeOf(store.add('capped', Buffer.alloc(11), 0))).toBe('ImageSizeLimitExceeded');
    expect(held()).toEqual([]);
    const seen: number[] = [];
    const progress: number[] = [];
    await store.add('ok', [Buffer.from('ab'), Buffer.from('cd')], 4, {
      verifier: { update: (c) => seen.push(c.byteLength) },
      onProgress: (n) => progress.push(n),
    });
    // Small chunks reach the verifier, the progress and the driver gathered in blocks.
    expect(seen).toEqual([4]);
    expect(progress).toEqual([4]);
    expect(await codeOf(store.add('neg', Buffer.from('a'), -1))).toBe('Invalid');
    expect(await codeOf(store.add('', Buffer.from('a'), 1))).toBe('Invalid');
  });

  it('enforces capabilities with typed errors, and sees run-time changes', async () => {
    let caps: import('../src/index.js').CapabilitySet | undefined;
    const { definition } = memoryDriver({
      capabilities: Capability.READ_ACCESS | Capability.DRIVER_REUSABLE,
    });
    const wrapped = defineDriver({
      ...definition,
      create: (ctx) => {
        caps = ctx.capabilities;
        return definition.create(ctx);
      },
    });
    const store = await MultiStore.create(config(), { drivers: [wrapped] });
    expect(await codeOf(store.add('x', Buffer.from('a'), 1))).toBe('StoreAddDisabled');
    expect(await codeOf(store.delete('memory://m/x'))).toBe('StoreDeleteNotSupported');
    expect(await codeOf(store.get('memory://m/x', { offset: 1 }))).toBe(
      'StoreRandomGetNotSupported',
    );
    expect(await codeOf(store.get('memory://m/x', { chunkSize: 1 }))).toBe(
      'StoreRandomGetNotSupported',
    );
    caps!.add(Capability.WRITE_ACCESS);
    expect(store.backend().capabilityNames).toEqual(['RW_ACCESS', 'DRIVER_REUSABLE']);
    await store.add('x', Buffer.from('a'), 1);
    caps!.remove(Capability.READ_ACCESS);
    expect(await codeOf(store.get('memory://m/x'))).toBe('StoreGetNotSupported');
  });

  it('re-creates a driver that is not DRIVER_REUSABLE for every use', async () => {
    const { definition, instances } = memoryDriver({ capabilities: Capability.RW_RANDOM });
    const store = await MultiStore.create(config(), { drivers: [definition] });
    expect(instances()).toBe(1);
    const { location } = await store.add('a', Buffer.from('x'), 1);
    await store.getSize(location);
    await (await store.get(location)).stream.toArray();
    expect(instances()).toBe(4);
  });

  it('checks driver metadata: only objects, arrays and strings', async () => {
    const good = memoryDriver({ metadata: { a: ['x', { b: 'y' }] } });
    const store = await MultiStore.create(config(), { drivers: [good.definition] });
    expect((await store.add('a', Buffer.from('x'), 1)).metadata).toEqual({
      a: ['x', { b: 'y' }],
      store: 'm',
    });
    const bad = memoryDriver({ metadata: { a: ['x', { n: 5 }] } });
    const badStore = await MultiStore.create(config(), { drivers: [bad.definition] });
    const err = await badStore.add('a', Buffer.from('x'), 1).catch((e) => e);
    expect(err.code).toBe('BackendException');
    expect(err.message).toContain("'a[1].n' has an invalid type of number");
    expect(bad.held()).toEqual([]);
  });

  it('masks secret option values in errors, causes and logs', async () => {
    const { definition } = memoryDriver({ secretInErrors: true });
    const { logger, lines } = recordingLogger();
    const store = await MultiStore.create(
      config('memory', { memory_password: 'pa55-word-xyz', bogus: '1' }),
      { drivers: [definition], logger },
    );
    const err = await store.add('a', Buffer.from('x'), 1).catch((e) => e);
    expect(err.code).toBe('BackendException');
    expect(err.message).toBe('backend refused password ***');
    expect(String(err.cause?.message)).not.toContain('pa55-word-xyz');
    expect(JSON.stringify(store.backends)).not.toContain('pa55-word-xyz');
    expect(lines.join('\n')).toContain("ignoring unknown option 'bogus'");
    expect(lines.join('\n')).not.toContain('pa55-word-xyz');
  });

  it('refuses bad configuration with BadStoreConfiguration naming backend and option', async () => {
    const { definition } = memoryDriver({
      options: [{ name: 'memory_size', type: 'int', min: 1, help: 'x' }],
    });
    const create = (c: Parameters<typeof MultiStore.create>[0]) =>
      MultiStore.create(c, { drivers: [definition] });
    await expect(create(config('memory', { memory_size: '0' }))).rejects.toThrow(
      "Backend 'm': option 'memory_size' must be >= 1, got 0",
    );
    await expect(create(config('nosuch'))).rejects.toMatchObject({
      code: 'BadStoreConfiguration',
      message: expect.stringContaining("unknown backend type 'nosuch'"),
    });
    await expect(
      create({ enabledBackends: { m: 'memory' }, defaultBackend: 'x', backends: {} }),
    ).rejects.toThrow("default_backend 'x'");
    await expect(create({ enabledBackends: {}, backends: {} })).rejects.toThrow(
      'No backends are enabled',
    );
  });

  it('disables a backend whose driver cannot load, keeping the others', async () => {
    const ok = memoryDriver();
    const broken = defineDriver({
      ...memoryDriver({ type: 'broken', schemes: ['brk'] }).definition,
      create: () => {
        throw new DriverLoadFailure('librbroken is not installed: apt-get install librbroken-dev');
      },
    });
    const { logger, lines } = recordingLogger();
    const store = await MultiStore.create(
      { enabledBackends: { m: 'memory', b: 'broken' }, defaultBackend: 'm', backends: {} },
      { drivers: [ok.definition, broken], logger },
    );
    expect(store.backends.map((b) => b.id)).toEqual(['m']);
    expect(store.disabledBackends).toEqual([
      {
        id: 'b',
        type: 'broken',
        reason: 'librbroken is not installed: apt-get install librbroken-dev',
      },
    ]);
    expect(lines.some((l) => l.startsWith("warn Backend 'b' is disabled"))).toBe(true);
    const err = await store.add('x', Buffer.from('a'), 1, { backend: 'b' }).catch((e) => e);
    expect(err.message).toContain('is disabled: librbroken is not installed');
    expect(store.drivers.status().find((s) => s.type === 'broken')?.disabledReason).toContain(
      'librbroken',
    );
  });

  it('searches backends by scheme without a backend id, as glance_store does', async () => {
    const a = memoryDriver();
    const b = memoryDriver();
    const bDef = defineDriver({ ...b.definition, type: 'memory2' });
    const store = await MultiStore.create(
      { enabledBackends: { a: 'memory', b: 'memory2' }, defaultBackend: 'a', backends: {} },
      { drivers: [a.definition, bDef] },
    );
    const { location } = await store.add('only-in-b', Buffer.from('xyz'), 3, { backend: 'b' });
    expect(await (await store.get(location)).stream.toArray()).toEqual([Buffer.from('xyz')]);
    expect(await store.getSize(location)).toBe(3);
    await store.delete(location);
    expect(await codeOf(store.get(location))).toBe('NotFound');
    expect(store.knownSchemes()).toEqual(['memory']);
    expect(await codeOf(store.get('memory:/bad'))).toBe('BadStoreUri');
  });

  it('verifies a multihash while reading when asked', async () => {
    const { definition } = memoryDriver();
    const store = await MultiStore.create(config(), { drivers: [definition] });
    const added = await store.add('v', Buffer.from('payload'), 7);
    const good = await store.get(added.location, { verify: { multihash: added.multihash } });
    expect(Buffer.concat(await good.stream.toArray()).toString()).toBe('payload');
    const bad = await store.get(added.location, { verify: { multihash: 'ff'.repeat(64) } });
    expect(await codeOf(bad.stream.toArray())).toBe('ChecksumMismatch');
    expect(await codeOf(store.get(added.location, { verify: { multihash: 'x' }, offset: 1 }))).toBe(
      'Invalid',
    );
  });

  it('refuses add and delete on a driver without them (StoreAddDisabled, StoreDeleteNotSupported), whatever it declares', async () => {
    const { definition } = memoryDriver();
    // Declares WRITE_ACCESS but has neither add nor delete, as a read-only driver (http) has not.
    const readOnly = defineDriver({
      ...definition,
      create: async (context) => {
        const driver = (await definition.create(context)) as Driver;
        return {
          parseLocation: (uri) => driver.parseLocation(uri),
          get: (location, request) => driver.get(location, request),
          getSize: (location, request) => driver.getSize(location, request),
        };
      },
    });
    const store = await MultiStore.create(config(), { drivers: [readOnly] });
    const added = await store.add('x', Buffer.from('a'), 1).catch((e) => e);
    expect(added.code).toBe('StoreAddDisabled');
    expect(added.message).toBe("Backend 'm' does not allow adding images: its driver has no add");
    expect(await codeOf(store.delete('memory://m/x'))).toBe('StoreDeleteNotSupported');
  });

  it('skips setAcls for drivers without it, with a debug log', async () => {
    const { definition } = memoryDriver();
    const { logger, lines } = recordingLogger();
    const store = await MultiStore.create(config(), { drivers: [definition], logger });
    const { location } = await store.add('acl', Buffer.from('a'), 1);
    await store.setAcls(location, { backend: 'm', public: true });
    expect(lines.some((l) => l.startsWith("debug Skipping setAcls: backend 'm'"))).toBe(true);
  });

  it('verifyDefault, backend() (and its deprecated alias store()) and close()', async () => {
    const { definition } = memoryDriver();
    const store = await MultiStore.create(
      { enabledBackends: { m: 'memory' }, backends: {} },
      { drivers: [definition] },
    );
    expect(() => store.verifyDefault()).toThrow("'default_backend' config option is not set");
    expect(() => store.backend('zzz')).toThrow('Store for identifier zzz not found');
    expect(store.store('m')).toEqual(store.backend('m'));
    expect(await codeOf(store.add('a', Buffer.from('a'), 1))).toBe('UnknownScheme');
    await store.close();
    await store.close();
    expect(await codeOf(store.getSize('memory://m/a'))).toBe('BackendException');
  });

  it('aborts an add whose source stalls when the signal fires', async () => {
    const { definition, held } = memoryDriver();
    const store = await MultiStore.create(config(), { drivers: [definition] });
    const controller = new AbortController();
    async function* stalls() {
      yield Buffer.from('first');
      await new Promise(() => {});
    }
    setTimeout(() => controller.abort(), 50);
    expect(await codeOf(store.add('stall', stalls(), 0, { signal: controller.signal }))).toBe(
      'OperationAborted',
    );
    expect(held()).toEqual([]);
  });
});

describe('MultiStore.copy', () => {
  async function twoBackends(targetOverrides: Parameters<typeof memoryDriver>[0] = {}) {
    const a = memoryDriver();
    const b = memoryDriver({ ...targetOverrides, type: 'memory2' });
    const store = await MultiStore.create(
      { enabledBackends: { a: 'memory', b: 'memory2' }, defaultBackend: 'a', backends: {} },
      { drivers: [a.definition, b.definition] },
    );
    return { store, a, b };
  }

  it('streams an image into another backend and returns the verified copy', async () => {
    const { store, b } = await twoBackends();
    const body = Buffer.from('copy me across backends');
    const added = await store.add('src', body, body.byteLength);
    const seen: number[] = [];
    const copy = await store.copy(added.location, {
      to: 'b',
      imageId: 'dst',
      expected: { checksum: added.checksum, multihash: added.multihash },
      onProgress: (n) => seen.push(n),
    });
    expect(copy).toMatchObject({
      backend: 'b',
      size: body.byteLength,
      checksum: added.checksum,
      multihash: added.multihash,
      metadata: { store: 'b' },
    });
    expect(Buffer.concat(await (await store.get(copy.location)).stream.toArray())).toEqual(body);
    expect(b.held()).toEqual(['dst']);
    expect(seen.at(-1)).toBe(body.byteLength);
    const fresh = await store.copy(added.location, { to: 'b', from: 'a' });
    expect(fresh.location).toMatch(/^memory:\/\/b\/[0-9a-f-]{36}$/);
  });

  it('leaves nothing in the target when the data does not match what was expected', async () => {
    const { store, b } = await twoBackends();
    const added = await store.add('src', Buffer.from('abc'), 3);
    expect(
      await codeOf(store.copy(added.location, { to: 'b', expected: { checksum: '0'.repeat(32) } })),
    ).toBe('ChecksumMismatch');
    expect(
      await codeOf(store.copy(added.location, { to: 'b', expected: { multihash: 'ab' } })),
    ).toBe('ChecksumMismatch');
    expect(b.held()).toEqual([]);
    expect(await codeOf(store.copy('memory://a/missing', { to: 'b' }))).toBe('NotFound');
    expect(await codeOf(store.copy(added.location, { to: 'nowhere' }))).toBe('UnknownScheme');
    expect(b.held()).toEqual([]);
  });

  it('reads the copy back and removes it when the target returns other bytes', async () => {
    const source = memoryDriver();
    const target = memoryDriver({ type: 'memory2' });
    // Fault injection: the target hands back other bytes than it was sent.
    const tainted = defineDriver({
      ...target.definition,
      create: async (context) => {
        const driver = (await target.definition.create(context)) as Driver;
        return {
          parseLocation: (uri) => driver.parseLocation(uri),
          add: (request) => driver.add!(request),
          getSize: (location, request) => driver.getSize(location, request),
          delete: (location, request) => driver.delete!(location, request),
          async get(location, request) {
            const got = await driver.get(location, request);
            return { stream: Readable.from([Buffer.from('tainted!')]), size: got?.size ?? 0 };
          },
        };
      },
    });
    const store = await MultiStore.create(
      { enabledBackends: { a: 'memory', b: 'memory2' }, defaultBackend: 'a', backends: {} },
      { drivers: [source.definition, tainted] },
    );
    const src = await store.add('src', Buffer.from('pristine'), 8);
    expect(await codeOf(store.copy(src.location, { to: 'b' }))).toBe('ChecksumMismatch');
    expect(target.held()).toEqual([]);
    // Without read-back the same target is trusted.
    const trusted = await store.copy(src.location, { to: 'b', readBack: false });
    expect(trusted.multihash).toBe(src.multihash);
    expect(target.held()).toHaveLength(1);
  });

  it('aborts a copy whose signal fires, leaving nothing in the target', async () => {
    const { store, b } = await twoBackends();
    const added = await store.add('src', Buffer.alloc(64 * 1024, 7), 64 * 1024);
    const controller = new AbortController();
    controller.abort();
    expect(await codeOf(store.copy(added.location, { to: 'b', signal: controller.signal }))).toBe(
      'OperationAborted',
    );
    const late = new AbortController();
    const copying = store.copy(added.location, {
      to: 'b',
      signal: late.signal,
      onProgress: () => late.abort(),
    });
    expect(await codeOf(copying)).toBe('OperationAborted');
    expect(b.held()).toEqual([]);
  });
});
