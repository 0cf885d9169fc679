/**
 * The stream get returns releases what it holds whenever it goes away: destroyed
 * before its first read, part-way, or read to the end. The file driver (loaded
 * from its sources, sharing this core) shows it in this process's open
 * descriptors.
 */
import { readdir, readlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BadStoreUri,
  Capability,
  defineDriver,
  MultiStore,
  type StoreLocation,
} from '../src/index.js';
import { type TempFileStore, tempFileStore } from './file-store.js';

/** Descriptors of this process open on anything under `dir`. */
async function openUnder(dir: string): Promise<string[]> {
  const fds = await readdir('/proc/self/fd');
  const targets = await Promise.all(
    fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')),
  );
  return targets.filter((t) => t.startsWith(dir));
}

/** Waits (briefly: descriptors close asynchronously) until `count` are open under `dir`. */
async function expectOpenUnder(dir: string, count: number): Promise<void> {
  for (let i = 0; i < 100 && (await openUnder(dir)).length !== count; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(await openUnder(dir)).toHaveLength(count);
}

const closed = (stream: Readable) =>
  new Promise<void>((resolve) =>
    stream.closed ? resolve() : stream.once('close', () => resolve()),
  );

describe('get streams on the file driver', () => {
  let files: TempFileStore;
  let dir: string;
  let store: MultiStore;
  let location: string;
  const size = 3 * 1024 * 1024 + 5;

  beforeAll(async () => {
    files = await tempFileStore('core-get-stream-');
    ({ store, dir } = files);
    ({ location } = await store.add('image', Buffer.alloc(size, 7), size));
  });
  afterAll(async () => {
    await files?.dispose();
  });

  it('closes the file when the stream is destroyed before its first read', async () => {
    const got = await store.get(location);
    got.stream.destroy();
    await closed(got.stream);
    await expectOpenUnder(dir, 0);
  });

  it('closes the file when destroyed once the file is open, still unread', async () => {
    const got = await store.get(location);
    await expectOpenUnder(dir, 1);
    got.stream.destroy();
    await closed(got.stream);
    await expectOpenUnder(dir, 0);
  });

  it('closes the file when destroyed part-way, and when read to the end', async () => {
    const partly = await store.get(location);
    for await (const _ of partly.stream) break;
    await expectOpenUnder(dir, 0);
    const whole = await store.get(location, { verify: { checksum: '0'.repeat(32) } });
    await expect(whole.stream.toArray()).rejects.toMatchObject({ code: 'ChecksumMismatch' });
    await expectOpenUnder(dir, 0);
    let bytes = 0;
    for await (const chunk of (await store.get(location)).stream) bytes += chunk.byteLength;
    expect(bytes).toBe(size);
    await expectOpenUnder(dir, 0);
  });

  it('closes the file when the signal fires before the first read', async () => {
    const controller = new AbortController();
    const got = await store.get(location, { signal: controller.signal });
    controller.abort();
    await expect(got.stream.toArray()).rejects.toMatchObject({ code: 'OperationAborted' });
    await expectOpenUnder(dir, 0);
  });
});

/** A read-only driver whose get returns what `source` makes; counts open instances. */
function sourceDriver(
  source: (uri: string) => AsyncIterable<Uint8Array> | Readable,
  reusable = false,
) {
  const state = { open: 0 };
  const definition = defineDriver({
    type: 'src',
    schemes: ['src'],
    capabilities: Capability.READ_ACCESS | (reusable ? Capability.DRIVER_REUSABLE : 0),
    options: [],
    create: () => {
      state.open++;
      const parse = (uri: string): StoreLocation => {
        if (!uri.startsWith('src://')) throw new BadStoreUri('not a src:// URI');
        return { scheme: 'src', uri };
      };
      return {
        parseLocation: parse,
        add: () => Promise.reject(new Error('read-only')),
        get: async (location) => ({ stream: source(location.uri), size: 3 }),
        getSize: async () => 3,
        delete: () => Promise.reject(new Error('read-only')),
        close: async () => {
          state.open--;
        },
      };
    },
  });
  return { definition, state };
}

const sourceConfig = { enabledBackends: { s: 'src' }, defaultBackend: 's', backends: {} };

describe('get streams of a driver that is not reusable', () => {
  it('close the per-get driver instance however the stream ends', async () => {
    const started: string[] = [];
    const { definition, state } = sourceDriver((uri) =>
      // A source that records whether anyone ever started reading it.
      (async function* () {
        started.push(uri);
        yield Buffer.from('abc');
      })(),
    );
    const store = await MultiStore.create(sourceConfig, { drivers: [definition] });
    expect(state.open).toBe(1);
    const unread = await store.get('src://a');
    expect(state.open).toBe(2);
    unread.stream.destroy();
    await closed(unread.stream);
    expect(state.open).toBe(1);
    expect(started).toEqual([]);
    const read = await store.get('src://b');
    expect(Buffer.concat(await read.stream.toArray()).toString()).toBe('abc');
    await closed(read.stream);
    expect(state.open).toBe(1);
    await store.close();
    expect(state.open).toBe(0);
  });
});

describe('get streams whose source fails', () => {
  it('hold an early failure until the first read, typed, instead of an unhandled error', async () => {
    const { definition } = sourceDriver(() => {
      const source = new Readable({ read() {} });
      setImmediate(() => source.destroy(new Error('connection reset by src://u:pw@host')));
      return source;
    }, true);
    const store = await MultiStore.create(sourceConfig, { drivers: [definition] });
    const got = await store.get('src://x');
    // Long enough for the source to fail while nobody listens to the stream.
    await new Promise((r) => setTimeout(r, 20));
    expect(got.stream.destroyed).toBe(false);
    const failure = await got.stream.toArray().catch((err: unknown) => err);
    expect(failure).toMatchObject({ code: 'BackendException' });
    expect((failure as Error).message).toBe('connection reset by src://***:***@host');
    await store.close();
  });

  it('fail a read whose source closes before its end', async () => {
    const { definition } = sourceDriver(() => {
      let sent = false;
      const source: Readable = new Readable({
        read() {
          if (sent) return void source.destroy();
          sent = true;
          this.push(Buffer.from('a'));
        },
      });
      return source;
    }, true);
    const store = await MultiStore.create(sourceConfig, { drivers: [definition] });
    const got = await store.get('src://x');
    await expect(got.stream.toArray()).rejects.toMatchObject({
      code: 'BackendException',
      message: 'The image stream closed before its end',
    });
    await store.close();
  });

  // The s3 driver once ended reads after their first window without an error: the bytes that
  // came were right, there were just too few. A get must never hand that back as a whole image.
  it('fail a read whose source ends short of the size the driver announced', async () => {
    const { definition } = sourceDriver(() => Readable.from([Buffer.from('ab')]), true);
    const store = await MultiStore.create(sourceConfig, { drivers: [definition] });
    const got = await store.get('src://x');
    expect(got.size).toBe(3);
    await expect(got.stream.toArray()).rejects.toMatchObject({
      code: 'BackendException',
      message: 'The image stream ended after 2 of the 3 bytes the backend announced',
    });
    await store.close();
  });

  it('fail a read whose source runs past the size the driver announced', async () => {
    const { definition } = sourceDriver(
      () => Readable.from([Buffer.from('ab'), Buffer.from('cd')]),
      true,
    );
    const store = await MultiStore.create(sourceConfig, { drivers: [definition] });
    const got = await store.get('src://x');
    const delivered: Buffer[] = [];
    const failure = await (async () => {
      for await (const chunk of got.stream) delivered.push(chunk);
    })().catch((err: unknown) => err);
    expect(failure).toMatchObject({
      code: 'BackendException',
      message: 'The image stream ran past the 3 bytes the backend announced',
    });
    // The chunk that crossed the announced size is never handed out (what was buffered before
    // it may be dropped with the failure).
    expect(['', 'ab']).toContain(Buffer.concat(delivered).toString());
    await store.close();
  });
});
