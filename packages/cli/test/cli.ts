/** Runs the built `store` bin as a subprocess, in a temporary home and data dir. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built bin, as package.json's `bin.store` names it. */
export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/** Fails early, naming the fix, when the CLI is not built or older than its sources. */
export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'pnpm build' in packages/cli`);
  const built = statSync(CLI).mtimeMs;
  const src = join(dirname(CLI), '..', 'src');
  const stale = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((e) =>
      e.isDirectory() ? stale(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs > built,
    );
  if (stale(src)) throw new Error(`${CLI} is older than src/: run 'pnpm build' in packages/cli`);
}

/** A scratch area: a working dir, a home and a data dir, none of them the user's. */
export interface Sandbox {
  readonly root: string;
  readonly cwd: string;
  readonly dataDir: string;
  readonly env: Record<string, string>;
  cleanup(): void;
}

export function sandbox(): Sandbox {
  const root = mkdtempSync(join(tmpdir(), 'store-cli-test-'));
  const cwd = join(root, 'work');
  const home = join(root, 'home');
  const dataDir = join(root, 'data');
  mkdirSync(cwd);
  mkdirSync(home);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('STORE_') && k !== 'XDG_DATA_HOME') env[k] = v;
  }
  Object.assign(env, { HOME: home, STORE_DATA_DIR: dataDir, NO_COLOR: '1' });
  return { root, cwd, dataDir, env, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** The outcome of one run. */
export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: string;
  /** stdout as text. */
  readonly out: string;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: Record<string, string | undefined>;
  readonly input?: Buffer | string;
}

/** Spawns `node dist/cli.js ...args` and waits for it. */
export function start(box: Sandbox, args: readonly string[], options: RunOptions = {}) {
  const env = { ...box.env, ...options.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? box.cwd,
    env: env as Record<string, string>,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const out = Buffer.concat(stdout);
      resolve({ code, signal, stdout: out, stderr, out: out.toString() });
    });
  });
  // A command that stops early (Ctrl-C, an error) closes stdin under a pending write:
  // that EPIPE is the test's doing, not a result.
  child.stdin.on('error', () => {});
  if (options.input !== undefined) child.stdin.end(options.input);
  else if (!args.includes('-')) child.stdin.end();
  return { child: child as ChildProcess, done };
}

/** Runs the CLI to completion. */
export function run(box: Sandbox, args: readonly string[], options: RunOptions = {}) {
  return start(box, args, options).done;
}

/** Parses a JSON document printed by the CLI. */
export function json<T = Record<string, unknown>>(text: string): T {
  return JSON.parse(text) as T;
}

/** Every file under `dir` (relative paths), hidden ones included; [] if it does not exist. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, prefix: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), `${prefix}${e.name}/`);
      else out.push(`${prefix}${e.name}`);
    }
  };
  walk(dir, '');
  return out.sort();
}
