import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { parseEnvFile, serviceEnv } from '../src/index.js';

afterEach(() => vi.unstubAllEnvs());

it('parses the env file tools/services writes', () => {
  expect(parseEnvFile('A=1\nB="two words"\n# c\nbad line\n')).toEqual({ A: '1', B: 'two words' });
});

it('reads variables from the services env file, skips loudly, or fails when services are required', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'store-env-'));
  await writeFile(join(dir, 'env'), 'STORE_TEST_X=from-file\n');
  vi.stubEnv('STORE_SERVICES_DIR', dir);
  vi.stubEnv('STORE_REQUIRE_SERVICES', '');
  expect(serviceEnv('x', ['STORE_TEST_X'])).toEqual({ STORE_TEST_X: 'from-file' });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  expect(serviceEnv('y-service', ['STORE_TEST_Y'])).toBeUndefined();
  expect(String(stderr.mock.calls[0]?.[0])).toContain(
    'SKIPPING y-service tests: y-service is not running: STORE_TEST_Y not set',
  );
  stderr.mockRestore();
  vi.stubEnv('STORE_REQUIRE_SERVICES', '1');
  expect(() => serviceEnv('y-service', ['STORE_TEST_Y'])).toThrow(
    'STORE_REQUIRE_SERVICES=1 forbids skipping',
  );
});
