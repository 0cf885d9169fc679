/**
 * filesystem_store_timeout against a filesystem that really hangs: hangfs.py, a
 * FUSE server that stops answering chosen requests, as a dead NFS server does.
 * The calls wait in the kernel and hold libuv threads; the driver must free its
 * callers with RemoteServiceUnavailable, leave nothing behind, and keep another
 * backend of the same process working meanwhile. Needs root and /dev/fuse.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { MultiStore } from '@store/core';
import { collect, failure, patternBytes } from '@store/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fileDriver, { TEMP_PREFIX } from '../src/index.js';

const canMount = process.getuid?.() === 0 && existsSync('/dev/fuse');

/** The FUSE server, driven through its stdin. */
class HangFs {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: string[] = [];
  readonly #waiters: Array<() => void> = [];

  constructor(mountpoint: string) {
    this.#child = spawn('python3', [join(__dirname, 'hangfs.py'), mountpoint]);
    createInterface({ input: this.#child.stdout }).on('line', (line) => {
      this.#lines.push(line);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.#child.stderr.on('data', (d) => process.stderr.write(d));
  }

  /** Waits for a line starting with `prefix` (after the ones already seen). */
  async line(prefix: string): Promise<string> {
    for (;;) {
      const at = this.#lines.findIndex((l) => l.startsWith(prefix));
      if (at >= 0) return this.#lines.splice(0, at + 1).at(-1)!;
      if (this.#child.exitCode !== null) throw new Error(`hangfs exited: ${this.#lines}`);
      await new Promise<void>((wake) => this.#waiters.push(wake));
    }
  }

  async command(text: string): Promise<void> {
    this.#child.stdin.write(`${text}\n`);
    await this.line(`ok ${text.split(' ')[0]}`);
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((done) => this.#child.once('exit', done));
    this.#child.stdin.write('resume\nexit\n');
    await exited;
  }
}

/** Polls `op` until it succeeds: a stuck call returns soon after the server answers it. */
async function eventually<T>(op: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await op();
    } catch (err) {
      if (i >= 200) throw err;
      await sleep(50);
    }
  }
}

describe.skipIf(!canMount)('filesystem_store_timeout on a hung FUSE mount', () => {
  let root: string;
  let mountpoint: string;
  let fs: HangFs;
  let store: MultiStore;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'store-file-timeout-'));
    mountpoint = join(root, 'mnt');
    await mkdir(mountpoint);
    fs = new HangFs(mountpoint);
    await fs.line('ready');
    store = await MultiStore.create(
      {
        enabledBackends: { nfs: 'file', local: 'file' },
        defaultBackend: 'nfs',
        backends: {
          nfs: {
            filesystem_store_datadir: mountpoint,
            filesystem_store_timeout: 1,
            filesystem_store_partial_max_age: 0,
          },
          local: { filesystem_store_datadir: join(root, 'local') },
        },
      },
      { drivers: [fileDriver] },
    );
  });
  afterEach(async () => {
    // Every test leaves the server answering and the backend unstuck: calls are
    // made again (an image that is not there is NotFound, no longer refused).
    await fs.command('resume');
    await eventually(async () => {
      const err = await failure(store.getSize(`file://${mountpoint}/nothing`));
      if (err.code !== 'NotFound') throw err;
    });
  });
  afterAll(async () => {
    await fs?.stop();
    await store?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('a read that hangs frees the reader; the other backend works meanwhile; the backend recovers', async () => {
    const bytes = patternBytes(3 << 20, 7);
    const { location } = await store.add('hung-read', bytes, bytes.length);
    const local = await store.add('beside', bytes, bytes.length, { backend: 'local' });

    await fs.command('stall read');
    // More readers than libuv has threads: unguarded, they would take all of them.
    const gets = await Promise.all(Array.from({ length: 6 }, () => store.get(location)));
    const failures = await Promise.all(gets.map(({ stream }) => failure(collect(stream))));
    for (const err of failures) expect(err.code).toBe('RemoteServiceUnavailable');
    expect(failures.map((f) => f.message).join('\n')).toMatch(
      /read of .*hung-read did not return within 1 s \(filesystem_store_timeout\)/,
    );

    // Reads are still held in the kernel; new calls on this backend are refused at once,
    const refused = await failure(store.getSize(location));
    expect(refused.code).toBe('RemoteServiceUnavailable');
    expect(refused.message).toMatch(/not attempted: an earlier call/);
    // and the other backend, on the same thread pool, still reads, writes and deletes.
    const { stream } = await store.get(local.location);
    expect(Buffer.compare(await collect(stream), bytes)).toBe(0);
    const more = await store.add('beside-2', bytes, bytes.length, { backend: 'local' });
    await store.delete(more.location);

    await fs.command('resume');
    expect(await eventually(() => store.getSize(location))).toBe(bytes.length);
    const again = await store.get(location);
    expect(Buffer.compare(await collect(again.stream), bytes)).toBe(0);
    await store.delete(location);
    await store.delete(local.location);
  });

  it('an open that hangs fails the get, and a stat that hangs fails getSize and delete', async () => {
    const bytes = patternBytes(4096, 3);
    const { location } = await store.add('hung-open', bytes, bytes.length);

    await fs.command('stall open');
    const opening = await failure(store.get(location));
    expect(opening.code).toBe('RemoteServiceUnavailable');
    // The manager's retry (store_retry_attempts, 2 by default) is refused at once
    // while the open is stuck; either message names the call.
    expect(opening.message).toMatch(/open of .*hung-open\)? (did not return|has not returned)/);
    await fs.command('resume');
    await eventually(() => store.getSize(location));

    await fs.command('stall lookup getattr');
    expect((await failure(store.getSize(location))).code).toBe('RemoteServiceUnavailable');
    expect((await failure(store.delete(location))).code).toBe('RemoteServiceUnavailable');
    await fs.command('resume');
    // The delete was refused before it was attempted: the image is still there.
    expect(await eventually(() => store.getSize(location))).toBe(bytes.length);
    await store.delete(location);
  });

  it('a write that hangs fails the add, and its temporary file is removed once the mount answers', async () => {
    const bytes = patternBytes(2 << 20, 5);
    await fs.command('stall write');
    const adding = await failure(store.add('hung-write', bytes, bytes.length));
    expect(adding.code).toBe('RemoteServiceUnavailable');
    expect(adding.message).toMatch(/write to a temporary file in .* did not return within 1 s/);
    // The temporary file exists while the write is held.
    expect((await readdir(mountpoint)).some((n) => n.startsWith(TEMP_PREFIX))).toBe(true);
    await fs.command('resume');
    await eventually(async () => {
      const names = await readdir(mountpoint);
      if (names.length > 0) throw new Error(`left behind: ${names}`);
    });
    // The id is free: a new add succeeds.
    const { location } = await store.add('hung-write', bytes, bytes.length);
    await store.delete(location);
  });
});
