/**
 * MultiStore.orphans and removeOrphan: the manager's side of the driver pair,
 * over the memory driver given a pair that lists what the test says (drivers'
 * real orphans are checked against their services by the testkit's contract).
 */
import { describe, expect, it } from 'vitest';
import {
  type Driver,
  type DriverContext,
  defineDriver,
  InUseByStore,
  MemoryDriver,
  MultiStore,
  memoryDriver,
  type Orphan,
  StoreError,
} from '../src/index.js';

const old: Orphan = {
  kind: 'test-leftover',
  id: 'old',
  where: 'memory/old',
  bytes: 3,
  since: new Date(Date.now() - 3_600_000),
};
const young: Orphan = {
  kind: 'test-leftover',
  id: 'young',
  where: 'memory/young',
  since: new Date(),
};

/** A memory driver whose backend "holds" the orphans in `held`. */
function collecting(held: Orphan[], failWith?: Error) {
  return defineDriver({
    ...memoryDriver,
    type: 'collecting',
    create: (context: DriverContext): Driver => {
      const driver = new MemoryDriver({ backendId: context.backendId, maxBytes: 0 });
      return Object.assign(driver, {
        async *listOrphans(request: { olderThan?: number }) {
          if (failWith) throw failWith;
          for (const orphan of held)
            if (Date.now() - orphan.since.getTime() >= (request.olderThan ?? 0)) yield orphan;
        },
        async removeOrphan(orphan: Orphan) {
          if (orphan.id === 'busy') throw new InUseByStore('being written');
          const at = held.findIndex((o) => o.id === orphan.id);
          if (at >= 0) held.splice(at, 1);
        },
      });
    },
  });
}

async function storeWith(held: Orphan[], failWith?: Error): Promise<MultiStore> {
  return MultiStore.create(
    { enabledBackends: { c: 'collecting', m: 'memory' }, defaultBackend: 'c', backends: {} },
    { drivers: [collecting(held, failWith), memoryDriver] },
  );
}

async function all(iterable: AsyncIterable<Orphan>): Promise<string[]> {
  const ids: string[] = [];
  for await (const orphan of iterable) ids.push(orphan.id);
  return ids;
}

describe('MultiStore orphans', () => {
  it('lists a backend’s orphans, older than asked, and removes one', async () => {
    const held = [old, young];
    const store = await storeWith(held);
    expect(store.collectsOrphans('c')).toBe(true);
    expect(await all(store.orphans('c'))).toEqual(['old', 'young']);
    expect(await all(store.orphans('c', { olderThan: 60_000 }))).toEqual(['old']);
    await store.removeOrphan('c', old);
    expect(await all(store.orphans('c'))).toEqual(['young']);
    await store.close();
  });

  it('lists nothing for a driver without the pair, and refuses to remove there', async () => {
    const store = await storeWith([]);
    expect(store.collectsOrphans('m')).toBe(false);
    expect(await all(store.orphans('m'))).toEqual([]);
    await expect(store.removeOrphan('m', old)).rejects.toMatchObject({ code: 'Invalid' });
    await store.close();
  });

  it('refuses unknown backends, bad ages and a closed manager with typed errors', async () => {
    const store = await storeWith([old]);
    expect(() => store.orphans('nope')).toThrow(expect.objectContaining({ code: 'UnknownScheme' }));
    for (const olderThan of [-1, Number.NaN, Number.POSITIVE_INFINITY])
      await expect(all(store.orphans('c', { olderThan }))).rejects.toMatchObject({
        code: 'Invalid',
      });
    await expect(
      store.removeOrphan('c', { kind: 'test-leftover', id: 'busy', where: 'x', since: new Date() }),
    ).rejects.toBeInstanceOf(InUseByStore);
    await store.close();
    expect(() => store.orphans('c')).toThrow(/closed/);
  });

  it('types a driver’s untyped listing failure', async () => {
    const store = await storeWith([], new Error('listing broke'));
    const failure = await all(store.orphans('c')).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(StoreError);
    expect((failure as StoreError).code).toBe('BackendException');
    await store.close();
  });
});
