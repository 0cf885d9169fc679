// The last check of the full test run: scans everything the test run printed (each
// package's vitest output and JSON report) for the credentials tools/services made (S3 keys,
// the Azure account key, every cephx key of the cluster). A credential anywhere in that output
// is a leak past @store's masking. Writes its verdict as one more vitest-style JSON report, so
// the summary line counts it as a test.
//   node tools/test.d/secrets.mjs <results-dir> <services-dir>
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// testkit's vitest-free subpath, from its build (tools/test builds every package first;
// tools/ is no workspace package, so the name @store/testkit does not resolve here).
import { parseEnvFile } from '../../packages/testkit/dist/services.js';

const [results, services] = process.argv.slice(2);
const secrets = new Map();
const envFile = join(services, 'env');
if (existsSync(envFile)) {
  const env = parseEnvFile(readFileSync(envFile, 'utf8'));
  for (const name of [
    'STORE_TEST_S3_ACCESS_KEY',
    'STORE_TEST_S3_SECRET_KEY',
    'STORE_TEST_AZURE_KEY',
    'STORE_TEST_SWIFT_KEY',
  ]) {
    if (env[name]) secrets.set(name, env[name]);
  }
}
// cephx keys: `key = AQ...` lines of every keyring under the Ceph run directory.
const keyrings = [];
const walk = (dir) => {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (entry.name.endsWith('keyring')) keyrings.push(path);
  }
};
walk(join(services, 'ceph'));
for (const keyring of keyrings) {
  for (const [, key] of readFileSync(keyring, 'utf8').matchAll(/^\s*key\s*=\s*(\S+)/gm)) {
    secrets.set(`cephx key in ${keyring.slice(services.length + 1)}`, key);
  }
}

const leaks = [];
for (const file of readdirSync(results)) {
  if (!file.endsWith('.log') && !file.endsWith('.json')) continue;
  const text = readFileSync(join(results, file), 'utf8');
  for (const [name, value] of secrets) {
    if (value.length >= 8 && text.includes(value)) leaks.push(`${name} appears in ${file}`);
  }
}
const title = `no credential of the test services appears in the test run's output (${secrets.size} checked)`;
for (const leak of leaks) process.stderr.write(`secret scan: ${leak}\n`);
const failed = leaks.length > 0 || secrets.size === 0;
if (secrets.size === 0) process.stderr.write('secret scan: no credentials found to look for\n');
writeFileSync(
  join(results, 'secret-scan.json'),
  JSON.stringify({
    numPassedTests: failed ? 0 : 1,
    numFailedTests: failed ? 1 : 0,
    numPendingTests: 0,
    numTodoTests: 0,
    testResults: [
      {
        name: 'tools/test.d/secrets.mjs',
        status: failed ? 'failed' : 'passed',
        message: leaks.join('; '),
        assertionResults: [{ title, status: failed ? 'failed' : 'passed' }],
      },
    ],
  }),
);
