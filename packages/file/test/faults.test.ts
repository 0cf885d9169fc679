/**
 * Faults against the real filesystem, on a 4 MiB tmpfs the test mounts: the
 * source errors midway, the AbortSignal fires midway (add and get), the declared
 * size is wrong both ways, the disk fills, the disk turns read-only. After each:
 * a typed error, no partial file, no temporary file, no file handle left open,
 * and the images already stored still read back intact.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { type AddResult, MultiStore, StoreError } from '@store/core';
import { chunked, collect, digest, failingSource, patternBytes } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fileDriver from '../src/index.js';

const MiB = 1024 * 1024;

/**
 * Mounts a small filesystem at `dir`: tmpfs, or failing that (no CAP_SYS_ADMIN
 * for tmpfs) an ext2 image on a loop device. Returns how, or why neither works.
 */
function mountSmall(dir: string, image: string): { how: string } | { why: string } {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'pipe' });
    return { how: 'tmpfs' };
  } catch (tmpfsErr) {
    try {
      execFileSync('truncate', ['-s', '4M', image], { stdio: 'pipe' });
      execFileSync('mkfs.ext2', ['-q', '-F', image], { stdio: 'pipe' });
      execFileSync('mount', ['-o', 'loop', image, dir], { stdio: 'pipe' });
      return { how: 'loop' };
    } catch (loopErr) {
      return {
        why: `cannot mount a small filesystem: tmpfs: ${String((tmpfsErr as Error).message).trim()}; loop: ${String((loopErr as Error).message).trim()}`,
      };
    }
  }
}

let root: string;
let dir: string;
let mounted: { how: string } | { why: string } = { why: 'not tried' };
let store: MultiStore;
/** Images committed so far, which every fault must leave intact. */
const kept = new Map<string, { added: AddResult; data: Uint8Array }>();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'store-file-faults-'));
  dir = join(root, 'small');
  await mkdir(dir);
  mounted = mountSmall(dir, join(root, 'small.img'));
  // Loud, not silent: this suite needs root (mount). CI runs as root.
  if ('why' in mounted) console.warn(`file fault tests SKIPPED: ${mounted.why}`);
  store = await MultiStore.create(
    {
      enabledBackends: { small: 'file' },
      defaultBackend: 'small',
      backends: { small: { filesystem_store_datadir: dir } },
    },
    { drivers: [fileDriver] },
  );
});
afterAll(async () => {
  await store?.close();
  if ('how' in mounted) execFileSync('umount', [dir]);
  await rm(root, { recursive: true, force: true });
});

async function keep(id: string, size: number): Promise<void> {
  const data = patternBytes(size, kept.size + 100);
  const added = await store.add(id, chunked(data), size);
  kept.set(id, { added, data });
}

/** File descriptors of this process open on anything under `path`. */
async function openHandlesUnder(path: string): Promise<string[]> {
  const fds = await readdir('/proc/self/fd');
  const targets = await Promise.all(
    fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')),
  );
  return targets.filter((t) => t.startsWith(path));
}

