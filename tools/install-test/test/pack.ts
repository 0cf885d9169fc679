/**
 * Global setup: packs every workspace package (`pnpm pack`, as publishing would) into a
 * temporary directory outside the repository, and hands the tarballs to the tests.
 * The packages must be built first (tools/test builds before it tests).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Package name -> absolute path of its tarball. */
    tarballs: Record<string, string>;
    /** A scratch directory outside the repository, removed after the run. */
    scratch: string;
  }
}

export const repo = resolve(import.meta.dirname, '../../..');

export default function setup(project: TestProject) {
  const scratch = mkdtempSync(join(tmpdir(), 'store-install-test-'));
  const out = join(scratch, 'tarballs');
  const tarballs: Record<string, string> = {};
  const packagesDir = join(repo, 'packages');
  for (const dir of readdirSync(packagesDir).sort()) {
    const manifest = join(packagesDir, dir, 'package.json');
    let name: string;
    try {
      name = (JSON.parse(readFileSync(manifest, 'utf8')) as { name: string }).name;
    } catch {
      continue;
    }
    const before = new Set(safeList(out));
    execFileSync('pnpm', ['pack', '--pack-destination', out], {
      cwd: join(packagesDir, dir),
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const made = safeList(out).filter((f) => !before.has(f) && f.endsWith('.tgz'));
    if (made.length !== 1) throw new Error(`pnpm pack in packages/${dir} made ${made.join(', ')}`);
    tarballs[name] = join(out, made[0]!);
  }
  project.provide('tarballs', tarballs);
  project.provide('scratch', scratch);
  return () => rmSync(scratch, { recursive: true, force: true });
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
