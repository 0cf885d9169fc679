/**
 * What the memory driver promises beyond the contract suite (which it runs from
 * packages/testkit/test/memory-driver.test.ts, testkit depending on core): the byte
 * limit, copies in and out, atomic adds, one namespace per backend.
 */
import { describe, expect, it } from 'vitest';
import { MemoryDriver, MultiStore, memoryDriver, parseMemoryLocation } from '../src/index.js';

const signal = new AbortController().signal;

async function memoryStore(options: Record<string, unknown> = {}) {
  const store = await MultiStore.create(
    {
      enabledBackends: { m: 'memory', n: 'memory' },
      defaultBackend: 'm',
      backends: { m: options },
    },
    { drivers: [memoryDriver] },
  );
  return { store, driver: store.driverOf('m') as MemoryDriver };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'no error';
}

describe('memory driver', () => {
  it('refuses an add past memory_store_max_bytes with StorageFull, keeping nothing of it', async () => {
    const { store, driver } = await memoryStore({ memory_store_max_bytes: '1000' });
    await store.add('a', Buffer.alloc(600, 1), 600);
    // Declared size: refused before a byte is read.
    let pulled = 0;
    async function* counted() {
      pulled++;
      yield Buffer.alloc(500);
    }
    expect(await codeOf(store.add('b', counted(), 500))).toBe('StorageFull');
    expect(pulled).toBe(0);
    // Unknown size: refused when the bytes pass the limit.
    const chunks = [Buffer.alloc(300), Buffer.alloc(300)];
    const err = await store.add('c', chunks, 0).catch((e) => e);
    expect(err.code).toBe('StorageFull');
    expect(err.message).toContain('memory_store_max_bytes is 1000');
    expect(driver.imageIds()).toEqual(['a']);
    expect(driver.bytesUsed).toBe(600);
    // What is freed can be used again.
    await store.delete('memory://m/a');
    await store.add('c', chunks, 0);
    expect(driver.bytesUsed).toBe(600);
  });

  it('copies chunks in and out: neither the writer nor a reader can change a stored image', async () => {
    const { store } = await memoryStore();
    const body = Buffer.from('original bytes');
    const { location } = await store.add('img', body, body.byteLength);
    body.fill(0);
    const first = await store.get(location);
    const chunks = (await first.stream.toArray()) as Buffer[];
    expect(Buffer.concat(chunks).toString()).toBe('original bytes');
    for (const chunk of chunks) chunk.fill(0);
    const again = await store.get(location);
    expect(Buffer.concat(await again.stream.toArray()).toString()).toBe('original bytes');
  });

  it('shows an image only once its add has completed; an aborted add leaves nothing', async () => {
    const { store, driver } = await memoryStore({ memory_store_max_bytes: '10000' });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    async function* slow() {
      yield Buffer.alloc(100, 1);
      await gate;
      yield Buffer.alloc(100, 2);
    }
    const adding = store.add('slow', slow(), 200);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await codeOf(store.getSize('memory://m/slow'))).toBe('NotFound');
    expect(driver.imageIds()).toEqual([]);
    release();
    await adding;
    expect(await store.getSize('memory://m/slow')).toBe(200);

    const controller = new AbortController();
    async function* stalls() {
      yield Buffer.alloc(100);
      controller.abort();
      yield Buffer.alloc(100);
    }
    expect(await codeOf(store.add('aborted', stalls(), 0, { signal: controller.signal }))).toBe(
      'OperationAborted',
    );
    expect(driver.imageIds()).toEqual(['slow']);
    expect(driver.bytesUsed).toBe(200);
  });

  it('refuses a second add of an id that completes while the first is in progress (Duplicate)', async () => {
    const { store } = await memoryStore();
    const driver = store.driverOf('m');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    async function* slow() {
      await gate;
      yield Buffer.from('late');
    }
    const first = driver.add!({ imageId: 'x', data: slow(), size: 4, signal });
    await store.add('x', Buffer.from('early'), 5);
    release();
    expect(await codeOf(first)).toBe('Duplicate');
    expect(Buffer.concat(await (await store.get('memory://m/x')).stream.toArray()).toString()).toBe(
      'early',
    );
  });

  it('keeps one namespace per backend, and each backend owns its own locations', async () => {
    const { store } = await memoryStore();
    const a = await store.add('same', Buffer.from('in m'), 4, { backend: 'm' });
    const b = await store.add('same', Buffer.from('in n!'), 5, { backend: 'n' });
    expect([a.location, b.location]).toEqual(['memory://m/same', 'memory://n/same']);
    expect(store.backendsFor(b.location)).toEqual(['n']);
    expect(await store.getSize(b.location)).toBe(5);
    expect(await codeOf(store.getSize(b.location, { backend: 'm' }))).toBe('NotFound');
  });

  it('carries any valid image id in its location, and refuses others', async () => {
    const { store } = await memoryStore();
    const id = 'a b?c#d%e';
    const { location } = await store.add(id, Buffer.from('x'), 1);
    expect(location).toBe('memory://m/a%20b%3Fc%23d%25e');
    expect(parseMemoryLocation(location).imageId).toBe(id);
    for (const bad of [
      'memory://m',
      'memory://m/a/b',
      'memory://m/%2E%2E',
      'memory://m/%E0%A4%A',
    ]) {
      expect(() => parseMemoryLocation(bad), bad).toThrow(/memory location/);
    }
    const driver = new MemoryDriver({ backendId: 'direct' });
    expect(
      await codeOf(
        driver.add({ imageId: '../x', data: (async function* () {})(), size: 0, signal }),
      ),
    ).toBe('Invalid');
  });
});
