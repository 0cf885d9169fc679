/**
 * A real orphan of a file backend: a child process adds a never-ending image to
 * a data directory and is killed with SIGKILL once its temporary file exists.
 * The child runs this package's build (dist/), as partials.test.ts's does.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEMP_PREFIX } from '../src/index.js';

const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));

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
await store.add(process.argv[3], slow(), 0);
`;

/** Kills an add of `imageId` to `dir` mid-way; resolves with the path of the file it left. */
export async function deadAdd(dir: string, imageId: string): Promise<string> {
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', SLOW_ADD, dir, DIST, imageId],
    {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = once(child, 'exit');
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const mine = (await readdir(dir)).filter((n) => n.startsWith(`${TEMP_PREFIX}${child.pid}-`));
      if (mine.length === 1) return join(dir, mine[0]!);
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`the writer child did not start its add: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  }
}
