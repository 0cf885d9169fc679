/**
 * add()'s side of the data: small chunks from the caller reach the driver as 1 MiB
 * blocks (large ones as they are), blocks the driver gives back are reused, and
 * core's fileSource reads a file with its size checked from open to end.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Driver,
  type DriverAddRequest,
  type DriverDefinition,
  fileSource,
  ImageSizeMismatch,
  MultiStore,
  NotFound,
  OperationAborted,
} from '../src/index.js';

const MiB = 1 << 20;

/** What the real file driver was handed by add: each chunk, and the chunks it gave back. */
interface Observed {
  chunks: Uint8Array[];
  released: number;
}

/** The real file driver, its add() observed: it sees exactly what the manager hands it. */
async function observedFileStore(dir: string, observed: Observed): Promise<MultiStore> {
  const driverModule = new URL('../../file/src/index.ts', import.meta.url).href;
  const real = ((await import(driverModule)) as { default: DriverDefinition }).default;
  const observing: DriverDefinition = {
    ...real,
    async create(context) {
      const driver: Driver = await real.create(context);
      const add = driver.add!.bind(driver);
      return Object.assign(driver, {
        add(request: DriverAddRequest) {
          const data = request.data;
          const release = request.release;
          return add({
            ...request,
            data: (async function* () {
              for await (const chunk of data) {
                observed.chunks.push(chunk);
                yield chunk;
              }
            })(),
            ...(release
              ? {
                  release: (chunk: Uint8Array) => {
                    observed.released++;
                    release(chunk);
                  },
                }
              : {}),
          });
        },
      });
    },
  };
  return MultiStore.create(
    {
      enabledBackends: { local: 'file' },
      defaultBackend: 'local',
      backends: { local: { filesystem_store_datadir: join(dir, 'images') } },
    },
    { drivers: [observing] },
  );
}

function* chunksOf(bytes: Buffer, size: number): Generator<Uint8Array> {
  // Each chunk is a new buffer, as a stream hands out.
  for (let at = 0; at < bytes.byteLength; at += size)
    yield Buffer.from(bytes.subarray(at, at + size));
}

const sha512 = (bytes: Uint8Array) => createHash('sha512').update(bytes).digest('hex');

