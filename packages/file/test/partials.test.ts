/**
 * Temporary files a crashed write leaves behind are swept when a file backend
 * starts: a real child process adds a slow image and is killed with SIGKILL,
 * then a new backend over the same directory removes its leftover once old
 * enough, and never one whose writer is still alive.
 *
 * The child runs this package's build (dist/), as the other packages' tests
 * do; tools/test builds before testing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MultiStore } from '@store/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fileDriver, { TEMP_PREFIX } from '../src/index.js';

const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/** Adds `slow-image` to `datadir`: one 64 KiB chunk, then a source that never ends. */
const SLOW_ADD = `
const { MultiStore } = await import('@store/core');
const fileDriver = (await import(process.argv[2])).default;
const store = await MultiStore.create(
  { enabledBackends: { l: 'file' }, defaultBackend: 'l',
    backends: { l: { filesystem_store_datadir: process.argv[1] } } },
  { drivers: [fileDriver] });
setInterval(() => {}, 1000);
async function* slow() {
  yield new Uint8Array(65536).fill(7);
  await new Promise(() => {});
}
await store.add('slow-image', slow(), 0);
`;

let root: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run 'pnpm build' in packages/file`);
  root = await mkdtemp(join(tmpdir(), 'store-file-partials-'));
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function partials(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith(TEMP_PREFIX)).sort();
}

/** Starts a child adding a never-ending image to `dir`; resolves once its temporary file exists. */
async function startSlowAdd(dir: string): Promise<{ child: ChildProcess; partial: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', SLOW_ADD, dir, DIST], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const mine = (await partials(dir)).filter((n) => n.startsWith(`${TEMP_PREFIX}${child.pid}-`));
    if (mine.length === 1) return { child, partial: mine[0]! };
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`the writer child did not start its add: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function killed(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

async function startBackend(dir: string, maxAge?: number): Promise<void> {
  const store = await MultiStore.create(
    {
      enabledBackends: { l: 'file' },
      defaultBackend: 'l',
      backends: {
        l: {
          filesystem_store_datadir: dir,
          ...(maxAge !== undefined ? { filesystem_store_partial_max_age: maxAge } : {}),
        },
      },
    },
    { drivers: [fileDriver] },
  );
  await store.close();
}

/** Sets a file's modification time `seconds` into the past. */
async function age(path: string, seconds: number): Promise<void> {
  const then = new Date(Date.now() - seconds * 1000);
  await utimes(path, then, then);
}

describe('stale temporary files are swept when a file backend starts', () => {
  it('removes what a writer killed with SIGKILL left, once older than the maximum age', async () => {
    const dir = join(root, 'killed');
    await mkdir(dir);
    const { child, partial } = await startSlowAdd(dir);
    await killed(child);
    expect(await partials(dir)).toEqual([partial]);
    // Young: kept (the default maximum age is an hour).
    await startBackend(dir);
    expect(await partials(dir)).toEqual([partial]);
    // Older than the maximum age, its writer gone: removed.
    await age(join(dir, partial), 10);
    await startBackend(dir, 5);
    expect(await partials(dir)).toEqual([]);
  });

  it("never removes a live writer's temporary file, however old", async () => {
    const dir = join(root, 'live');
    await mkdir(dir);
    const { child, partial } = await startSlowAdd(dir);
    await age(join(dir, partial), 7200);
    await startBackend(dir, 1);
    expect(await partials(dir)).toEqual([partial]);
    await killed(child);
    await startBackend(dir, 1);
    expect(await partials(dir)).toEqual([]);
  });

  it('removes old names without a pid, leaves names it did not write, and is off at 0', async () => {
    const dir = join(root, 'names');
    await mkdir(dir);
    const legacy = `${TEMP_PREFIX}0f9e8d7c-6b5a-4c3d-8e1f-0a1b2c3d4e5f`;
    const notOurs = `${TEMP_PREFIX}notes.txt`;
    const aDirectory = `${TEMP_PREFIX}1-0f9e8d7c-6b5a-4c3d-8e1f-0a1b2c3d4e5f`;
    await writeFile(join(dir, legacy), 'x');
    await writeFile(join(dir, notOurs), 'x');
    await mkdir(join(dir, aDirectory));
    await writeFile(join(dir, 'image'), 'an image');
    for (const name of [legacy, notOurs, aDirectory, 'image']) await age(join(dir, name), 7200);
    await startBackend(dir, 0);
    expect(await partials(dir)).toEqual([legacy, aDirectory, notOurs].sort());
    await startBackend(dir);
    expect(await partials(dir)).toEqual([aDirectory, notOurs].sort());
    expect(await readdir(dir)).toContain('image');
  });
});
