import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, watch, writeFileSync } from 'node:fs';
import { truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, CLI, filesUnder, json, run, type Sandbox, sandbox, start } from './cli.js';

const execFileAsync = promisify(execFile);
let box: Sandbox;

beforeAll(() => {
  assertBuilt();
  box = sandbox();
  writeFileSync(join(box.cwd, 'eight.img'), Buffer.alloc(8 << 20, 'progress'));
});
afterAll(() => box.cleanup());

/** Runs a shell command line under a pseudo-terminal (util-linux script). */
async function inPty(commandLine: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout } = await execFileAsync('script', ['-qec', commandLine, '/dev/null'], {
      cwd: box.cwd,
      env: box.env,
      maxBuffer: 64 << 20,
    });
    return { code: 0, output: stdout };
  } catch (err) {
    // script -e exits with the command's code.
    const failed = err as { code?: number; stdout?: string };
    if (typeof failed.code !== 'number') throw err;
    return { code: failed.code, output: failed.stdout ?? '' };
  }
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const store = (args: string) => `${quote(process.execPath)} ${quote(CLI)} ${args}`;

/** Resolves once a file whose name contains `part` appears in `dir`. */
function appears(dir: string, part: string): Promise<void> {
  return new Promise((resolve) => {
    const watcher = watch(dir, () => {
      if (filesUnder(dir).some((f) => f.includes(part))) {
        watcher.close();
        resolve();
      }
    });
    if (filesUnder(dir).some((f) => f.includes(part))) {
      watcher.close();
      resolve();
    }
  });
}

describe('progress bar on a terminal', () => {
  it('draws bytes, percentage, throughput and ETA for add, get, copy and verify', async () => {
    const add = await inPty(store('add eight.img --id pty'));
    expect(add.code).toBe(0);
    expect(add.output).toMatch(
      /add +\[#{24}\] +100% +8\.0 MiB \/ 8\.0 MiB +[\d.]+ [KMGT]?i?B\/s +ETA \d+:\d\d/,
    );
    expect(add.output).toMatch(/location +file:\/\//);
    const location = `file://${join(box.dataDir, 'local', 'pty')}`;
    const get = await inPty(store(`get ${quote(location)} --out back.img`));
    expect(get.code).toBe(0);
    expect(get.output).toMatch(/get +\[#{24}\] +100% +8\.0 MiB \/ 8\.0 MiB/);
    const conf = join(box.root, 'two.conf');
    writeFileSync(
      conf,
      `[DEFAULT]\nenabled_backends = local:file, other:file\n[local]\nfilesystem_store_datadir = ${box.dataDir}/local\n[other]\nfilesystem_store_datadir = ${box.dataDir}/other\n`,
    );
    const copy = await inPty(store(`copy ${quote(location)} --to other --config ${quote(conf)}`));
    expect(copy.code).toBe(0);
    expect(copy.output).toMatch(/copy +\[#{24}\] +100% +8\.0 MiB \/ 8\.0 MiB/);
    const verify = await inPty(store(`verify ${quote(location)} --checksum ${'0'.repeat(32)}`));
    expect(verify.code).toBe(1);
    // The bar is left as drawn and the error starts on a line of its own.
    expect(verify.output).toMatch(/read +\[[#.]{24}\].*\r?\nstore: ChecksumMismatch: /);
  });

  it('draws nothing when piped or with --json', async () => {
    const piped = await run(box, ['add', 'eight.img', '--id', 'piped']);
    expect(piped.stderr).toBe('');
    const asJson = await inPty(store('add eight.img --id pty-json --json'));
    expect(asJson.output).not.toContain('%');
    expect(asJson.output).not.toContain('\x1b[K');
    expect(JSON.parse(asJson.output.replace(/\r/g, ''))).toMatchObject({ imageId: 'pty-json' });
  });
});

describe('Ctrl-C (SIGINT)', () => {
  it('aborts an add, leaving nothing in the backend', async () => {
    const local = join(box.dataDir, 'local');
    const { child, done } = start(box, ['add', '-', '--id', 'interrupted']);
    // Feed a first chunk and keep stdin open, as a slow upload would.
    child.stdin!.write(Buffer.alloc(256 * 1024, 1));
    await appears(local, '.store-partial-');
    child.kill('SIGINT');
    const result = await done;
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'store: OperationAborted: The add was aborted (Interrupted by SIGINT)\n',
    );
    expect(filesUnder(local).filter((f) => f.includes('interrupted') || f.startsWith('.'))).toEqual(
      [],
    );
  });

  it('aborts a get to a file, leaving no output file and no partial one', async () => {
    // A large sparse image placed in the backend's directory: quick to make, slow enough to read.
    await run(box, ['add', '-', '--id', 'huge'], { input: 'x' });
    await truncate(join(box.dataDir, 'local', 'huge'), 1 << 30);
    const location = `file://${join(box.dataDir, 'local', 'huge')}`;
    const outDir = join(box.root, 'out');
    mkdirSync(outDir);
    const { child, done } = start(box, ['get', location, '--out', join(outDir, 'huge.img')]);
    await appears(outDir, '.store-partial-');
    child.kill('SIGINT');
    const result = await done;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^store: OperationAborted: .*Interrupted by SIGINT/);
    expect(filesUnder(outDir)).toEqual([]);
  });

  it('aborts a copy, leaving nothing in the target backend', async () => {
    const location = `file://${join(box.dataDir, 'local', 'huge')}`;
    const target = join(box.root, 'target');
    const conf = join(box.root, 'copy.conf');
    writeFileSync(
      conf,
      `[DEFAULT]\nenabled_backends = local:file, target:file\n[local]\nfilesystem_store_datadir = ${box.dataDir}/local\n[target]\nfilesystem_store_datadir = ${target}\n`,
    );
    const { child, done } = start(box, ['copy', location, '--to', 'target', '--config', conf]);
    mkdirSync(target, { recursive: true });
    await appears(target, '.store-partial-');
    child.kill('SIGINT');
    const result = await done;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^store: OperationAborted: .*Interrupted by SIGINT/);
    expect(filesUnder(target)).toEqual([]);
  });

  it('aborts a get to stdout that is not being read', async () => {
    const location = `file://${join(box.dataDir, 'local', 'huge')}`;
    const { child, done } = start(box, ['get', location, '--json']);
    // Nobody reads stdout for a while: the CLI blocks on backpressure, then gets Ctrl-C.
    child.stdout!.pause();
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.kill('SIGINT');
    child.stdout!.resume();
    const result = await done;
    expect(result.code).toBe(1);
    expect(json<{ error: { code: string } }>(result.stderr).error.code).toBe('OperationAborted');
    expect(result.stdout.byteLength).toBeLessThan(1 << 30);
    expect(existsSync(join(box.dataDir, 'local', 'huge'))).toBe(true);
  });
});
