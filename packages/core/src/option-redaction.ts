/**
 * Option secrets: which option names look like credentials, the secret values
 * a message could quote, and a copy of a backend's options safe to print.
 */
import type { OptionSpec, OptionValues } from './options.js';
import { redactUri, redactValue } from './redaction.js';

// Option names that carry credentials in glance_store's drivers and in third-party ones.
const SECRET_NAME = /(secret|password|passwd|token|credential|access_key|account_key|_key$)/i;

/**
 * Whether an option name looks like it holds a credential, for code that has to
 * decide before the option's driver declared it secret or not.
 */
export function looksSecret(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * The values of every secret option in `values` as the texts a message could
 * quote: strings, numbers as written by `String()`, and every item of a list or
 * multistring and every value of a dict. Booleans are left out: masking `true`
 * everywhere would hide nothing and garble every message.
 */
export function secretValues(specs: readonly OptionSpec[], values: OptionValues): string[] {
  const out: string[] = [];
  const collect = (value: unknown, depth: number): void => {
    if (typeof value === 'string') {
      if (value !== '') out.push(value);
    } else if (typeof value === 'number' || typeof value === 'bigint') out.push(String(value));
    else if (value !== null && typeof value === 'object' && depth < 4)
      for (const item of Array.isArray(value) ? value : Object.values(value))
        collect(item, depth + 1);
  };
  for (const spec of specs) if (spec.secret) collect(values[spec.name], 0);
  return out;
}

/**
 * A copy of `values` safe to print: every secret option masked, and the userinfo
 * of any URI in the other string, list and dict values masked too.
 */
export function redactOptions(
  specs: readonly OptionSpec[],
  values: OptionValues,
): Record<string, unknown> {
  const secret = new Set(specs.filter((s) => s.secret).map((s) => s.name));
  // A non-secret option may still hold a URI with credentials (a proxy such as
  // `http://user:pass@proxy:3128` in http_proxy_information): mask its userinfo.
  return Object.fromEntries(
    Object.entries(values).map(([k, v]) => [
      k,
      secret.has(k) && v !== undefined ? '***' : redactValue(v, redactUri),
    ]),
  );
}
