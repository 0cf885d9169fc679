// Totals vitest's JSON reports (one per package) into the closing line CI reads:
// "N passed, N failed, N skipped". A test file that failed to load counts as a
// failure; under CI, a skipped test is a failure too (a skip hides a missing service).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
  const report = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  for (const suite of report.testResults) {
    if (suite.status === 'failed' && suite.assertionResults.every((a) => a.status !== 'failed')) {
      failed += 1;
      process.stderr.write(
        `${file}: ${suite.name} failed to run: ${(suite.message ?? '').split('\n')[0]}\n`,
      );
    }
  }
}
// tools/test (the README's and CI's test command) sets STORE_REQUIRE_SERVICES=1.
const strict =
  process.env.CI === 'true' || process.env.CI === '1' || process.env.STORE_REQUIRE_SERVICES === '1';
if (strict && skipped > 0)
  process.stderr.write(
    `${skipped} test(s) skipped under the full test run: treated as a failure\n`,
  );
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || (strict && skipped > 0) ? 1 : 0);