let dir: string;
let store: MultiStore;
const observed: Observed = { chunks: [], released: 0 };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'store-add-source-'));
  store = await observedFileStore(dir, observed);
});
afterAll(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('add coalesces small chunks', () => {
  it('hands the driver 1 MiB blocks when the caller yields 64 KiB chunks', async () => {
    observed.chunks = [];
    const image = randomBytes(5 * MiB + 1000);
    const added = await store.add('small-chunks', chunksOf(image, 64 << 10), image.byteLength);
    expect(added.multihash).toBe(sha512(image));
    expect(observed.chunks.map((c) => c.byteLength)).toEqual([MiB, MiB, MiB, MiB, MiB, 1000]);
    expect(sha512(await readFile(join(dir, 'images', 'small-chunks')))).toBe(sha512(image));
  });

  it('passes large chunks on without copying them', async () => {
    observed.chunks = [];
    const image = randomBytes(3 * MiB);
    const given = [...chunksOf(image, MiB)];
    await store.add('large-chunks', given, image.byteLength);
    expect(observed.chunks).toHaveLength(3);
    for (const [i, chunk] of observed.chunks.entries()) expect(chunk).toBe(given[i]);
  });

  it('reuses the blocks the file driver has written', async () => {
    observed.chunks = [];
    observed.released = 0;
    const image = randomBytes(24 * MiB);
    const added = await store.add('recycled', chunksOf(image, 64 << 10), image.byteLength);
    expect(added.multihash).toBe(sha512(image));
    expect(observed.released).toBeGreaterThan(0);
    const memory = new Set(observed.chunks.map((c) => c.buffer));
    expect(memory.size).toBeLessThan(observed.chunks.length);
    expect(sha512(await readFile(join(dir, 'images', 'recycled')))).toBe(sha512(image));
  });
});

describe('fileSource', () => {
  it('adds a file with its fstat size, every byte intact, in recycled blocks', async () => {
    observed.chunks = [];
    const image = randomBytes(12 * MiB + 7);
    const path = join(dir, 'source.raw');
    await writeFile(path, image);
    const source = await fileSource(path);
    expect(source.size).toBe(image.byteLength);
    const added = await store.add('from-file', source, source.size);
    expect(added.size).toBe(image.byteLength);
    expect(added.multihash).toBe(sha512(image));
    expect(added.checksum).toBe(createHash('md5').update(image).digest('hex'));
    expect(new Set(observed.chunks.map((c) => c.buffer)).size).toBeLessThan(observed.chunks.length);
    expect(sha512(await readFile(join(dir, 'images', 'from-file')))).toBe(sha512(image));
  });

  it('reads on its own as an async iterable, and only once', async () => {
    const image = randomBytes(2 * MiB + 5);
    const path = join(dir, 'alone.raw');
    await writeFile(path, image);
    const source = await fileSource(path, { chunkSize: 1 << 19 });
    const parts: Uint8Array[] = [];
    for await (const chunk of source) parts.push(chunk);
    expect(parts.map((p) => p.byteLength)).toEqual([1 << 19, 1 << 19, 1 << 19, 1 << 19, 5]);
    expect(sha512(Buffer.concat(parts))).toBe(sha512(image));
    await expect(store.add('twice', source, source.size)).rejects.toThrow(/read already/);
  });

  it('adds an empty file', async () => {
    const path = join(dir, 'empty.raw');
    await writeFile(path, '');
    const source = await fileSource(path);
    const added = await store.add('empty', source, source.size);
    expect(added.size).toBe(0);
  });

  it('refuses a missing file with NotFound and a directory as not a regular file', async () => {
    await expect(fileSource(join(dir, 'missing.raw'))).rejects.toBeInstanceOf(NotFound);
    await expect(fileSource(dir)).rejects.toThrow(/Not a regular file/);
  });

  it('fails with ImageSizeMismatch and stores nothing when the file grows or shrinks', async () => {
    for (const change of ['grow', 'shrink'] as const) {
      const path = join(dir, `${change}.raw`);
      await writeFile(path, randomBytes(4 * MiB));
      const source = await fileSource(path);
      if (change === 'grow') await appendFile(path, 'more');
      else await truncate(path, 3 * MiB);
      const id = `changed-${change}`;
      const failure = await store.add(id, source, source.size).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(ImageSizeMismatch);
      expect((failure as Error).message).toMatch(/changed size while it was read/);
      await expect(store.getSize(`file://${join(dir, 'images', id)}`)).rejects.toBeInstanceOf(
        NotFound,
      );
    }
  });

  it('stops on abort with OperationAborted and stores nothing', async () => {
    const path = join(dir, 'abort.raw');
    await writeFile(path, randomBytes(64 * MiB));
    const controller = new AbortController();
    const source = await fileSource(path, { signal: controller.signal });
    const adding = store.add('aborted', source, source.size, {
      signal: controller.signal,
      onProgress: (bytes) => {
        if (bytes >= 2 * MiB) controller.abort();
      },
    });
    await expect(adding).rejects.toBeInstanceOf(OperationAborted);
    await expect(store.getSize(`file://${join(dir, 'images', 'aborted')}`)).rejects.toBeInstanceOf(
      NotFound,
    );
  });
});

describe('fs.createReadStream given to add', () => {
  const image = randomBytes(5 * MiB + 3);
  let path: string;
  beforeAll(async () => {
    path = join(dir, 'stream.raw');
    await writeFile(path, image);
  });
  const stored = (id: string) => readFile(join(dir, 'images', id));

  it("is read by add itself, positionally into recycled blocks: the stream's own reads never run", async () => {
    observed.chunks = [];
    const stream = createReadStream(path);
    const added = await store.add('read-stream', stream, image.byteLength);
    expect(added.multihash).toBe(sha512(image));
    expect(added.checksum).toBe(createHash('md5').update(image).digest('hex'));
    expect(stream.bytesRead).toBe(0);
    expect(stream.destroyed).toBe(true);
    expect(observed.chunks.map((c) => c.byteLength)).toEqual([MiB, MiB, MiB, MiB, MiB, 3]);
    expect(new Set(observed.chunks.map((c) => c.buffer)).size).toBeLessThan(observed.chunks.length);
    expect(sha512(await stored('read-stream'))).toBe(sha512(image));
  });

  it('honours start and end as the stream would', async () => {
    const stream = createReadStream(path, { start: 1000, end: 2 * MiB + 10 });
    const part = image.subarray(1000, 2 * MiB + 11);
    const added = await store.add('read-stream-range', stream, part.byteLength);
    expect(stream.bytesRead).toBe(0);
    expect(added.multihash).toBe(sha512(part));
    expect(sha512(await stored('read-stream-range'))).toBe(sha512(part));
  });

  it('leaves a stream someone listens to, reads from or decodes to its own reads', async () => {
    const listened = createReadStream(path);
    let seen = 0;
    listened.on('data', (chunk) => {
      seen += chunk.length;
    });
    listened.pause();
    const added = await store.add('listened', listened, image.byteLength);
    expect(added.multihash).toBe(sha512(image));
    expect(listened.bytesRead).toBe(image.byteLength);
    expect(seen).toBe(image.byteLength);
    const decoded = createReadStream(path, { encoding: 'latin1' });
    await expect(store.add('decoded', decoded, image.byteLength)).rejects.toThrow(
      /expected Uint8Array/,
    );
  });

  it('fails as the stream would on a missing file, and stores nothing', async () => {
    const stream = createReadStream(join(dir, 'no-such.raw'));
    await expect(store.add('missing-source', stream, 10)).rejects.toThrow(/ENOENT/);
    await expect(
      store.getSize(`file://${join(dir, 'images', 'missing-source')}`),
    ).rejects.toBeInstanceOf(NotFound);
  });

  it('fails with ImageSizeMismatch when the file is shorter than declared', async () => {
    const stream = createReadStream(path);
    await expect(store.add('declared-longer', stream, image.byteLength + 1)).rejects.toBeInstanceOf(
      ImageSizeMismatch,
    );
    expect(stream.destroyed).toBe(true);
  });

  it('reads a file that grew after the stream opened it to its end, as the stream would', async () => {
    const growing = join(dir, 'growing.raw');
    await writeFile(growing, image.subarray(0, 3 * MiB));
    const stream = createReadStream(growing);
    await new Promise<void>((resolve) => stream.once('ready', () => resolve()));
    await appendFile(growing, image.subarray(3 * MiB));
    const added = await store.add('grown', stream, 0);
    expect(added.size).toBe(image.byteLength);
    expect(added.multihash).toBe(sha512(image));
  });

  it('stops on abort with OperationAborted, closes the file and stores nothing', async () => {
    const big = join(dir, 'stream-abort.raw');
    await writeFile(big, randomBytes(32 * MiB));
    const controller = new AbortController();
    const stream = createReadStream(big);
    const adding = store.add('stream-aborted', stream, 32 * MiB, {
      signal: controller.signal,
      onProgress: (bytes) => {
        if (bytes >= 2 * MiB) controller.abort();
      },
    });
    await expect(adding).rejects.toBeInstanceOf(OperationAborted);
    await new Promise<void>((resolve) =>
      stream.closed ? resolve() : stream.once('close', () => resolve()),
    );
    expect(stream.destroyed).toBe(true);
    await expect(
      store.getSize(`file://${join(dir, 'images', 'stream-aborted')}`),
    ).rejects.toBeInstanceOf(NotFound);
  });

  it('streams a FIFO through the stream itself (no positions to read at)', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', `cat '${path}' > '${fifo}'`]);
    const stream = createReadStream(fifo);
    const added = await store.add('from-fifo', stream, image.byteLength);
    expect(added.multihash).toBe(sha512(image));
    expect(stream.bytesRead).toBe(image.byteLength);
    await new Promise((resolve) =>
      writer.exitCode !== null ? resolve(undefined) : writer.once('exit', resolve),
    );
  });
});
