/**
 * The CLI embedded in a CommonJS app: `require('@store/cli')` runs on core's CJS
 * copy while the file driver, discovered from its package.json, runs on core's ESM
 * copy. Errors crossing the two must keep their types (backend search, exit codes).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Cli from '../src/index.js';
import { assertBuilt, type Sandbox, sandbox } from './cli.js';

let box: Sandbox;
let dir: string;
let cli: typeof Cli;

beforeAll(() => {
  assertBuilt();
  cli = createRequire(import.meta.url)('../dist/index.cjs') as typeof Cli;
  box = sandbox();
  dir = join(box.root, 'cjs');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'store.conf'),
    `[DEFAULT]\nenabled_backends = fast:file, slow:file\n[glance_store]\ndefault_backend = fast\n` +
      `[fast]\nfilesystem_store_datadir = ${dir}/fast\n[slow]\nfilesystem_store_datadir = ${dir}/slow\n`,
  );
  writeFileSync(join(dir, 'image.raw'), 'kept in the slow backend');
});
afterAll(() => box.cleanup());

async function runCjs(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await cli.runCli(['--config', join(dir, 'store.conf'), ...args], {
    stdin: Readable.from([]),
    stdout,
    stderr,
    env: box.env,
    cwd: dir,
  });
  return { code, out: Buffer.concat(out).toString(), err: Buffer.concat(err).toString() };
}

describe("require('@store/cli').runCli", () => {
  it('finds an image in the second backend by location and reports NotFound typed', async () => {
    const added = await runCjs(['add', 'image.raw', '--backend', 'slow', '--id', 'img', '--json']);
    expect(added.err).toBe('');
    expect(added.code).toBe(0);
    const { location } = JSON.parse(added.out) as { location: string };
    expect(location).toBe(`file://${dir}/slow/img`);

    const size = await runCjs(['size', location]);
    expect(size.err).toBe('');
    expect(size.out.trim()).toMatch(/^24\b/);
    const got = await runCjs(['get', location]);
    expect(got.out).toBe('kept in the slow backend');
    expect((await runCjs(['delete', location])).code).toBe(0);

    const missing = await runCjs(['size', location]);
    expect(missing.code).toBe(cli.EXIT.FAILURE);
    expect(missing.err).toMatch(/^store: NotFound: /);
  });
});
