import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

interface Assertion {
  title: string;
  fullName: string;
  status: string;
}

it('fails a deliberately broken driver on each of its flaws', { timeout: 120_000 }, async () => {
  const out = join(await mkdtemp(join(tmpdir(), 'store-suite-')), 'report.json');
  // The naive driver's data directory is naive/outer/data: ids escaping one or
  // two levels up land in outer or naive, where this test looks for them.
  const naive = await mkdtemp(join(tmpdir(), 'store-naive-'));
  const config = join(__dirname, 'fixtures', 'vitest.config.ts');
  const run = promisify(execFile)(
    'npx',
    ['vitest', 'run', '--config', config, '--reporter=json', `--outputFile=${out}`],
    {
      cwd: join(__dirname, '..'),
      env: { ...process.env, CI: '', STORE_NAIVE_PARENT: join(naive, 'outer') },
    },
  );
  await expect(run).rejects.toMatchObject({ code: 1 });
  const report = JSON.parse(await readFile(out, 'utf8'));
  const results: Assertion[] = report.testResults.flatMap(
    (r: { assertionResults: Assertion[] }) => r.assertionResults,
  );
  const failed = results.filter((a) => a.status === 'failed').map((a) => a.title);
  const passed = results.filter((a) => a.status === 'passed').map((a) => a.title);
  // Flaw 1: ignores offsets while claiming READ_OFFSET.
  expect(failed).toContain(
    'serves offset and chunk reads where capable, and refuses them where not',
  );
  // Flaw 2: writes in place, so failed writes leave partial objects.
  expect(failed).toContain('when the source stream errors midway');
  expect(failed).toContain('when the data is shorter than the declared size');
  // Flaw 3: overwrites instead of raising Duplicate.
  expect(failed).toContain(
    'refuses a second image with the same id (Duplicate) and keeps the first intact',
  );
  // Flaw 4: drops the last byte of large images.
  expect(failed).toContain('round-trips a multi-chunk image of known size with correct checksums');
  // Flaw 6: lists stored images as orphans.
  expect(failed).toContain(
    'lists what a dead add left, never a stored image, and removes only that',
  );
  // Flaw 7: declares a copy of the image as its add's buffer memory.
  expect(failed).toContain(
    'is, where declared, a whole, non-negative number of bytes that does not grow with the image',
  );
  // What the broken driver does right still passes: the suite is not failing wholesale.
  expect(passed).toContain('round-trips a small image of known size with correct checksums');

  // A driver right in everything but its namespace fails exactly the id and
  // location checks; the suite still removes every image, even escaped ones.
  const ofNaive = (outcome: string) =>
    results
      .filter((a) => a.status === outcome && a.fullName.includes('naive driver'))
      .map((a) => a.title);
  expect(ofNaive('failed').sort()).toEqual([
    'parseLocation refuses junk with BadStoreUri',
    'the driver refuses image ids that would escape its namespace, with Invalid',
  ]);
  expect(ofNaive('passed')).toContain('the manager refuses the same ids, storing nothing');
  expect(await readdir(naive)).toEqual(['outer']);
  expect(await readdir(join(naive, 'outer'))).toEqual(['data']);
  expect(await readdir(join(naive, 'outer', 'data'))).toEqual([]);
  await rm(naive, { recursive: true, force: true });

  // Flaw 5, of a read-only driver: answers for missing images instead of NotFound.
  const readOnly = (outcome: string) =>
    results
      .filter((a) => a.status === outcome && a.fullName.includes('broken read-only driver'))
      .map((a) => a.title);
  expect(readOnly('failed')).toContain(
    'raises NotFound for get, getSize and delete of a missing image',
  );
  // A refused add is checked to have left nothing, which this driver cannot show.
  expect(readOnly('failed')).toContain('when the source stream errors midway');
  // Its seeded reads are real checks, and they pass.
  expect(readOnly('passed')).toContain(
    'round-trips a multi-chunk image of known size with correct checksums',
  );
  expect(readOnly('passed')).toContain(
    'serves offset and chunk reads where capable, and refuses them where not',
  );
});
