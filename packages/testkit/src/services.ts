/**
 * Access to the real backends started by `tools/services up`: it writes
 * `.run/services/env`; tests read the variables from the process environment or
 * from that file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Set to `1` (as CI does) to turn a missing service into a failure instead of a skip. */
export const REQUIRE_SERVICES_VARIABLE = 'STORE_REQUIRE_SERVICES';

function findEnvFile(): string | undefined {
  const explicit = process.env.STORE_SERVICES_DIR;
  if (explicit) return join(explicit, 'env');
  let dir = resolve(process.cwd());
  for (;;) {
    const candidate = join(dir, '.run', 'services', 'env');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Parses KEY=VALUE lines (as written by tools/services). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
  }
  return out;
}

/**
 * The variables `names` for `service`, from the environment or the services env
 * file. When any is missing: throws if {@link REQUIRE_SERVICES_VARIABLE} is `1`,
 * otherwise prints a loud, named skip reason and returns undefined (use it with
 * `describe.skipIf(!env)`).
 */
export function serviceEnv<K extends string>(
  service: string,
  names: readonly K[],
): Record<K, string> | undefined {
  const file = findEnvFile();
  const fromFile = file && existsSync(file) ? parseEnvFile(readFileSync(file, 'utf8')) : {};
  const values: Partial<Record<K, string>> = {};
  const missing: string[] = [];
  for (const name of names) {
    const value = process.env[name] ?? fromFile[name];
    if (value) values[name] = value;
    else missing.push(name);
  }
  if (missing.length === 0) return values as Record<K, string>;
  const reason = `${service} is not running: ${missing.join(', ')} not set (run \`tools/services up\`)`;
  if (process.env[REQUIRE_SERVICES_VARIABLE] === '1') {
    throw new Error(`${reason}; ${REQUIRE_SERVICES_VARIABLE}=1 forbids skipping`);
  }
  process.stderr.write(`\n*** SKIPPING ${service} tests: ${reason} ***\n\n`);
  return undefined;
}
