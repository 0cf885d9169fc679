/**
 * Hostile input: property tests (fast-check, 10,000 cases each) over every parser
 * in core. Whatever the input, the only failures are the typed errors each
 * parser documents, and what parses formats back to text that parses the same.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BackendException,
  BadStoreConfiguration,
  BadStoreUri,
  checkLocationMetadata,
  formatIni,
  LocationRegistry,
  type OptionSpec,
  parseConfig,
  parseDict,
  parseIni,
  redactUri,
  schemeOf,
  secretRedactor,
  UnknownScheme,
  validateOptions,
} from '../src/index.js';

const RUNS = { numRuns: 10_000 };

/** Runs `fn`; if it throws, the error must be an instance of `type`. */
function onlyThrows<T>(type: abstract new (...args: never[]) => Error, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    expect(err, String(err)).toBeInstanceOf(type);
    return undefined;
  }
}

/** Fragments that matter to an INI parser, plus names that are traps for plain objects. */
const iniToken = fc.constantFrom(
  '[',
  ']',
  '=',
  ':',
  '#',
  ';',
  ' ',
  '\t',
  '"',
  "'",
  '\r',
  '\n',
  '\r\n',
  '\n  ',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'DEFAULT',
  'glance_store',
  'enabled_backends',
  'default_backend',
  'fast',
  'file',
  ',',
  '\0',
  'é',
  '\u2028',
  '\uFEFF',
);
const iniFragment = fc.oneof(iniToken, fc.string({ maxLength: 6 }));
const word = fc.array(iniFragment, { maxLength: 6 }).map((p) => p.join(''));
/** Mostly well-formed INI (sections, key lines, continuations) built from hostile words. */
const iniLine = fc.oneof(
  word.map((w) => `[${w}]`),
  fc.tuple(word, fc.constantFrom('=', ':', ' = ', ': '), word).map(([k, s, v]) => `${k}${s}${v}`),
  word.map((w) => `  ${w}`),
  word,
  fc.constant(''),
);
const iniText = fc.oneof(
  fc.array(iniLine, { maxLength: 12 }).map((lines) => lines.join('\n')),
  fc.array(iniFragment, { maxLength: 40 }).map((parts) => parts.join('')),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

function prototypeIsClean(): boolean {
  return (
    Object.keys(Object.prototype).length === 0 &&
    Object.getOwnPropertyNames(Object.prototype).every(
      (name) =>
        typeof (Object.prototype as Record<string, unknown>)[name] === 'function' ||
        name === '__proto__',
    )
  );
}

describe('INI config loader under hostile input', () => {
  it('throws only BadStoreConfiguration, and parse → format → parse is stable', () => {
    fc.assert(
      fc.property(iniText, (text) => {
        const parsed = onlyThrows(BadStoreConfiguration, () => parseIni(text, 'fuzz.conf'));
        expect(prototypeIsClean()).toBe(true);
        if (!parsed) return;
        const written = formatIni(parsed);
        expect(parseIni(written)).toEqual(parsed);
        expect(formatIni(parseIni(written))).toBe(written);
      }),
      RUNS,
    );
  });

  it('turns any parsed text into a config or a BadStoreConfiguration, never anything else', () => {
    fc.assert(
      fc.property(iniText, word, (text, backends) => {
        const config = onlyThrows(BadStoreConfiguration, () =>
          parseConfig(`[DEFAULT]\nenabled_backends = ${backends}\n${text}`),
        );
        expect(prototypeIsClean()).toBe(true);
        if (!config) return;
        for (const [id, type] of Object.entries(config.enabledBackends)) {
          expect(typeof id).toBe('string');
          expect(typeof type).toBe('string');
        }
      }),
      RUNS,
    );
  });

  it('keeps sections and keys named after Object.prototype members as plain names', () => {
    const config = parseConfig(
      '[DEFAULT]\nenabled_backends = constructor:file, __proto__:file\n[__proto__]\npolluted = yes\n[constructor]\nx = 1\n',
    );
    expect(Object.keys(config.enabledBackends)).toEqual(['constructor', '__proto__']);
    expect(Object.getOwnPropertyDescriptor(config.backends, '__proto__')?.value).toEqual({
      polluted: 'yes',
    });
    expect(config.backends.constructor).toEqual({ x: '1' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('dict options (oslo.config key:value lists)', () => {
  const key = fc
    .string({ minLength: 1, maxLength: 12 })
    .map((s) => s.replace(/[,:]/g, '').trim())
    .filter((s) => s !== '');
  const value = fc.string({ maxLength: 20 }).map((s) => s.replace(/,/g, '').trim());

  it('parses what it formats, for any keys (prototype names included) and values', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.tuple(fc.oneof(key, fc.constantFrom('__proto__', 'constructor')), value),
          {
            selector: ([k]) => k,
            maxLength: 8,
          },
        ),
        (entries) => {
          const text = entries.map(([k, v]) => `${k}:${v}`).join(', ');
          const parsed = parseDict(text, (why) => {
            throw new BadStoreConfiguration(why);
          });
          // Compared as maps: JS objects list integer-like keys first.
          expect(parsed).toEqual(Object.fromEntries(entries));
        },
      ),
      RUNS,
    );
  });

  it('reports malformed text only through its error callback', () => {
    fc.assert(
      fc.property(iniText, (text) => {
        onlyThrows(BadStoreConfiguration, () =>
          parseDict(text, (why) => {
            throw new BadStoreConfiguration(why);
          }),
        );
      }),
      RUNS,
    );
  });
});

describe('option values out of range or of the wrong type', () => {
  const specs: OptionSpec[] = [
    { name: 'count', type: 'int', min: 1, max: 64, help: 'x' },
    { name: 'ratio', type: 'float', min: 0, max: 1, help: 'x' },
    { name: 'flag', type: 'bool', help: 'x' },
    { name: 'mode', type: 'string', choices: ['a', 'b'], help: 'x' },
    { name: 'name', type: 'string', help: 'x' },
    { name: 'dirs', type: 'multistring', help: 'x' },
    { name: 'tags', type: 'list', help: 'x' },
    { name: 'map', type: 'dict', help: 'x' },
    { name: 'key', type: 'string', secret: true, help: 'x' },
  ];
  const anyValue = fc.oneof(
    fc.anything({ withNullPrototype: true, withBigInt: true, withBoxedValues: true }),
    fc.integer().map(String),
    fc.double().map(String),
    fc.constantFrom('0x10', '1e3', ' 7 ', 'Infinity', 'NaN', '-0', '64', '65', '0', '1', 'yes'),
  );

  it('either validates to the declared type within range or throws BadStoreConfiguration', () => {
    fc.assert(
      fc.property(
        fc.record(Object.fromEntries(specs.map((s) => [s.name, anyValue])), {
          requiredKeys: [],
        }),
        (raw) => {
          const result = onlyThrows(BadStoreConfiguration, () => validateOptions('b', specs, raw));
          if (!result) return;
          const v = result.values;
          if (v.count !== undefined) {
            expect(Number.isSafeInteger(v.count)).toBe(true);
            expect(v.count as number).toBeGreaterThanOrEqual(1);
            expect(v.count as number).toBeLessThanOrEqual(64);
          }
          if (v.ratio !== undefined) {
            expect(Number.isFinite(v.ratio)).toBe(true);
            expect(v.ratio as number).toBeGreaterThanOrEqual(0);
            expect(v.ratio as number).toBeLessThanOrEqual(1);
          }
          if (v.flag !== undefined) expect(typeof v.flag).toBe('boolean');
          if (v.mode !== undefined) expect(['a', 'b']).toContain(v.mode);
          if (v.name !== undefined) expect(typeof v.name).toBe('string');
          for (const list of [v.dirs, v.tags]) {
            if (list !== undefined)
              expect((list as unknown[]).every((s) => typeof s === 'string')).toBe(true);
          }
          if (v.map !== undefined)
            expect(Object.values(v.map as object).every((s) => typeof s === 'string')).toBe(true);
        },
      ),
      RUNS,
    );
  });

  it('accepts an integer exactly when it is within the limits', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 1000 }), fc.boolean(), (n, asText) => {
        const ok = n >= 1 && n <= 64;
        const run = () => validateOptions('b', specs, { count: asText ? String(n) : n });
        if (ok) expect(run().values.count).toBe(n);
        else expect(run).toThrow(BadStoreConfiguration);
      }),
      RUNS,
    );
  });

  it('never echoes the value of a secret option in its error', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 4 }), (secret) => {
        const pin: OptionSpec[] = [
          { name: 'pin', type: 'int', secret: true, help: 'x' },
          { name: 'pick', type: 'string', choices: ['x'], secret: true, help: 'x' },
        ];
        for (const raw of [{ pin: `${secret}!x` }, { pick: `${secret}!x` }]) {
          try {
            validateOptions('b', pin, raw);
          } catch (err) {
            expect((err as Error).message).not.toContain(`${secret}!x`);
          }
        }
      }),
      RUNS,
    );
  });
});

