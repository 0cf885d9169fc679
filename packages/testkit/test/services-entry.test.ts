/**
 * `@store/testkit/services` is for scripts that are not vitest tests (benchmarks,
 * tools/test's checks): importing it must not load vitest, which the main entry
 * (the contract suite) does. Checked in a child node that records every module
 * resolution, against the built package as those scripts load it.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const HOOK = `export async function resolve(specifier, context, next) {
  if (/(^|[/\\\\])vitest([/\\\\@]|$)/.test(specifier)) process.stderr.write('loads vitest\\n');
  return next(specifier, context);
}`;

async function importsVitest(entry: string): Promise<boolean> {
  const script = `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOK)}));
const m = await import(${JSON.stringify(entry)});
if (typeof m.serviceEnv !== 'function') throw new Error('no serviceEnv in ${entry}');`;
  const { stderr } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', script],
    { cwd: join(__dirname, '..') },
  );
  return stderr.includes('loads vitest');
}

it('loads serviceEnv and ports from @store/testkit/services without vitest', async () => {
  expect(await importsVitest('@store/testkit/services')).toBe(false);
  // The main entry does load it: the check can see vitest.
  expect(await importsVitest('@store/testkit')).toBe(true);
}, 30_000);
