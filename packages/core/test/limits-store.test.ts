/**
 * MultiStore's limits (issue 19, "Bounds") through the manager: adds and gets over
 * their limit wait in order, a waiter aborted leaves at once with OperationAborted,
 * a get's place goes back however its stream ends (read, destroyed unread, failed,
 * never opened), and on a real file backend no more adds run at once than allowed.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ChecksumMismatch,
  DEFAULT_ADD_BUFFER_BYTES,
  MultiStore,
  type MultiStoreOptions,
  memoryDriver,
  NotFound,
  OperationAborted,
} from '../src/index.js';
import { BLOCK_BYTES } from '../src/ingest.js';
import { HASH_BATCH_BYTES } from '../src/limits.js';
import { type TempFileStore, tempFileStore } from './file-store.js';

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Waits until `check` holds, turn by turn (no timers to tune). */
async function until(check: () => boolean, turns = 10_000): Promise<void> {
  for (let i = 0; i < turns && !check(); i++) await settle();
  expect(check()).toBe(true);
}

/**
 * An image source that yields `chunks` chunks of `chunkBytes`, pausing before
 * each until `open()` is called: lets a test hold an add in its driver. Counts
 * how many such sources are being consumed at once.
 */
function gatedSources() {
  let consuming = 0;
  let most = 0;
  const started: string[] = [];
  const gates: (() => void)[] = [];
  let opened = false;
  return {
    source(name: string, chunks = 2, chunkBytes = 1024): AsyncIterable<Uint8Array> {
      return (async function* () {
        started.push(name);
        consuming++;
        most = Math.max(most, consuming);
        try {
          for (let i = 0; i < chunks; i++) {
            if (!opened) await new Promise<void>((resolve) => gates.push(resolve));
            yield Buffer.alloc(chunkBytes, i);
          }
        } finally {
          consuming--;
        }
      })();
    },
    /** Lets every source run to its end from now on. */
    open() {
      opened = true;
      for (const gate of gates.splice(0)) gate();
    },
    get started() {
      return started;
    },
    get most() {
      return most;
    },
  };
}

async function memoryStore(options: MultiStoreOptions = {}): Promise<MultiStore> {
  return MultiStore.create(
    { enabledBackends: { mem: 'memory' }, defaultBackend: 'mem', backends: {} },
    { drivers: [memoryDriver], ...options },
  );
}

let store: MultiStore | undefined;
let fileStore: TempFileStore | undefined;
afterEach(async () => {
  await store?.close();
  await fileStore?.dispose();
  store = undefined;
  fileStore = undefined;
});

describe('MultiStore limits: adds', () => {
  it('adds over concurrentAdds wait and start in arrival order', async () => {
    store = await memoryStore({ limits: { concurrentAdds: 2 } });
    const sources = gatedSources();
    const names = ['a', 'b', 'c', 'd', 'e'];
    const adds = names.map((name) => store!.add(name, sources.source(name), 2048));
    await until(() => sources.started.length === 2);
    expect(store.stats().adds).toEqual({ inUse: 2, queued: 3, limit: 2 });
    sources.open();
    const results = await Promise.all(adds);
    expect(results.map((r) => r.size)).toEqual([2048, 2048, 2048, 2048, 2048]);
    expect(sources.started).toEqual(names);
    expect(sources.most).toBeLessThanOrEqual(2);
    expect(store.stats().adds).toEqual({ inUse: 0, queued: 0, limit: 2 });
    expect(store.stats().memory.inUse).toBe(0);
  });

  it('a queued add aborted fails at once with OperationAborted, its source untouched, nothing stored', async () => {
    store = await memoryStore({ limits: { concurrentAdds: 1 } });
    const sources = gatedSources();
    const first = store.add('first', sources.source('first'), 2048);
    await until(() => sources.started.length === 1);
    const controller = new AbortController();
    const queued = store.add('queued', sources.source('queued'), 2048, {
      signal: controller.signal,
    });
    await settle();
    expect(store.stats().adds.queued).toBe(1);
    controller.abort();
    await expect(queued).rejects.toBeInstanceOf(OperationAborted);
    expect(store.stats().adds).toEqual({ inUse: 1, queued: 0, limit: 1 });
    sources.open();
    await first;
    expect(sources.started).toEqual(['first']);
    await expect(store.getSize('memory://mem/queued')).rejects.toBeInstanceOf(NotFound);
  });

  it('an add that fails gives its place and memory back', async () => {
    store = await memoryStore({ limits: { concurrentAdds: 1, bufferMemory: 64 << 20 } });
    // Declared one byte longer than sent: ImageSizeMismatch.
    await expect(store.add('short', [Buffer.alloc(10)], 11)).rejects.toThrow();
    expect(store.stats().adds.inUse).toBe(0);
    expect(store.stats().memory.inUse).toBe(0);
    await store.add('next', [Buffer.alloc(10)], 10);
  });

  it("bufferMemory alone bounds adds: each reserves its driver's declared buffers", async () => {
    // Unknown size: hashed off the event loop, so the hash batches count too.
    const perAdd = BLOCK_BYTES + HASH_BATCH_BYTES + DEFAULT_ADD_BUFFER_BYTES;
    store = await memoryStore({ limits: { bufferMemory: 2 * perAdd } });
    const sources = gatedSources();
    // Unknown size (0): each add reserves its whole declared footprint.
    const adds = ['a', 'b', 'c'].map((name) => store!.add(name, sources.source(name), 0));
    await until(() => sources.started.length === 2);
    expect(store.stats().memory).toMatchObject({
      inUse: 2 * perAdd,
      queued: 1,
      queuedBytes: perAdd,
      limit: 2 * perAdd,
    });
    sources.open();
    await Promise.all(adds);
    expect(sources.most).toBe(2);
    expect(store.stats().memory.inUse).toBe(0);
  });
});