describe('location schemes', () => {
  const registry = new LocationRegistry<string>();
  registry.register(['file', 'filesystem', 's3+https'], 'a', 'A');

  it('finds a scheme or throws BadStoreUri/UnknownScheme, case-insensitively', () => {
    fc.assert(
      fc.property(fc.oneof(iniText, fc.webUrl(), fc.string({ unit: 'binary' })), (uri) => {
        const scheme = onlyThrows(BadStoreUri, () => schemeOf(uri));
        if (scheme === undefined) return;
        expect(scheme).toBe(scheme.toLowerCase());
        expect(uri.toLowerCase().startsWith(`${scheme}:`)).toBe(true);
        try {
          registry.backendsFor(uri);
          expect(['file', 'filesystem', 's3+https']).toContain(scheme);
        } catch (err) {
          expect(err).toBeInstanceOf(UnknownScheme);
        }
      }),
      RUNS,
    );
  });
});

describe('redaction', () => {
  const secretArb = fc.string({ minLength: 4, maxLength: 16 });
  const around = fc.array(
    fc.oneof(iniFragment, fc.constantFrom('s3://', 'http://', '@', '/', ':')),
    {
      maxLength: 8,
    },
  );

  it('leaves no secret and no URI password in any text', () => {
    fc.assert(
      fc.property(secretArb, around, around, around, (secret, a, b, c) => {
        const text = `${a.join('')}${secret}${b.join('')}${encodeURIComponent(secret)}${c.join('')}`;
        const out = secretRedactor([secret])(text);
        expect(out).not.toContain(secret);
        expect(out).not.toContain(encodeURIComponent(secret));
        // Whatever userinfo remains is masked.
        expect(redactUri(out)).toBe(out);
      }),
      RUNS,
    );
  });

  it('masks the password of any URL with credentials', () => {
    fc.assert(
      fc.property(
        fc.webUrl(),
        fc.string({ minLength: 4, maxLength: 12 }).filter((s) => !/[\s@]/.test(s)),
        (url, password) => {
          const withPassword = url.replace('://', `://user:${password}@`);
          expect(redactUri(`failed: ${withPassword}`)).not.toContain(`:${password}@`);
        },
      ),
      RUNS,
    );
  });
});

describe('location metadata from drivers', () => {
  function allowed(value: unknown): boolean {
    if (typeof value === 'string') return true;
    if (Array.isArray(value)) return value.every(allowed);
    if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
      return Object.values(value).every(allowed);
    return false;
  }

  it('accepts exactly objects, arrays and strings, and names the first bad key otherwise', () => {
    fc.assert(
      fc.property(
        fc.anything({ withNullPrototype: true, withBigInt: true, withDate: true, withMap: true }),
        (value) => {
          const ok = allowed(value);
          try {
            checkLocationMetadata(value);
            expect(ok).toBe(true);
          } catch (err) {
            expect(err).toBeInstanceOf(BackendException);
            expect(ok).toBe(false);
            expect((err as Error).message).toMatch(/has an invalid type of/);
          }
        },
      ),
      RUNS,
    );
  });
});
