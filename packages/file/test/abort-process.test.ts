/**
 * An abort at any moment of a get must never end the process. A child node
 * process (the built packages, as an app loads them) aborts a get in each
 * window and reads, or never reads, afterwards; an unhandled 'error' event
 * would kill it with exit code 1 before it prints its outcomes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

const CHILD = `
import { readdir, readlink } from 'node:fs/promises';
import { MultiStore } from '@store/core';
import fileDriver from '@store/file';
const dir = process.env.DATADIR;
const store = await MultiStore.create(
  { enabledBackends: { local: 'file' }, defaultBackend: 'local', backends: { local: { filesystem_store_datadir: dir } } },
  { drivers: [fileDriver] },
);
const { location } = await store.add('image', Buffer.alloc(3 << 20, 7), 3 << 20);
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const codeOf = (promise) => promise.then(() => 'no error', (err) => err.code);
async function openFiles() {
  const fds = await readdir('/proc/self/fd');
  const paths = await Promise.all(fds.map((fd) => readlink('/proc/self/fd/' + fd).catch(() => '')));
  return paths.filter((p) => p.startsWith(dir)).length;
}
const windows = {
  'before get': async () => codeOf(store.get(location, { signal: AbortSignal.abort() })),
  'while the file opens': async () => {
    const controller = new AbortController();
    const getting = store.get(location, { signal: controller.signal });
    controller.abort();
    return codeOf(getting);
  },
  'after get, read later': async () => {
    const controller = new AbortController();
    const { stream } = await store.get(location, { signal: controller.signal });
    controller.abort();
    await pause(50);
    return codeOf(stream.toArray());
  },
  'after get, never read': async () => {
    const controller = new AbortController();
    await store.get(location, { signal: controller.signal });
    controller.abort();
    await pause(50);
    return 'open files ' + (await openFiles());
  },
};
for (const [name, run] of Object.entries(windows)) console.log(name + ': ' + (await run()));
await store.close();
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'store-file-abort-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('survives an abort in every window of a get, and releases the file', async () => {
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', CHILD],
    { cwd: packageDir, env: { ...process.env, DATADIR: dir }, timeout: 30_000 },
  ).catch((err: { code?: number; stdout?: string; stderr?: string }) => {
    throw new Error(`the child died (exit ${err.code}): ${err.stderr ?? ''}${err.stdout ?? ''}`);
  });
  expect(stderr).toBe('');
  expect(stdout.trim().split('\n')).toEqual([
    'before get: OperationAborted',
    'while the file opens: OperationAborted',
    'after get, read later: OperationAborted',
    'after get, never read: open files 0',
  ]);
});