describe('MultiStore limits: gets', () => {
  async function stored(name: string, bytes = 4096): Promise<string> {
    return (await store!.add(name, [Buffer.alloc(bytes, 7)], bytes)).location;
  }

  it('a get holds its place until its stream is read to the end', async () => {
    store = await memoryStore({ limits: { concurrentGets: 1 } });
    const location = await stored('img');
    const first = await store.get(location);
    let second = false;
    const waiting = store.get(location).then((got) => {
      second = true;
      return got;
    });
    await settle();
    expect(second).toBe(false);
    expect(store.stats().gets).toEqual({ inUse: 1, queued: 1, limit: 1 });
    for await (const _ of first.stream) {
      // read to the end
    }
    const got = await waiting;
    got.stream.destroy();
    await until(() => store!.stats().gets.inUse === 0);
  });

  it('an unread stream destroyed gives its place back', async () => {
    store = await memoryStore({ limits: { concurrentGets: 1 } });
    const location = await stored('img');
    const unread = await store.get(location);
    const waiting = store.get(location);
    unread.stream.destroy();
    const got = await waiting;
    expect(store.stats().gets.inUse).toBe(1);
    got.stream.destroy();
    await until(() => store!.stats().gets.inUse === 0);
  });

  it('a stream that fails (verify finds other digests) gives its place back', async () => {
    store = await memoryStore({ limits: { concurrentGets: 1 } });
    const location = await stored('img');
    const wrong = createHash('sha512').update('other bytes').digest('hex');
    const got = await store.get(location, { verify: { multihash: wrong } });
    await expect(
      (async () => {
        for await (const _ of got.stream) {
          // read until it fails
        }
      })(),
    ).rejects.toBeInstanceOf(ChecksumMismatch);
    await until(() => store!.stats().gets.inUse === 0);
  });

  it('a get that opens nothing (NotFound) gives its place back', async () => {
    store = await memoryStore({ limits: { concurrentGets: 1 } });
    await expect(store.get('memory://mem/missing')).rejects.toBeInstanceOf(NotFound);
    expect(store.stats().gets).toEqual({ inUse: 0, queued: 0, limit: 1 });
  });

  it('a queued get aborted fails at once with OperationAborted; one aborted while open releases', async () => {
    store = await memoryStore({ limits: { concurrentGets: 1 } });
    const location = await stored('img');
    const holder = new AbortController();
    const held = await store.get(location, { signal: holder.signal });
    const controller = new AbortController();
    const queued = store.get(location, { signal: controller.signal });
    await settle();
    controller.abort();
    await expect(queued).rejects.toBeInstanceOf(OperationAborted);
    expect(store.stats().gets).toEqual({ inUse: 1, queued: 0, limit: 1 });
    held.stream.on('error', () => undefined);
    holder.abort();
    await until(() => store!.stats().gets.inUse === 0);
  });
});

describe('MultiStore limits on a real file backend', () => {
  it('16 adds at once, concurrentAdds 3: the driver never consumes more than 3 images at once', async () => {
    fileStore = await tempFileStore('store-limits-', { limits: { concurrentAdds: 3 } });
    const { store: files } = fileStore;
    const sources = gatedSources();
    const adds = Array.from({ length: 16 }, (_, i) =>
      files.add(`image-${i}`, sources.source(`image-${i}`, 4, 256 << 10), 1 << 20),
    );
    await until(() => sources.started.length === 3);
    let most = 0;
    const sampler = setInterval(() => {
      most = Math.max(most, files.stats().adds.inUse);
    }, 1);
    sources.open();
    const results = await Promise.all(adds);
    clearInterval(sampler);
    expect(results.every((r) => r.size === 1 << 20)).toBe(true);
    expect(sources.most).toBe(3);
    expect(most).toBeLessThanOrEqual(3);
    expect(files.stats().adds).toEqual({ inUse: 0, queued: 0, limit: 3 });
    // Every image is whole.
    const back = await files.get(results[15]!.location);
    let bytes = 0;
    for await (const chunk of back.stream) bytes += chunk.byteLength;
    expect(bytes).toBe(1 << 20);
  });
});
