/**
 * `store get … | head -c 10`: the reader leaves early. The CLI stops the read
 * and exits as `cat` does there (killed by SIGPIPE: status 141), printing nothing.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, CLI, filesUnder, json, run, type Sandbox, sandbox } from './cli.js';

let box: Sandbox;
// Far larger than a pipe's buffer, so the CLI is still writing when the reader leaves.
const body = Buffer.alloc(24 * 1024 * 1024, 0x5a);

beforeAll(() => {
  assertBuilt();
  box = sandbox();
  writeFileSync(join(box.cwd, 'big.img'), body);
});
afterAll(() => box.cleanup());

/** Runs `left | head -c 10` in bash; returns both exit statuses, head's bytes and left's stderr. */
function pipeIntoHead(left: string, args: readonly string[]) {
  const script = `${left} 2>"$ERRFILE" | head -c 10 | od -An -tx1; echo "status \${PIPESTATUS[0]} \${PIPESTATUS[1]}"`;
  const errFile = join(box.root, `stderr-${Math.random().toString(16).slice(2)}`);
  const out = execFileSync('bash', ['-c', script, 'bash', ...args], {
    cwd: box.cwd,
    env: { ...box.env, ERRFILE: errFile },
    encoding: 'utf8',
    timeout: 30_000,
  });
  const stderr = execFileSync('cat', [errFile], { encoding: 'utf8' });
  return { out, stderr };
}

describe('a reader that leaves early', () => {
  it('is what cat does: status 141 from cat itself, silently', () => {
    const { out, stderr } = pipeIntoHead('cat "$1"', [join(box.cwd, 'big.img')]);
    expect(out).toContain('status 141 0');
    expect(stderr).toBe('');
  });

  it('stops store get quietly with status 141 and leaves the image as it was', async () => {
    const added = json<{ location: string }>(
      (await run(box, ['add', 'big.img', '--id', 'big', '--json'])).out,
    );
    const { out, stderr } = pipeIntoHead(`"${process.execPath}" "${CLI}" get "$1"`, [
      added.location,
    ]);
    expect(stderr).toBe('');
    expect(out).toContain(' 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a');
    expect(out).toContain('status 141 0');
    // Nothing left behind, and the image still reads whole.
    expect(filesUnder(box.dataDir)).toEqual(['local/big']);
    const size = await run(box, ['size', added.location]);
    expect(size.out.trim()).toContain(String(body.byteLength));
    // With --json the result document would go to stderr: it is not printed either.
    const quiet = pipeIntoHead(`"${process.execPath}" "${CLI}" get "$1" --json`, [added.location]);
    expect(quiet.stderr).toBe('');
    expect(quiet.out).toContain('status 141 0');
  });
});
