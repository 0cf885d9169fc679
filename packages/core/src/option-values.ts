/**
 * Option values: a backend's raw options (INI strings or native values) checked
 * and coerced against its schema, as oslo.config types them.
 */
import { BadStoreConfiguration } from './errors.js';
import { COMMON_OPTIONS, type OptionSpec, type OptionValues } from './options.js';

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
