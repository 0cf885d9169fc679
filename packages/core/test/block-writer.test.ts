/**
 * The block writer against a real sink: a file written block by block at each
 * block's offset into a temporary name, renamed into place on complete and
 * removed on abort, as a driver's multipart upload. Faults (a failing block,
 * writes held back) are injected around that real sink.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdtemp, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Block,
  type BlockSink,
  BlockWriter,
  LentBuffers,
  OperationAborted,
  writeBlocks,
} from '../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'store-block-writer-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes blocks into `<name>.part`, renamed to `<name>` on complete, removed on abort. */
class FileSink implements BlockSink {
  readonly blocks: number[] = [];
  inFlight = 0;
  maxInFlight = 0;
  completed: number | undefined;
  aborts: unknown[] = [];
  /** In-flight writes when abort ran (must be none). */
  inFlightAtAbort: number | undefined;
  /** Signals the writes were given, by block index. */
  readonly signals = new Map<number, AbortSignal>();
  #handle: Promise<FileHandle>;

  constructor(readonly name: string) {
    this.#handle = open(this.#part, 'w');
  }

  get #part(): string {
    return join(dir, `${this.name}.part`);
  }

  async writeBlock(block: Block, signal: AbortSignal): Promise<void> {
    this.blocks.push(block.index);
    this.signals.set(block.index, signal);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.beforeWrite(block, signal);
      signal.throwIfAborted();
      const handle = await this.#handle;
      await handle.write(block.bytes, 0, block.bytes.byteLength, block.offset);
    } finally {
      this.inFlight -= 1;
    }
  }

  /** Where tests inject faults or hold writes back. */
  beforeWrite: (block: Block, signal: AbortSignal) => Promise<void> = async () => undefined;

  async complete(bytes: number): Promise<void> {
    await (await this.#handle).close();
    await rename(this.#part, join(dir, this.name));
    this.completed = bytes;
  }

  async abort(reason: unknown): Promise<void> {
    this.inFlightAtAbort = this.inFlight;
    this.aborts.push(reason);
    await (await this.#handle).close().catch(() => undefined);
    await rm(this.#part, { force: true });
  }
}

/** Writes that wait until the test lets them go, one by one. */
class Gate {
  readonly #held = new Map<number, () => void>();
  readonly #arrivals: (() => void)[] = [];

  readonly hold = (block: Block, signal: AbortSignal): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      this.#held.set(block.index, resolve);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      for (const arrived of this.#arrivals.splice(0)) arrived();
    });

  get held(): number[] {
    return [...this.#held.keys()];
  }

  release(index: number): void {
    const resolve = this.#held.get(index);
    this.#held.delete(index);
    resolve?.();
  }

  /** Resolves once `count` writes are held. */
  async waitFor(count: number): Promise<void> {
    while (this.#held.size < count) await new Promise<void>((r) => this.#arrivals.push(r));
  }
}

async function* chunksOf(data: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < data.byteLength; i++) {
    const size = sizes[i % sizes.length]!;
    yield data.subarray(at, at + size);
    at += size;
  }
}

/** Names left in the test directory for `name`. */
async function leftovers(name: string): Promise<string[]> {
  return (await readdir(dir)).filter((entry) => entry.startsWith(name));
}

describe('BlockWriter', () => {
  it('writes chunks of any size as whole blocks at their offsets, the last one short', async () => {
    const data = randomBytes(10 * 4096 + 123);
    const sink = new FileSink('whole');
    const released: Uint8Array[] = [];
    const bytes = await writeBlocks(chunksOf(data, [1, 4095, 10_000, 77]), sink, {
      blockSize: 4096,
      window: 3,
      signal: new AbortController().signal,
      release: (chunk) => released.push(chunk),
    });
    expect(bytes).toBe(data.byteLength);
    expect(sink.completed).toBe(data.byteLength);
    expect([...sink.blocks].sort((a, b) => a - b)).toEqual([...Array(11).keys()]);
    expect(Buffer.compare(await readFile(join(dir, 'whole')), data)).toBe(0);
    // Every chunk was handed back once its bytes were copied.
    expect(released.reduce((n, c) => n + c.byteLength, 0)).toBe(data.byteLength);
    expect(sink.aborts).toEqual([]);
  });

  it('completes an empty image without writing a block', async () => {
    const sink = new FileSink('empty');
    const bytes = await writeBlocks(chunksOf(new Uint8Array(0), [1]), sink, {
      blockSize: 4096,
      window: 2,
      signal: new AbortController().signal,
    });
    expect(bytes).toBe(0);
    expect(sink.blocks).toEqual([]);
    expect(sink.completed).toBe(0);
    expect((await readFile(join(dir, 'empty'))).byteLength).toBe(0);
  });

  it('keeps at most `window` writes in flight and stops reading while every buffer is taken', async () => {
    const sink = new FileSink('window');
    const gate = new Gate();
    sink.beforeWrite = gate.hold;
    const pool = new LentBuffers({ maxBytes: 3 * 1024 });
    const writer = new BlockWriter(sink, {
      blockSize: 1024,
      window: 3,
      signal: new AbortController().signal,
      pool,
    });
    const data = randomBytes(8 * 1024);
    // Three blocks fill the window; the fourth has no buffer until one write is done.
    for (let i = 0; i < 3; i++) await writer.write(data.subarray(i * 1024, (i + 1) * 1024));
    await gate.waitFor(3);
    let fourthTaken = false;
    const fourth = writer.write(data.subarray(3 * 1024, 4 * 1024)).then(() => {
      fourthTaken = true;
    });
    await new Promise<void>((r) => setImmediate(r));
    expect(fourthTaken).toBe(false);
    expect(gate.held).toEqual([0, 1, 2]);
    gate.release(1);
    await fourth;
    await gate.waitFor(3);
    expect(gate.held.sort()).toEqual([0, 2, 3]);
    // The rest, released as they arrive.
    const rest = (async () => {
      for (let i = 4; i < 8; i++) await writer.write(data.subarray(i * 1024, (i + 1) * 1024));
      return writer.finish();
    })();
    while (sink.completed === undefined) {
      for (const index of gate.held) gate.release(index);
      await Promise.race([rest, new Promise<void>((r) => setImmediate(r))]);
    }
    expect(await rest).toBe(data.byteLength);
    expect(sink.maxInFlight).toBe(3);
    // Eight blocks through three buffers: each made once, then reused.
    expect(pool.created).toBe(3);
    expect(Buffer.compare(await readFile(join(dir, 'window')), data)).toBe(0);
  });

  it('with buffers = window + 1 fills the next block while the window is full, and reuses them', async () => {
    const sink = new FileSink('spare');
    const pool = new LentBuffers({ maxBytes: 1 << 20 });
    const data = randomBytes(64 * 1024 + 5);
    let maxHeld = 0;
    sink.beforeWrite = async () => {
      maxHeld = Math.max(maxHeld, sink.inFlight);
      await new Promise<void>((r) => setImmediate(r));
    };
    const bytes = await writeBlocks(chunksOf(data, [3000]), sink, {
      blockSize: 1024,
      window: 4,
      buffers: 5,
      signal: new AbortController().signal,
      pool,
    });
    expect(bytes).toBe(data.byteLength);
    expect(sink.maxInFlight).toBeLessThanOrEqual(4);
    expect(pool.created).toBeLessThanOrEqual(5);
    expect(sink.blocks).toHaveLength(65);
    expect(Buffer.compare(await readFile(join(dir, 'spare')), data)).toBe(0);
  });

  it('a failing block stops the others, aborts once they settled and reports that failure', async () => {
    const sink = new FileSink('failing');
    const gate = new Gate();
    const failure = new Error('block 2 refused');
    sink.beforeWrite = async (block, signal) => {
      if (block.index === 2) throw failure;
      await gate.hold(block, signal);
    };
    const data = randomBytes(32 * 1024);
    const written = writeBlocks(chunksOf(data, [1024]), sink, {
      blockSize: 1024,
      window: 4,
      signal: new AbortController().signal,
    });
    await expect(written).rejects.toBe(failure);
    // The writes in flight were told to stop, and had settled before abort ran.
    expect(sink.signals.get(0)?.aborted).toBe(true);
    expect(sink.inFlightAtAbort).toBe(0);
    expect(sink.aborts).toEqual([failure]);
    expect(sink.completed).toBeUndefined();
    expect(Math.max(...sink.blocks)).toBeLessThan(8);
    expect(await leftovers('failing')).toEqual([]);
  });

  it('the caller aborting mid-way fails with OperationAborted and leaves nothing', async () => {
    const sink = new FileSink('aborted');
    const gate = new Gate();
    sink.beforeWrite = gate.hold;
    const controller = new AbortController();
    const data = randomBytes(16 * 1024);
    const written = writeBlocks(chunksOf(data, [1000]), sink, {
      blockSize: 1024,
      window: 2,
      signal: controller.signal,
    });
    await gate.waitFor(2);
    gate.release(0);
    await gate.waitFor(2);
    controller.abort(new Error('caller gave up'));
    const err = await written.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationAborted);
    expect((err as Error).message).toBe('The add was aborted');
    expect(sink.inFlightAtAbort).toBe(0);
    expect(sink.aborts).toHaveLength(1);
    expect(await leftovers('aborted')).toEqual([]);
  });

  it('the data failing aborts the sink with the data error', async () => {
    const sink = new FileSink('source');
    const failure = new Error('source broke');
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield randomBytes(5000);
      throw failure;
    }
    await expect(
      writeBlocks(broken(), sink, {
        blockSize: 1024,
        window: 2,
        signal: new AbortController().signal,
      }),
    ).rejects.toBe(failure);
    expect(sink.aborts).toEqual([failure]);
    expect(await leftovers('source')).toEqual([]);
  });

  it('a failing completion aborts as well', async () => {
    const sink = new FileSink('commit');
    const failure = new Error('commit refused');
    sink.complete = async () => {
      throw failure;
    };
    await expect(
      writeBlocks(chunksOf(randomBytes(3000), [1000]), sink, {
        blockSize: 1024,
        window: 2,
        signal: new AbortController().signal,
      }),
    ).rejects.toBe(failure);
    expect(sink.aborts).toEqual([failure]);
    expect(await leftovers('commit')).toEqual([]);
  });

  it('gives a small image buffers of its declared size', async () => {
    const sink = new FileSink('small');
    const pool = new LentBuffers({ maxBytes: 1 << 20 });
    const seen: number[] = [];
    sink.beforeWrite = async (block) => {
      seen.push(block.bytes.buffer.byteLength);
    };
    await writeBlocks(chunksOf(randomBytes(100), [100]), sink, {
      blockSize: 1 << 20,
      window: 4,
      size: 100,
      signal: new AbortController().signal,
      pool,
    });
    expect(seen).toEqual([100]);
  });
});
