/** Temporary apps outside the repository, installed with plain npm from the packed tarballs. */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';

const run = promisify(execFile);

export const fixtures = join(import.meta.dirname, '..', 'fixtures');

/** Runs a command; on failure the error carries its stdout and stderr. */
export async function sh(
  cwd: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
) {
  try {
    return await run(command, args, {
      cwd,
      env: { ...process.env, ...env },
      maxBuffer: 64 << 20,
      timeout: 600_000,
    });
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(
      `${command} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`,
    );
  }
}

/**
 * What the README tells TypeScript users to add (the shipped .d.ts use Node's types), at the
 * repository's own versions.
 */
export function typescriptDevDependencies(): Record<string, string> {
  const { devDependencies } = JSON.parse(
    readFileSync(join(import.meta.dirname, '..', '..', '..', 'package.json'), 'utf8'),
  ) as { devDependencies: Record<string, string> };
  return {
    typescript: devDependencies.typescript!,
    '@types/node': devDependencies['@types/node']!,
  };
}

/** `file:` specs of the named packages' tarballs. */
export function tarballSpecs(names: readonly string[]): Record<string, string> {
  const tarballs = inject('tarballs');
  return Object.fromEntries(
    names.map((name) => {
      const path = tarballs[name];
      if (!path)
        throw new Error(`no tarball for ${name} (packed: ${Object.keys(tarballs).join(', ')})`);
      return [name, `file:${path}`];
    }),
  );
}

/**
 * Every @store package resolved from its tarball wherever it is needed, so npm never asks the
 * registry for a name of ours (an unrelated package may own it there).
 */
export function storeOverrides(): Record<string, string> {
  return tarballSpecs(Object.keys(inject('tarballs')));
}

/**
 * Makes a directory under the scratch area with the given package.json fields and the named
 * fixture files copied in, and runs `npm install` there.
 */
export async function npmApp(
  name: string,
  manifest: Record<string, unknown>,
  files: readonly string[] = [],
): Promise<string> {
  const dir = join(inject('scratch'), name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name, version: '1.0.0', private: true, overrides: storeOverrides(), ...manifest }, null, 2)}\n`,
  );
  for (const file of files)
    cpSync(join(fixtures, file), join(dir, file.split('/').at(-1)!), { recursive: true });
  await npmInstall(dir);
  return dir;
}

export async function npmInstall(dir: string): Promise<void> {
  await sh(dir, 'npm', ['install', '--no-audit', '--no-fund', '--loglevel=error']);
}

/** Every file under `dir`, relative to it (symlinks not followed). */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (sub: string) => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const path = join(sub, entry.name);
      out.push(path);
      if (entry.isDirectory()) walk(path);
    }
  };
  walk('');
  return out.map((p) => relative('', p));
}

/** Runs one of the fixture apps and parses the checks it printed. */
export async function runApp(dir: string, args: string[]): Promise<Record<string, true | string>> {
  return (await runAppOutput<Record<string, true | string>>(dir, args)).result;
}

/**
 * Runs one of the fixture apps with `env` added to its environment: the JSON object it printed
 * last, and everything it printed (for what must never appear there, such as credentials).
 */
export async function runAppOutput<T>(
  dir: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ result: T; stdout: string; stderr: string }> {
  const { stdout, stderr } = await sh(dir, process.execPath, args, env);
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return { result: JSON.parse(last) as T, stdout, stderr };
}
