/**
 * GetResult.pipeTo: the bytes reach the writable intact and in order, with
 * backpressure; a buffer is lent again only once the write that carried it was
 * called back; abort and the writable's failure end it and let go of the source.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { createServer, get as httpGet } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Capability,
  defineDriver,
  MultiStore,
  NotFound,
  readAhead,
  StoreError,
  type StoreLocation,
} from '../src/index.js';
import { FRESH_READ_BYTES } from '../src/pipe-to.js';
import { ReadAheadBudget } from '../src/read-ahead.js';
import { type TempFileStore, tempFileStore } from './file-store.js';

const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
const sha512 = (bytes: Uint8Array) => createHash('sha512').update(bytes).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A writable that takes `delayMs` per write, checks each chunk still holds the
 * image's bytes when it calls the write back (a buffer lent again too early
 * would have been overwritten by then), and records what it held at most.
 */
function slowChecker(image: Uint8Array, delayMs: number, options: { failAfter?: number } = {}) {
  const seen = { bytes: 0, writes: 0, maxHeld: 0, buffers: new Set<ArrayBufferLike>(), bad: 0 };
  const writable = new Writable({
    highWaterMark: 1 << 30, // write() always says "more": the bound must come from pipeTo.
    write(chunk: Buffer, _encoding, callback) {
      seen.maxHeld = Math.max(seen.maxHeld, writable.writableLength);
      seen.buffers.add(chunk.buffer);
      seen.writes += 1;
      const at = seen.bytes;
      seen.bytes += chunk.byteLength;
      if (options.failAfter !== undefined && seen.writes > options.failAfter) {
        return void setTimeout(() => callback(new Error('disk on fire')), delayMs);
      }
      setTimeout(() => {
        if (!chunk.equals(image.subarray(at, at + chunk.byteLength))) seen.bad += 1;
        callback();
      }, delayMs);
    },
  });
  return { writable, seen };
}

/** Descriptors this process holds open on `path`. */
async function openOn(path: string): Promise<number> {
  let count = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(join('/proc/self/fd', fd)).catch(() => '');
    if (target === path) count += 1;
  }
  return count;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (err) {
    return err instanceof StoreError ? err.code : (err as Error).message;
  }
}

