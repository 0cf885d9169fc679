import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, CLI, filesUnder, json, run, type Sandbox, sandbox } from './cli.js';

let box: Sandbox;
let sample: string;
const body = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7 + (i >> 9)) & 0xff));
const md5 = createHash('md5').update(body).digest('hex');
const sha512 = createHash('sha512').update(body).digest('hex');

beforeAll(() => {
  assertBuilt();
  box = sandbox();
  sample = join(box.cwd, 'sample.img');
  writeFileSync(sample, body);
});
afterAll(() => box.cleanup());

interface Added {
  imageId: string;
  location: string;
  backend: string;
  size: number;
  checksum: string;
  multihash: string;
  hashingAlgo: string;
  metadata: Record<string, unknown>;
}

describe('store add/get/size/delete with the embedded default backend', () => {
  it('adds a file, reads it back through a pipe and a file, and deletes it', async () => {
    const addRun = await run(box, ['add', 'sample.img', '--id', 'img-1', '--json']);
    expect(addRun.stderr).toBe('');
    expect(addRun.code).toBe(0);
    const added = json<Added>(addRun.out);
    expect(added).toEqual({
      imageId: 'img-1',
      location: `file://${join(box.dataDir, 'local', 'img-1')}`,
      backend: 'local',
      size: body.byteLength,
      checksum: md5,
      multihash: sha512,
      hashingAlgo: 'sha512',
      metadata: { store: 'local' },
    });
    // Only the sandbox's data dir was used, never the home directory's.
    expect(filesUnder(box.dataDir)).toEqual(['local/img-1']);
    expect(filesUnder(box.env.HOME!)).toEqual([]);

    // Streams to stdout: a pipe into sha512sum sees the same digest.
    const piped = execFileSync(
      'sh',
      ['-c', `"${process.execPath}" "${CLI}" get "$1" | sha512sum`, 'sh', added.location],
      {
        cwd: box.cwd,
        env: box.env,
      },
    ).toString();
    expect(piped.split(' ')[0]).toBe(sha512);

    const got = await run(box, ['get', added.location]);
    expect(got.code).toBe(0);
    expect(got.stdout.equals(body)).toBe(true);
    expect(got.stderr).toBe('');

    const out = join(box.cwd, 'copy.img');
    const toFile = await run(box, ['get', added.location, '--out', 'copy.img', '--json']);
    expect(json(toFile.out)).toEqual({
      location: added.location,
      backend: 'local',
      size: body.byteLength,
      offset: 0,
      bytes: body.byteLength,
      out,
    });
    expect(readFileSync(out).equals(body)).toBe(true);
    expect(filesUnder(box.cwd)).toEqual(['copy.img', 'sample.img']);

    const human = await run(box, ['get', added.location, '--out', out]);
    expect(human.out).toContain(`wrote  ${body.byteLength} bytes to ${out}`);

    const part = await run(box, ['get', added.location, '--offset', '1000', '--length', '5']);
    expect(part.stdout.equals(body.subarray(1000, 1005))).toBe(true);
    const partJson = await run(box, ['get', added.location, '--offset', '299998', '--json']);
    expect(partJson.stdout.equals(body.subarray(299_998))).toBe(true);
    expect(json(partJson.stderr)).toMatchObject({ offset: 299_998, bytes: 2, out: null });

    const size = await run(box, ['size', added.location]);
    expect(size.out).toBe(`${body.byteLength}\n`);
    expect(json((await run(box, ['size', added.location, '--json'])).out)).toEqual({
      location: added.location,
      size: body.byteLength,
    });

    const del = await run(box, ['delete', added.location]);
    expect(del.code).toBe(0);
    expect(del.out).toBe(`deleted ${added.location}\n`);
    expect(filesUnder(join(box.dataDir, 'local'))).toEqual([]);
  });

  it('prints location, size and both digests for humans', async () => {
    const result = await run(box, ['add', sample, '--hash', 'sha256', '--id', 'human']);
    expect(result.code).toBe(0);
    const sha256 = createHash('sha256').update(body).digest('hex');
    expect(result.out).toContain(`location   file://${join(box.dataDir, 'local', 'human')}\n`);
    expect(result.out).toContain(`size       ${body.byteLength}\n`);
    expect(result.out).toContain(`checksum   ${md5} (md5)\n`);
    expect(result.out).toContain(`multihash  ${sha256} (sha256)\n`);
    // Piped stderr: no progress bar, no noise.
    expect(result.stderr).toBe('');
  });

  it('adds from stdin, with and without a declared size', async () => {
    const unknown = await run(box, ['add', '-', '--id', 'stdin-1', '--json'], { input: body });
    expect(json<Added>(unknown.out)).toMatchObject({ size: body.byteLength, multihash: sha512 });
    const declared = await run(box, ['add', '-', '--id', 'stdin-2', '--size', '300000', '--json'], {
      input: body,
    });
    expect(json<Added>(declared.out).checksum).toBe(md5);
    const short = await run(box, ['add', '-', '--id', 'stdin-3', '--size', '300001'], {
      input: body,
    });
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/^store: ImageSizeMismatch: .*shorter than the declared size/);
    expect(existsSync(join(box.dataDir, 'local', 'stdin-3'))).toBe(false);
    expect(filesUnder(join(box.dataDir, 'local')).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('refuses a duplicate id and an unknown hash without touching the stored image', async () => {
    await run(box, ['add', sample, '--id', 'dup']);
    const dup = await run(box, ['add', '-', '--id', 'dup'], { input: 'other bytes' });
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/^store: Duplicate: /);
    expect(readFileSync(join(box.dataDir, 'local', 'dup')).equals(body)).toBe(true);
    const algo = await run(box, ['add', sample, '--id', 'algo', '--hash', 'nope256']);
    expect(algo.code).toBe(1);
    expect(algo.stderr).toBe("store: UnknownHashingAlgo: Unknown hashing algorithm 'nope256'\n");
    const missing = await run(box, ['add', 'no-such-file', '--json']);
    expect(missing.code).toBe(1);
    expect(json<{ error: { code: string } }>(missing.stderr).error.code).toBe('NotFound');
  });

  it('exits 1 with NotFound for a missing image, in every command', async () => {
    const location = `file://${join(box.dataDir, 'local', 'missing')}`;
    for (const args of [
      ['get', location],
      ['get', location, '--out', 'never.img'],
      ['size', location],
      ['delete', location],
      ['verify', location, '--checksum', md5],
    ]) {
      const result = await run(box, args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr, args.join(' ')).toMatch(/^store: NotFound: Image not found/);
      expect(result.stderr).not.toContain('    at ');
      const asJson = await run(box, [...args, '--json']);
      expect(asJson.code).toBe(1);
      expect(json<{ error: { code: string } }>(asJson.stderr).error.code).toBe('NotFound');
    }
    expect(existsSync(join(box.cwd, 'never.img'))).toBe(false);
    const other = await run(box, ['get', 'rbd://fsid/images/x/snap']);
    expect(other.stderr).toBe(
      "store: UnknownScheme: No backend is configured for the 'rbd' scheme\n",
    );
  });

  it('verifies an image against its checksum and multihash', async () => {
    const added = json<Added>((await run(box, ['add', sample, '--id', 'ver', '--json'])).out);
    const ok = await run(box, ['verify', added.location, '--checksum', md5, '--multihash', sha512]);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain(`checksum   ${md5} (md5) matches`);
    const okJson = await run(box, ['verify', added.location, '--multihash', sha512, '--json']);
    expect(json(okJson.out)).toEqual({
      ok: true,
      location: added.location,
      backend: 'local',
      size: body.byteLength,
      multihash: sha512,
      hashingAlgo: 'sha512',
    });
    const bad = await run(box, ['verify', added.location, '--checksum', '0'.repeat(32)]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^store: ChecksumMismatch: /);
  });

  it('shows the stack only with --debug, and never a credential', async () => {
    const location = 'file://admin:hunter2secret@/images/x';
    const plain = await run(box, ['get', location]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/^store: BadStoreUri: /);
    expect(plain.stderr).not.toContain('hunter2secret');
    expect(plain.stderr).not.toContain('    at ');
    const debug = await run(box, ['get', location, '--debug']);
    expect(debug.code).toBe(1);
    expect(debug.stderr).toContain('    at ');
    expect(debug.stderr).not.toContain('hunter2secret');
  });
});