async function noHandlesUnder(path: string): Promise<void> {
  // Streams close their descriptor asynchronously after an error: give them a moment.
  for (let i = 0; i < 50 && (await openHandlesUnder(path)).length > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(await openHandlesUnder(path)).toEqual([]);
}

/** The checks after every fault: typed error, nothing left behind, old images intact. */
async function expectCleanFailure(attempt: Promise<unknown>, code: string): Promise<StoreError> {
  const err = await attempt.then(
    () => {
      throw new Error(`expected ${code}, but the add succeeded`);
    },
    (e: unknown) => e,
  );
  expect(err, String(err)).toBeInstanceOf(StoreError);
  expect((err as StoreError).code, String(err)).toBe(code);
  expect((await readdir(dir)).filter((n) => n !== 'lost+found').sort()).toEqual(
    [...kept.keys()].sort(),
  );
  for (const { added, data } of kept.values()) {
    const { stream } = await store.get(added.location, {
      verify: { checksum: added.checksum, multihash: added.multihash },
    });
    expect(digest('sha512', await collect(stream))).toBe(digest('sha512', data));
  }
  await noHandlesUnder(dir);
  return err as StoreError;
}

describe.skipIf(process.getuid?.() !== 0)('file driver faults on a small filesystem', () => {
  it('mounted a small filesystem for the tests', () => {
    expect(mounted, 'why' in mounted ? mounted.why : '').toHaveProperty('how');
  });

  it('the source stream errors midway (async iterable and Readable, known and unknown size)', async () => {
    await keep('kept-1', 700_000);
    const data = patternBytes(2 * MiB, 1);
    const boom = new Error('source failed midway');
    for (const size of [data.byteLength, 0]) {
      const err = await expectCleanFailure(
        store.add('src-fail', failingSource(data, MiB, boom), size),
        'BackendException',
      );
      expect(err.cause).toBe(boom);
      const readable = new Readable({ read() {} });
      readable.push(Buffer.from(data.subarray(0, 300_000)));
      setTimeout(() => readable.destroy(new Error('socket hang up')), 20);
      await expectCleanFailure(store.add('src-fail', readable, size), 'BackendException');
    }
  });

  it('the source yields something other than bytes midway', async () => {
    async function* mixed() {
      yield patternBytes(100_000, 2);
      yield 'not bytes' as unknown as Uint8Array;
    }
    await expectCleanFailure(store.add('src-text', mixed(), 0), 'Invalid');
  });

  it('the AbortSignal fires midway through an add', async () => {
    const controller = new AbortController();
    async function* slow() {
      for (let i = 0; i < 20; i++) {
        yield patternBytes(100_000, i);
        if (i === 3) controller.abort(new Error('client went away'));
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    await expectCleanFailure(
      store.add('aborted', slow(), 2_000_000, { signal: controller.signal }),
      'OperationAborted',
    );
    // A source that stalls forever is abandoned when the signal fires.
    const stalled = new AbortController();
    async function* stalls() {
      yield patternBytes(100_000, 1);
      await new Promise(() => {});
    }
    setTimeout(() => stalled.abort(), 30);
    await expectCleanFailure(
      store.add('stalled', stalls(), 0, { signal: stalled.signal }),
      'OperationAborted',
    );
  });

  it('the AbortSignal fires midway through a get: the stream fails and the file is closed', async () => {
    await keep('kept-2', 1_500_000);
    const controller = new AbortController();
    const { stream } = await store.get(kept.get('kept-2')!.added.location, {
      signal: controller.signal,
    });
    let received = 0;
    const err = await (async () => {
      for await (const chunk of stream) {
        received += (chunk as Buffer).byteLength;
        controller.abort();
      }
    })().catch((e) => e);
    expect(err.code).toBe('OperationAborted');
    expect(received).toBeLessThan(1_500_000);
    await noHandlesUnder(dir);
    // A reader that simply stops early (destroy) also releases the file.
    const early = await store.get(kept.get('kept-2')!.added.location);
    early.stream.once('data', () => early.stream.destroy());
    await new Promise((r) => early.stream.once('close', r));
    await noHandlesUnder(dir);
  });

  it('the declared size is wrong both ways', async () => {
    const data = patternBytes(500_000, 3);
    await expectCleanFailure(
      store.add('too-long', chunked(data), data.byteLength - 1),
      'ImageSizeMismatch',
    );
    await expectCleanFailure(
      store.add('too-short', chunked(data), data.byteLength + 1),
      'ImageSizeMismatch',
    );
  });

  it('the disk fills (known and unknown size), and space freed is usable again', async () => {
    const big = patternBytes(5 * MiB, 4);
    for (const size of [big.byteLength, 0]) {
      await expectCleanFailure(store.add('too-big', chunked(big), size), 'StorageFull');
    }
    // Fill it with images, then one more cannot fit; delete one and it fits.
    const filler = patternBytes(600_000, 5);
    let n = 0;
    for (;;) {
      const id = `fill-${n++}`;
      const err = await store.add(id, filler, filler.byteLength).then(
        (added) => {
          kept.set(id, { added, data: filler });
        },
        (e: unknown) => e,
      );
      if (err) {
        expect((err as StoreError).code).toBe('StorageFull');
        break;
      }
      expect(n).toBeLessThan(20);
    }
    await expectCleanFailure(store.add('one-more', filler, filler.byteLength), 'StorageFull');
    const [firstFill] = [...kept.keys()].filter((k) => k.startsWith('fill-'));
    await store.delete(kept.get(firstFill!)!.added.location);
    kept.delete(firstFill!);
    await keep('after-full', 500_000);
  });

  it('the disk turns read-only', async () => {
    execFileSync('mount', ['-o', 'remount,ro', dir]);
    try {
      await expectCleanFailure(
        store.add('read-only', patternBytes(1000, 6), 1000),
        'StorageWriteDenied',
      );
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', dir]);
    }
    await keep('after-ro', 1000);
  });

  it('two adds of the same id race: one wins, the other is Duplicate, no temp file', async () => {
    const a = patternBytes(30_000, 7);
    const b = patternBytes(30_000, 8);
    const results = await Promise.allSettled([
      store.add('race', chunked(a), a.byteLength),
      store.add('race', chunked(b), b.byteLength),
    ]);
    const won = results.findIndex((r) => r.status === 'fulfilled');
    expect(won).toBeGreaterThanOrEqual(0);
    const lost = results[1 - won]!;
    expect(lost.status).toBe('rejected');
    expect(((lost as PromiseRejectedResult).reason as StoreError).code).toBe('Duplicate');
    const added = (results[won] as PromiseFulfilledResult<AddResult>).value;
    kept.set('race', { added, data: won === 0 ? a : b });
    await expectCleanFailure(store.add('race', a, a.byteLength), 'Duplicate');
  });
});