describe('pipeTo on the file driver', () => {
  let files: TempFileStore;
  let store: MultiStore;
  let location: string;
  let image: Uint8Array;
  let imagePath: string;

  beforeAll(async () => {
    files = await tempFileStore('core-pipeto-');
    store = files.store;
    // Random: a periodic pattern would look intact in a buffer reused too early.
    image = randomBytes(24 * 1024 * 1024 + 123);
    location = (await store.add('image', image, image.byteLength)).location;
    imagePath = join(files.dir, 'image');
  });

  afterAll(async () => {
    await files?.dispose();
  });

  it('writes every byte to a file and ends it', async () => {
    const got = await store.get(location);
    const out = join(files.dir, 'copy.raw');
    const bytes = await got.pipeTo(createWriteStream(out));
    expect(bytes).toBe(image.byteLength);
    expect(sha512(await readFile(out))).toBe(sha512(image));
    expect(await openOn(imagePath)).toBe(0);
  });

  it('holds a slow writable to a few writes, reuses a few buffers, each only after its write completed', async () => {
    const got = await store.get(location);
    const { writable, seen } = slowChecker(image, 2);
    expect(await got.pipeTo(writable)).toBe(image.byteLength);
    expect(seen.bytes).toBe(image.byteLength);
    expect(seen.bad).toBe(0);
    expect(writable.writableFinished).toBe(true);
    // At most 4 writes not called back, of at most one read unit each.
    expect(seen.maxHeld).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(seen.writes).toBeGreaterThan(20);
    expect(seen.buffers.size).toBeLessThanOrEqual(16);
  });

  it('gives a Transform fresh buffers: it calls back before its reader is done', async () => {
    const got = await store.get(location);
    const through = new PassThrough({ highWaterMark: 1 << 30 });
    const chunks: Buffer[] = [];
    through.on('data', (chunk: Buffer) => chunks.push(chunk));
    await got.pipeTo(through);
    expect(sha512(Buffer.concat(chunks))).toBe(sha512(image));
    expect(new Set(chunks.map((c) => c.buffer)).size).toBe(chunks.length);
  });

  it('fails with OperationAborted when the signal fires mid-way, and lets go of the file', async () => {
    const controller = new AbortController();
    const got = await store.get(location, { signal: controller.signal });
    const { writable, seen } = slowChecker(image, 2);
    const piping = got.pipeTo(writable);
    while (seen.writes < 3) await sleep(1);
    controller.abort();
    expect(await codeOf(piping)).toBe('OperationAborted');
    expect(writable.destroyed).toBe(true);
    expect(seen.bytes).toBeLessThan(image.byteLength);
    await sleep(10);
    expect(await openOn(imagePath)).toBe(0);
  });

  it("fails with the writable's error and lets go of the file", async () => {
    const got = await store.get(location);
    const { writable } = slowChecker(image, 1, { failAfter: 2 });
    expect(await codeOf(got.pipeTo(writable))).toBe('disk on fire');
    expect(got.stream.destroyed).toBe(true);
    await sleep(10);
    expect(await openOn(imagePath)).toBe(0);
  });

  it('fails when the writable closes early (a client that went away)', async () => {
    const got = await store.get(location);
    const { writable, seen } = slowChecker(image, 2);
    const piping = got.pipeTo(writable);
    while (seen.writes < 2) await sleep(1);
    writable.destroy();
    expect(await codeOf(piping)).toMatch(/premature close/i);
    await sleep(10);
    expect(await openOn(imagePath)).toBe(0);
  });

  it('with end: false leaves the writable open and resolves once every write completed', async () => {
    const got = await store.get(location);
    const { writable, seen } = slowChecker(image, 1);
    expect(await got.pipeTo(writable, { end: false })).toBe(image.byteLength);
    expect(seen.bytes).toBe(image.byteLength);
    expect(writable.writableEnded).toBe(false);
    expect(writable.writableLength).toBe(0);
    writable.end();
  });

  it('serves an HTTP response, and stops when the client goes away', async () => {
    const outcomes: Promise<string>[] = [];
    const server = createServer(async (_req, res) => {
      const controller = new AbortController();
      res.on('close', () => controller.abort());
      const got = await store.get(location, { signal: controller.signal });
      res.writeHead(200, { 'content-length': got.size });
      outcomes.push(codeOf(got.pipeTo(res)));
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const body = await new Promise<Buffer>((resolve, reject) =>
        httpGet(url, (res) => res.toArray().then((c) => resolve(Buffer.concat(c)), reject)),
      );
      expect(sha512(body)).toBe(sha512(image));
      expect(await outcomes[0]).toBe('resolved');
      // A client that reads 1 MiB and hangs up.
      await new Promise<void>((resolve) =>
        httpGet(url, (res) => {
          let received = 0;
          res.on('data', (chunk: Buffer) => {
            received += chunk.byteLength;
            if (received >= 1 << 20) res.destroy();
          });
          res.on('close', () => resolve());
        }),
      );
      while (outcomes.length < 2) await sleep(5);
      expect(await outcomes[1]).not.toBe('resolved');
      await sleep(20);
      expect(await openOn(imagePath)).toBe(0);
    } finally {
      server.close();
    }
  });

  it('refuses a stream already read from, and a get with reuseBuffers', async () => {
    const read = await store.get(location);
    await read.stream[Symbol.asyncIterator]().next();
    expect(await codeOf(read.pipeTo(new PassThrough()))).toBe('Invalid');
    read.stream.destroy();
    const reused = await store.get(location, { reuseBuffers: true });
    expect(await codeOf(reused.pipeTo(new PassThrough()))).toBe('Invalid');
    reused.stream.destroy();
  });
});

describe('pipeTo through the manager', () => {
  it('lends a buffer again only once the write that carried it was called back', async () => {
    // A driver over memory reading 8 ahead into the buffers the request lends, each
    // recorded: a buffer handed out while a write still holds it is caught at once.
    const image = Buffer.from(pattern(512 * 1024 + 5));
    const allocations: ArrayBufferLike[] = [];
    const held = new Set<ArrayBufferLike>();
    let lentWhileHeld = 0;
    const definition = defineDriver({
      type: 'memory-read',
      schemes: ['memr'],
      capabilities: Capability.READ_ACCESS | Capability.DRIVER_REUSABLE,
      options: [],
      create: () => ({
        parseLocation: (uri: string): StoreLocation => ({ scheme: 'memr', uri }),
        add: async () => {
          throw new Error('read-only');
        },
        get: async (_location, request) => ({
          stream: readAhead({
            start: 0,
            end: image.byteLength,
            unit: 4_096,
            depth: 8,
            signal: request.signal,
            read: async (position, target) => image.copy(target, 0, position),
            allocate: (size) => {
              const buffer = request.allocate(size);
              if (held.has(buffer.buffer)) lentWhileHeld += 1;
              allocations.push(buffer.buffer);
              return buffer;
            },
            source: 'memory',
          }),
          size: image.byteLength,
        }),
        getSize: async () => image.byteLength,
        delete: async () => {
          throw new NotFound('read-only');
        },
      }),
    });
    const store = await MultiStore.create(
      { enabledBackends: { m: 'memory-read' }, defaultBackend: 'm', backends: { m: {} } },
      { drivers: [definition] },
    );
    try {
      const got = await store.get('memr://image');
      const copies: Buffer[] = [];
      const writable = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          held.add(chunk.buffer);
          setTimeout(() => {
            copies.push(Buffer.from(chunk));
            held.delete(chunk.buffer);
            callback();
          }, 1);
        },
      });
      await got.pipeTo(writable);
      expect(Buffer.concat(copies).equals(image)).toBe(true);
      expect(lentWhileHeld).toBe(0);
      expect(allocations.length).toBe(Math.ceil(image.byteLength / 4_096));
      // Reused at all: a bounded few distinct buffers behind 129 chunks. The bound is the
      // writes in flight (4) + read-ahead (8) + the stream's own queue, which holds up to its
      // highWaterMark (16 KiB on Node 20, 64 KiB from Node 22: 16 chunks of 4 KiB).
      expect(new Set(allocations).size).toBeLessThanOrEqual(32);
    } finally {
      await store.close();
    }
  });
});

