/**
 * The positional read loop drivers share (readAhead), and reuseBuffers: with it a
 * get cycles through a few buffers instead of one per chunk, and a consumer that
 * is done with each chunk when it pulls the next still reads every byte intact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecycledChunks } from '../src/chunk-buffers.js';
import {
  BackendException,
  Capability,
  defineDriver,
  freshChunk,
  MultiStore,
  NotFound,
  OperationAborted,
  type ReadAheadOptions,
  readAhead,
  type StoreLocation,
} from '../src/index.js';
import { ReadAheadBudget } from '../src/read-ahead.js';
import { imageReadStream } from '../src/reader.js';
import { type TempFileStore, tempFileStore } from './file-store.js';

/** A source of `bytes` that counts the reads in flight. */
function memorySource(bytes: Uint8Array, delayMs = 1) {
  const state = { inFlight: 0, maxInFlight: 0, positions: [] as number[] };
  const read = async (position: number, target: Buffer) => {
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    state.positions.push(position);
    await new Promise((r) => setTimeout(r, delayMs));
    state.inFlight--;
    const part = bytes.subarray(position, position + target.byteLength);
    target.set(part);
    return part.byteLength;
  };
  return { read, state };
}

/** readAhead over `read`, 1 000-byte units, 2 in flight, unless `options` say otherwise. */
function readAheadOf(
  read: ReadAheadOptions['read'],
  options: Partial<ReadAheadOptions> & Pick<ReadAheadOptions, 'end'>,
) {
  return readAhead({
    start: 0,
    unit: 1_000,
    depth: 2,
    signal: new AbortController().signal,
    read,
    allocate: freshChunk,
    source: 'memory',
    ...options,
  });
}

const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);

describe('readAhead', () => {
  it('reads one chunk at a time for a consumer that stalls, and widens to depth for one that keeps up', async () => {
    const bytes = pattern(20_000);
    const { read, state } = memorySource(bytes);
    const reads = readAheadOf(read, { end: 20_000, depth: 8 });
    expect((await reads.next()).done).toBe(false);
    await new Promise((r) => setTimeout(r, 30));
    // A stalled consumer: nothing read beyond what it asked for.
    expect(state.positions).toEqual([0]);
    const rest: Buffer[] = [];
    for await (const chunk of reads) rest.push(chunk);
    expect(Buffer.concat(rest)).toEqual(Buffer.from(bytes.subarray(1_000)));
    expect(state.maxInFlight).toBe(8);
  });

  it('holds reads beyond the first within the shared budget, and gives all of it back', async () => {
    const budget = new ReadAheadBudget(3_000);
    let most = 0;
    const bytes = pattern(30_000);
    const { read } = memorySource(bytes);
    const counting: ReadAheadOptions['read'] = (position, target) => {
      most = Math.max(most, budget.used);
      return read(position, target);
    };
    const whole = async () => {
      const chunks: Buffer[] = [];
      for await (const c of readAheadOf(counting, { end: 30_000, depth: 8, budget }))
        chunks.push(c);
      return Buffer.concat(chunks);
    };
    const results = await Promise.all([whole(), whole(), whole()]);
    for (const result of results) expect(result).toEqual(Buffer.from(bytes));
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(3_000);
    expect(budget.used).toBe(0);
    // Given up part-way, with reads ahead in flight: returned too.
    const partly = readAheadOf(read, { end: 30_000, depth: 8, budget });
    for (let i = 0; i < 5; i++) await partly.next();
    expect(budget.used).toBeGreaterThan(0);
    await partly.return(undefined);
    expect(budget.used).toBe(0);
  });

  it('is asked for no chunk beyond the one a stalled get stream holds', async () => {
    let asked = 0;
    async function* source() {
      for (let i = 0; i < 100; i++) {
        asked++;
        yield Buffer.alloc(1 << 20, i);
      }
    }
    const stream = imageReadStream(source(), {
      signal: new AbortController().signal,
      normalize: (err) => err as Error,
    });
    const reader = stream[Symbol.asyncIterator]();
    expect((await reader.next()).done).toBe(false);
    await new Promise((r) => setTimeout(r, 30));
    // The chunk handed over and the one buffered for the next read.
    expect(asked).toBe(2);
    stream.destroy();
  });

  it('hands out the range in order, reads ending on unit boundaries, at most depth in flight', async () => {
    const bytes = pattern(10_000);
    const { read, state } = memorySource(bytes);
    const chunks: Buffer[] = [];
    for await (const chunk of readAheadOf(read, { start: 1_500, end: 9_999, depth: 3 })) {
      chunks.push(chunk);
    }
    expect(Buffer.concat(chunks)).toEqual(Buffer.from(bytes.subarray(1_500, 9_999)));
    expect(chunks[0]!.byteLength).toBe(500);
    expect(state.positions).toEqual([
      1_500, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000,
    ]);
    expect(state.maxInFlight).toBe(3);
  });

  it('fails with BackendException naming the source on a short read', async () => {
    const { read } = memorySource(pattern(2_500));
    const reading = (async () => {
      for await (const _ of readAheadOf(read, { end: 4_000, source: 'memory image' }));
    })();
    await expect(reading).rejects.toThrow(BackendException);
    await expect(reading).rejects.toThrow(/memory image at 2000: 500 of 1000 bytes/);
  });

  it('stops with OperationAborted when the signal fires, and ends once', async () => {
    const controller = new AbortController();
    const { read } = memorySource(pattern(8_000));
    let ends = 0;
    const reading = (async () => {
      for await (const _ of readAheadOf(read, {
        end: 8_000,
        signal: controller.signal,
        onEnd: async () => void ends++,
      })) {
        controller.abort();
      }
    })();
    await expect(reading).rejects.toThrow(OperationAborted);
    expect(ends).toBe(1);
  });

  it('runs onEnd when given up before the first pull', async () => {
    const { read, state } = memorySource(pattern(1_000));
    let ends = 0;
    const options = { end: 1_000, onEnd: async () => void ends++ };
    await readAheadOf(read, options).return(undefined);
    await readAheadOf(read, options)
      .throw(new Error('consumer gone'))
      .catch(() => undefined);
    expect(ends).toBe(2);
    expect(state.positions).toEqual([]);
  });
});

