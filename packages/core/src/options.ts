/**
 * Option schemas: each driver declares its options once (name, type, default,
 * limits, help); config is validated against them and sample configs are generated
 * from them, as oslo.config does for glance_store.
 */
import { BadStoreConfiguration } from './errors.js';
import { redactUri, redactValue } from './redaction.js';
import { RETRY_OPTIONS } from './retry.js';

/** Value types an option can take, after the names oslo.config uses. */
export type OptionType = 'string' | 'int' | 'float' | 'bool' | 'multistring' | 'list' | 'dict';

/** One option a driver accepts. */
export interface OptionSpec {
  /** The option name, exactly as glance_store spells it (e.g. `filesystem_store_datadir`). */
  readonly name: string;
  readonly type: OptionType;
  /** Default used when the option is absent. */
  readonly default?: unknown;
  /** Default for a reserved store (e.g. the file store's `/var/lib/glance/<id>`). */
  readonly reservedDefault?: (backendId: string) => unknown;
  /** Lower bound for int/float options. */
  readonly min?: number;
  /** Upper bound for int/float options. */
  readonly max?: number;
  /** Allowed values. */
  readonly choices?: readonly (string | number)[];
  /** A secret is never logged, printed or put in an error message. */
  readonly secret?: boolean;
  /** The backend cannot start without it. */
  readonly required?: boolean;
  /** One or more sentences for operators; becomes the comment in sample configs. */
  readonly help: string;
}

/** Marks the values of a key repeated in an INI file (see {@link repeatedValues}). */
const REPEATED = Symbol('repeated INI key');

/**
 * `values` marked as one INI key given several times. A multistring option takes
 * them all; any other option takes the last, as oslo.config does. A plain array
 * in a hand-written config is not marked: it is the option's value.
 */
export function repeatedValues(values: readonly string[]): string[] {
  const out = [...values];
  Object.defineProperty(out, REPEATED, { value: true });
  return out;
}

function isRepeated(value: unknown): value is string[] {
  return Array.isArray(value) && (value as { [REPEATED]?: boolean })[REPEATED] === true;
}

// Option names that carry credentials in glance_store's drivers and in third-party ones.
const SECRET_NAME = /(secret|password|passwd|token|credential|access_key|account_key|_key$)/i;

/**
 * Whether an option name looks like it holds a credential, for code that has to
 * decide before the option's driver declared it secret or not.
 */
export function looksSecret(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** Validated option values of one backend, keyed by option name. */
export type OptionValues = Readonly<Record<string, unknown>>;

/** Options every backend accepts, whatever its driver. */
export const COMMON_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'store_description',
    type: 'string',
    help: 'A human-readable description of this backend, shown to end users by the consuming service.',
  },
  ...RETRY_OPTIONS,
];

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

function fail(backendId: string, option: string, why: string): never {
  throw new BadStoreConfiguration(`Backend '${backendId}': option '${option}' ${why}`);
}