describe('fresh memory for plain reads', () => {
  it('comes in pieces of at most FRESH_READ_BYTES, every byte in order', async () => {
    const files = await tempFileStore('core-fresh-');
    try {
      const image = randomBytes(3 * 1024 * 1024 + 77);
      const { location } = await files.store.add('image', image, image.byteLength);
      const got = await files.store.get(location);
      const chunks: Buffer[] = [];
      for await (const chunk of got.stream) chunks.push(chunk);
      expect(Buffer.concat(chunks).equals(image)).toBe(true);
      expect(Math.max(...chunks.map((c) => c.byteLength))).toBe(FRESH_READ_BYTES);
      expect(new Set(chunks.map((c) => c.buffer)).size).toBe(chunks.length);
    } finally {
      await files.dispose();
    }
  });

  it('readAhead fills a buffer shorter than asked, goes on from its end, and gives back the budget', async () => {
    const image = Buffer.from(pattern(10_000));
    const budget = new ReadAheadBudget(1 << 20);
    const stream = readAhead({
      start: 0,
      end: image.byteLength,
      unit: 4_000,
      depth: 4,
      budget,
      signal: new AbortController().signal,
      read: async (position, target) => image.copy(target, 0, position),
      allocate: (size) => Buffer.alloc(Math.min(size, 1_500)),
      source: 'memory',
    });
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(Buffer.concat(chunks).equals(image)).toBe(true);
    // Units end at 4 000 and 8 000: 1 500 + 1 500 + 1 000, twice, then 1 500 + 500.
    expect(chunks.map((c) => c.byteLength)).toEqual([
      1500, 1500, 1000, 1500, 1500, 1000, 1500, 500,
    ]);
    expect(budget.used).toBe(0);
  });
});