describe('RecycledChunks', () => {
  it('lends a buffer again only after its chunk and then the next one were delivered', () => {
    const ring = new RecycledChunks(3 * 100);
    const a = ring.allocate(100);
    const b = ring.allocate(100);
    ring.pushed(a);
    ring.pushed(b);
    ring.took(100); // the consumer gets a
    const c = ring.allocate(100);
    expect(new Set([a.buffer, b.buffer, c.buffer]).size).toBe(3);
    // The ring is full and a is still held: past the cap come new buffers.
    const extra = ring.allocate(100);
    expect([a.buffer, b.buffer, c.buffer]).not.toContain(extra.buffer);
    ring.releaseTaken(); // the consumer is handed b: done with a
    ring.took(100);
    expect(ring.allocate(100).buffer).toBe(a.buffer);
    // b is held until the delivery after it.
    expect(ring.allocate(100).buffer).not.toBe(b.buffer);
  });

  it('counts a read that joins several chunks, and one that takes part of a chunk', () => {
    const ring = new RecycledChunks(2 * 100);
    const a = ring.allocate(100);
    const b = ring.allocate(100);
    ring.pushed(a);
    ring.pushed(b);
    ring.took(150); // a and half of b, in one read
    ring.releaseTaken();
    ring.took(50);
    const next = ring.allocate(100);
    expect(next.buffer).toBe(a.buffer);
    ring.releaseTaken();
    expect(ring.allocate(100).buffer).toBe(b.buffer);
  });

  it('leaves buffers it did not lend alone', () => {
    const ring = new RecycledChunks(100);
    const foreign = Buffer.alloc(100);
    ring.pushed(foreign);
    ring.took(100);
    ring.releaseTaken();
    expect(ring.allocate(100).buffer).not.toBe(foreign.buffer);
  });
});

describe('reuseBuffers on the file driver', () => {
  let files: TempFileStore;
  let store: MultiStore;
  let location: string;
  let data: Uint8Array;

  beforeAll(async () => {
    files = await tempFileStore('core-reuse-');
    store = files.store;
    data = pattern(40 * 1024 * 1024 + 123);
    location = (await store.add('image', data, data.byteLength)).location;
  });

  afterAll(async () => {
    await files?.dispose();
  });

  /** Reads the image, copying each chunk, and counts the distinct buffers behind them. */
  async function readCounting(reuseBuffers: boolean) {
    const got = await store.get(location, { reuseBuffers });
    const buffers = new Set<ArrayBufferLike>();
    const copies: Buffer[] = [];
    for await (const chunk of got.stream as AsyncIterable<Buffer>) {
      buffers.add(chunk.buffer);
      copies.push(Buffer.from(chunk));
    }
    return { bytes: Buffer.concat(copies), buffers: buffers.size, chunks: copies.length };
  }

  it('cycles through a few buffers and delivers every byte intact', async () => {
    const reused = await readCounting(true);
    expect(reused.bytes.equals(Buffer.from(data))).toBe(true);
    expect(reused.chunks).toBeGreaterThan(20);
    // Read-ahead depth plus what is queued between driver and consumer.
    expect(reused.buffers).toBeLessThanOrEqual(16);
  });

  it('gives every chunk its own buffer by default', async () => {
    const fresh = await readCounting(false);
    expect(fresh.bytes.equals(Buffer.from(data))).toBe(true);
    expect(fresh.buffers).toBe(fresh.chunks);
  });
});

describe('reuseBuffers through the manager', () => {
  it('does not lend the buffer of the chunk a consumer is holding', async () => {
    // A read-only driver over memory that reads one chunk ahead into the buffers the
    // manager lends: with one read in flight, the buffer wanted next is exactly the one
    // the consumer may still hold, so a release one chunk early shows at once.
    const image = Buffer.from(pattern(64 * 1024));
    const lent: ArrayBufferLike[] = [];
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
            depth: 1,
            signal: request.signal,
            read: async (position, target) => {
              await new Promise((r) => setTimeout(r, 1));
              return image.copy(target, 0, position, position + target.byteLength);
            },
            allocate: (size) => {
              const buffer = request.allocate(size);
              lent.push(buffer.buffer);
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
      const got = await store.get('memr://image', { reuseBuffers: true });
      const copies: Buffer[] = [];
      for await (const chunk of got.stream as AsyncIterable<Buffer>) {
        const lentBefore = lent.length;
        const copy = Buffer.from(chunk);
        // The driver reads ahead while the consumer is in its loop body.
        await new Promise((r) => setTimeout(r, 3));
        expect(lent.slice(lentBefore)).not.toContain(chunk.buffer);
        expect(chunk.equals(copy)).toBe(true);
        copies.push(copy);
      }
      expect(Buffer.concat(copies).equals(image)).toBe(true);
      // Buffers were reused at all: fewer distinct ones than chunks.
      expect(new Set(lent).size).toBeLessThan(lent.length / 2);
    } finally {
      await store.close();
    }
  });
});