/** How a bad value is shown in an error: never by String() on an object (it may throw). */
function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a value of type ${typeof value}`;
}

/** A scalar as text, or undefined for anything else (objects, symbols, functions). */
function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return undefined;
}

// As oslo.config (Python's int() and float()): decimal digits only, no 0x/0b/1e3 for ints.
const INT_TEXT = /^[+-]?\d+$/;
const FLOAT_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function coerce(backendId: string, spec: OptionSpec, raw: unknown): unknown {
  const shown = spec.secret ? 'the given value' : describe(raw);
  switch (spec.type) {
    case 'string': {
      const text = scalarText(raw);
      if (text !== undefined) return text;
      return fail(backendId, spec.name, `must be a string, got ${shown}`);
    }
    case 'int':
    case 'float': {
      const isInt = spec.type === 'int';
      let n = Number.NaN;
      if (typeof raw === 'number') n = raw;
      else if (typeof raw === 'string' && (isInt ? INT_TEXT : FLOAT_TEXT).test(raw.trim()))
        n = Number(raw.trim());
      if (!Number.isFinite(n) || (isInt && !Number.isSafeInteger(n)))
        return fail(
          backendId,
          spec.name,
          `must be ${isInt ? 'an integer' : 'a number'}, got ${shown}`,
        );
      const limit = spec.secret ? 'the given value' : String(n);
      if (spec.min !== undefined && n < spec.min)
        fail(backendId, spec.name, `must be >= ${spec.min}, got ${limit}`);
      if (spec.max !== undefined && n > spec.max)
        fail(backendId, spec.name, `must be <= ${spec.max}, got ${limit}`);
      return n;
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      const word = (typeof raw === 'string' || typeof raw === 'number' ? String(raw) : '')
        .trim()
        .toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      return fail(backendId, spec.name, `must be a boolean (true/false), got ${shown}`);
    }
    case 'multistring': {
      const list = Array.isArray(raw) ? raw : [raw];
      return list.map((item) => {
        if (typeof item !== 'string') fail(backendId, spec.name, 'must be a list of strings');
        return item;
      });
    }
    case 'list': {
      if (Array.isArray(raw))
        return raw.map(
          (item) => scalarText(item) ?? fail(backendId, spec.name, 'must be a list of strings'),
        );
      if (typeof raw !== 'string')
        return fail(backendId, spec.name, 'must be a comma-separated list');
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    }
    case 'dict': {
      if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
        const out: Record<string, string> = Object.create(null);
        for (const [k, v] of Object.entries(raw))
          out[k] =
            scalarText(v) ??
            fail(
              backendId,
              spec.name,
              `has a non-text value for ${spec.secret ? 'one of its keys' : `'${k}'`}`,
            );
        return out;
      }
      if (typeof raw !== 'string') return fail(backendId, spec.name, 'must be key:value pairs');
      // parseDict quotes the bad entry: not for a secret.
      return parseDict(raw, (why) =>
        fail(backendId, spec.name, spec.secret ? 'is not a list of key:value pairs' : why),
      );
    }
  }
}

/** Parses oslo.config's dict syntax: `key1:value1, key2:value2` (values may contain `:`). */
export function parseDict(text: string, onError: (why: string) => never): Record<string, string> {
  // Null prototype: `constructor:x` or `__proto__:x` are ordinary keys.
  const out: Record<string, string> = Object.create(null);
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const colon = item.indexOf(':');
    if (colon <= 0) onError(`has an entry '${item}' that is not key:value`);
    const key = item.slice(0, colon).trim();
    if (key in out) onError(`repeats the key '${key}'`);
    out[key] = item.slice(colon + 1).trim();
  }
  return out;
}

/**
 * Validates and coerces the raw options of one backend against its schema
 * (common options included). Values may be strings (from an INI file) or native
 * values (from a hand-written config object).
 *
 * @returns the typed values, with defaults applied, and the names no spec knew.
 * @throws BadStoreConfiguration naming the backend and the option.
 */
export function validateOptions(
  backendId: string,
  specs: readonly OptionSpec[],
  raw: Readonly<Record<string, unknown>>,
  { reserved = false }: { reserved?: boolean } = {},
): { values: OptionValues; unknown: string[] } {
  const all = [...COMMON_OPTIONS, ...specs];
  const values: Record<string, unknown> = {};
  for (const spec of all) {
    const rawGiven = raw[spec.name];
    const given = isRepeated(rawGiven) && spec.type !== 'multistring' ? rawGiven.at(-1) : rawGiven;
    if (given === undefined || given === null) {
      const fallback =
        reserved && spec.reservedDefault ? spec.reservedDefault(backendId) : spec.default;
      if (spec.required && fallback === undefined) fail(backendId, spec.name, 'is required');
      if (fallback !== undefined) values[spec.name] = fallback;
      continue;
    }
    const value = coerce(backendId, spec, given);
    if (spec.choices && !spec.choices.includes(value as string | number)) {
      fail(
        backendId,
        spec.name,
        `must be one of ${spec.choices.join(', ')}, got ${spec.secret ? 'the given value' : describe(value)}`,
      );
    }
    values[spec.name] = value;
  }
  const known = new Set(all.map((s) => s.name));
  const unknown = Object.keys(raw).filter((name) => !known.has(name));
  return { values, unknown };
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

function formatValue(spec: OptionSpec, value: unknown): string {
  if (value === undefined) return '<None>';
  if (spec.type === 'dict' && value && typeof value === 'object')
    return Object.entries(value)
      .map(([k, v]) => `${k}:${v}`)
      .join(', ');
  if (Array.isArray(value)) return value.join(', ');
  return String(value);
}

/**
 * Renders a commented INI section for `specs`, in oslo-config-generator's style:
 * each option's help, type, default and limits as comments, then the option
 * commented out with its default.
 */
export function renderOptionsSample(section: string, specs: readonly OptionSpec[]): string {
  const lines = [`[${section}]`, ''];
  for (const spec of [...COMMON_OPTIONS, ...specs]) {
    for (const line of wrap(spec.help, 76)) lines.push(`# ${line}`);
    const facts = [`type: ${spec.type}`];
    if (spec.min !== undefined) facts.push(`min: ${spec.min}`);
    if (spec.max !== undefined) facts.push(`max: ${spec.max}`);
    if (spec.choices) facts.push(`choices: ${spec.choices.join(', ')}`);
    if (spec.secret) facts.push('secret');
    if (spec.required) facts.push('required');
    lines.push(`# (${facts.join('; ')})`);
    lines.push(`#${spec.name} = ${formatValue(spec, spec.default)}`, '');
  }
  return lines.join('\n');
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + word.length + 1 > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}
