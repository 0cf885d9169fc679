import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, filesUnder, json, run, type Sandbox, sandbox } from './cli.js';

let box: Sandbox;
let dir: string;
const body = Buffer.alloc(2 * 1024 * 1024 + 17, 'copy-image ');

beforeAll(() => {
  assertBuilt();
  box = sandbox();
  dir = join(box.root, 'two');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'store.conf'),
    `[DEFAULT]
enabled_backends = fast:file, slow:file

[glance_store]
default_backend = fast

[fast]
filesystem_store_datadir = ${dir}/fast

[slow]
filesystem_store_datadir = ${dir}/slow
`,
  );
  writeFileSync(join(dir, 'image.raw'), body);
});
afterAll(() => box.cleanup());

interface Copied {
  source: string;
  imageId: string;
  location: string;
  backend: string;
  size: number;
  checksum: string;
  multihash: string;
}

describe('store copy', () => {
  it('streams an image into another backend and verifies it on arrival', async () => {
    const added = json<Copied>(
      (await run(box, ['add', 'image.raw', '--id', 'img', '--json'], { cwd: dir })).out,
    );
    const result = await run(
      box,
      ['copy', added.location, '--to', 'slow', '--id', 'img', '--json'],
      {
        cwd: dir,
      },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const copied = json<Copied>(result.out);
    expect(copied).toMatchObject({
      source: added.location,
      imageId: 'img',
      location: `file://${dir}/slow/img`,
      backend: 'slow',
      size: body.byteLength,
      checksum: createHash('md5').update(body).digest('hex'),
      multihash: added.multihash,
    });
    expect(readFileSync(join(dir, 'slow', 'img')).equals(body)).toBe(true);

    const human = await run(box, ['copy', added.location, '--to', 'slow'], { cwd: dir });
    expect(human.code).toBe(0);
    expect(human.out).toMatch(/^copied {5}file:\/\/.*\/fast\/img$/m);
    expect(human.out).toMatch(/^backend {4}slow$/m);
    expect(human.out).toContain("verified   size and sha512 multihash, read back from 'slow'");
    expect(filesUnder(join(dir, 'slow'))).toHaveLength(2);
  });

  it('fails cleanly: duplicate, unknown target, missing source', async () => {
    const location = `file://${dir}/fast/img`;
    const before = filesUnder(join(dir, 'slow'));
    const dup = await run(box, ['copy', location, '--to', 'slow', '--id', 'img'], { cwd: dir });
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/^store: Duplicate: /);
    const nowhere = await run(box, ['copy', location, '--to', 'nowhere'], { cwd: dir });
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toBe('store: UnknownScheme: Store for identifier nowhere not found\n');
    const missing = await run(box, ['copy', `file://${dir}/fast/gone`, '--to', 'slow', '--json'], {
      cwd: dir,
    });
    expect(missing.code).toBe(1);
    expect(json<{ error: { code: string } }>(missing.stderr).error.code).toBe('NotFound');
    expect(filesUnder(join(dir, 'slow'))).toEqual(before);
    // The image that was there is untouched.
    expect(readFileSync(join(dir, 'slow', 'img')).equals(body)).toBe(true);
  });
});
