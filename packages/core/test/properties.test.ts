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
  MAX_LOCATION_LENGTH,
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
import { uriCredentials } from '../src/redaction.js';

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

  const printableAscii = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
  /** Any character but the line breaks that end a URI in running text. */
  const passwordChar = fc.oneof(
    fc.string({ unit: fc.constantFrom(...printableAscii), minLength: 1, maxLength: 1 }),
    fc.constantFrom(
      ' ',
      '\t',
      '\v',
      '\f',
      '\u00a0',
      '\u2003',
      '\u3000',
      '@',
      '@',
      '/',
      ':',
      '?',
      '#',
    ),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
  );
  const password = fc
    .array(passwordChar, { minLength: 1, maxLength: 16 })
    .map((chars) => chars.join(''))
    // In running text a password ends at a line break or where another URI starts
    // after a blank (` s3://`); a location's own password has no such limit (below).
    .filter((p) => !/[\r\n]|\s[A-Za-z0-9+.-]+:\/\//.test(p));

  it('masks the password of any URL with credentials: whitespace, raw `@`, any character', () => {
    fc.assert(
      fc.property(fc.webUrl(), password, (url, pw) => {
        const base = url.replaceAll('@', '');
        const withPassword = base.replace('://', () => `://user:${pw}@`);
        const out = redactUri(`failed: ${withPassword} (retrying)`);
        expect(out).toBe(`failed: ${base.replace('://', '://***:***@')} (retrying)`);
        expect(redactUri(out)).toBe(out);
      }),
      RUNS,
    );
  });

  it("finds a location's own password, whatever it holds (line breaks too)", () => {
    fc.assert(
      fc.property(password, fc.constantFrom('', '\n', '\r\n'), (pw, lineBreak) => {
        const secret = `${pw}${lineBreak}${pw}`;
        const uri = `s3://AKIDEXAMPLE:${secret}@127.0.0.1/bucket/key`;
        const masked = secretRedactor(uriCredentials(uri))(`driver said: ${secret} for ${uri}`);
        if (secret.length >= 4) expect(masked).not.toContain(secret);
        expect(masked).not.toContain('AKIDEXAMPLE');
      }),
      RUNS,
    );
  });

  it('masks the credentials of signed URLs (S3 presigned, Azure SAS, Swift temp URLs, tokens)', () => {
    const names = [
      'sig',
      'Signature',
      'X-Amz-Signature',
      'X-Amz-Credential',
      'X-Amz-Security-Token',
      'X-Goog-Signature',
      'AWSAccessKeyId',
      'temp_url_sig',
      'token',
      'access_token',
      'client_secret',
    ];
    const value = fc.stringMatching(/^[A-Za-z0-9%+/=._~-]{4,40}$/);
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        value,
        fc.constantFrom('?', '&', '?sv=2021-08-06&se=2030-01-01&sp=r&'),
        fc.constantFrom('', '&x=1', '#frag', ' failed', '"', '\nnext line'),
        (name, secret, before, after) => {
          const url = `https://127.0.0.1/c/blob${before}${name}=${secret}${after}`;
          const out = redactUri(`GET ${url}`);
          expect(out).toContain(`${name}=***`);
          expect(out).not.toContain(secret);
          expect(secretRedactor(uriCredentials(url))(`signature ${secret} expired`)).not.toContain(
            secret,
          );
        },
      ),
      RUNS,
    );
  });

  // Text built of the characters URIs and credentials are made of: the quadratic masker
  // of the review took over a minute on it. Its speed is tools/bench/hostile-text.mjs's.
  const hostileBlock = fc.constantFrom(
    'a.',
    '://',
    ':',
    '@',
    ' ',
    '/',
    'x',
    '?sig=',
    '&token=',
    '&',
    '\n',
    's3://',
    'a:',
    'b@',
    '***',
  );

  it('masks 200 KB of hostile text, leaving none of the secrets in it', () => {
    const secrets = ['a.a.', '****'];
    const mask = (text: string) => secretRedactor([...uriCredentials(text), ...secrets])(text);
    const leaks = (out: string) => secrets.filter((secret) => out.includes(secret));
    // The review's case: one long `scheme` before a single `://`.
    expect(leaks(mask(`file:///x/${'a.'.repeat(80_000)}://x`))).toEqual([]);
    fc.assert(
      fc.property(fc.array(hostileBlock, { minLength: 1, maxLength: 6 }), (blocks) => {
        const unit = blocks.join('');
        const text = unit.repeat(Math.ceil(200_000 / unit.length));
        expect(leaks(mask(text))).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });

  it('refuses a location longer than MAX_LOCATION_LENGTH before any pattern runs', () => {
    const long = `file:///x/${'a.'.repeat(80_000)}://x`;
    expect(() => schemeOf(long)).toThrow(BadStoreUri);
    expect(() => schemeOf(long)).toThrow(String(MAX_LOCATION_LENGTH));
    expect(schemeOf(`file:///${'a'.repeat(MAX_LOCATION_LENGTH - 8)}`)).toBe('file');
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
