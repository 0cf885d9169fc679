/**
 * Secrets never surface: known test keys go in through config (INI and objects),
 * URIs with credentials and failing operations of a driver that tries hard to
 * leak them (it logs them at every level, throws them in messages, causes,
 * aggregate errors and error properties). Everything a caller can see is
 * captured and scanned for the keys.
 */
import { inspect } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BadStoreUri,
  Capability,
  DriverLoadFailure,
  DriverRegistry,
  defineDriver,
  type Logger,
  MultiStore,
  parseConfig,
  type StoreLocation,
} from '../src/index.js';

const SECRET_KEY = 'tEsT-sEcReT-kEy/9+zz';
const URI_PASSWORD = 'uRi-PaSsWoRd-42';
const ACCESS_KEY = 'AKIATESTACCESSKEY77';
const PROXY_PASSWORD = 'pRoXy-PaSs-11';
const KEYS = [SECRET_KEY, encodeURIComponent(SECRET_KEY), URI_PASSWORD, ACCESS_KEY, PROXY_PASSWORD];
const CREDENTIAL_URI = `leaky://${ACCESS_KEY}:${URI_PASSWORD}@127.0.0.1:9/bucket/img`;

const captured: string[] = [];
const capture = (what: unknown) =>
  captured.push(typeof what === 'string' ? what : inspect(what, { depth: null, showHidden: true }));

const logger: Logger = {
  debug: (m, f) => capture(['debug', m, f]),
  info: (m, f) => capture(['info', m, f]),
  warn: (m, f) => capture(['warn', m, f]),
  error: (m, f) => capture(['error', m, f]),
};

/** A driver written to leak: every message it makes carries the secrets. */
const leaky = defineDriver({
  type: 'leaky',
  schemes: ['leaky'],
  capabilities: Capability.RW_ACCESS | Capability.DRIVER_REUSABLE,
  options: [
    { name: 'leaky_access_key', type: 'string', secret: true, help: 'Key id.' },
    { name: 'leaky_secret_key', type: 'string', secret: true, required: true, help: 'Key.' },
    { name: 'leaky_pin', type: 'int', secret: true, help: 'A secret number.' },
    { name: 'leaky_retries', type: 'int', default: 1, help: 'Not secret.' },
    { name: 'leaky_fail_create', type: 'bool', default: false, help: 'Refuse to start.' },
    // Not secret (as glance_store's http_proxy_information), yet may carry URI credentials.
    { name: 'leaky_proxy', type: 'string', help: 'A proxy URL.' },
    { name: 'leaky_proxies', type: 'dict', help: 'Per-scheme proxies.' },
    { name: 'leaky_mirrors', type: 'list', help: 'Mirror URLs.' },
  ],
  create: ({ options, logger: log }) => {
    const key = options.leaky_secret_key as string;
    if (options.leaky_fail_create)
      throw new DriverLoadFailure(`cannot log in with key ${key} at ${CREDENTIAL_URI}`);
    for (const level of ['debug', 'info', 'warn', 'error'] as const) {
      log[level](`connecting to ${CREDENTIAL_URI} with ${key}`, {
        key,
        uri: CREDENTIAL_URI,
        request: {
          headers: { authorization: `AWS ${options.leaky_access_key}:${key}` },
          url: CREDENTIAL_URI,
        },
        list: [key, { nested: [CREDENTIAL_URI] }],
        error: new Error(`auth failed for ${key}`, { cause: new Error(key) }),
      });
    }
    const parse = (uri: string): StoreLocation => {
      if (!uri.startsWith('leaky://')) throw new BadStoreUri(`cannot parse ${uri} (key ${key})`);
      return { scheme: 'leaky', uri };
    };
    return {
      parseLocation: parse,
      async add({ data }) {
        for await (const _ of data) {
          // consume
        }
        const inner = Object.assign(new Error(`signature with ${key} rejected`), {
          url: CREDENTIAL_URI,
          headers: { 'x-amz-security-token': key },
          cause: `raw cause ${key}`,
        });
        throw new AggregateError(
          [inner, new Error(`retry ${CREDENTIAL_URI}`)],
          `upload to ${CREDENTIAL_URI} failed`,
          { cause: new Error(`middle ${key}`, { cause: inner }) },
        );
      },
      async get(location) {
        throw Object.assign(new Error(`GET ${location.uri} failed with key ${key}`), {
          response: { body: `<Error><Key>${key}</Key></Error>` },
        });
      },
      async getSize() {
        throw new Error(`HEAD ${CREDENTIAL_URI} denied for ${encodeURIComponent(key)}`);
      },
      async delete() {
        throw new Error(`DELETE as ${ACCESS_KEY}:${URI_PASSWORD} failed`);
      },
    };
  },
});

const INI = `
[DEFAULT]
enabled_backends = main:leaky, broken:leaky

[glance_store]
default_backend = main

[main]
leaky_access_key = ${ACCESS_KEY}
leaky_secret_key = ${SECRET_KEY}
leaky_pin = 1234
leaky_proxy = http://proxy:${PROXY_PASSWORD}@127.0.0.1:3128
leaky_proxies = http:http://user:${PROXY_PASSWORD}@127.0.0.1:3128, https:https://127.0.0.1:3129
leaky_mirrors = https://m1.example/x, https://u:${PROXY_PASSWORD}@m2.example/y

[broken]
leaky_secret_key = ${SECRET_KEY}
leaky_fail_create = true
`;

let writes: typeof process.stdout.write;
let errWrites: typeof process.stderr.write;
beforeAll(() => {
  // The run's own output is scanned too.
  writes = process.stdout.write.bind(process.stdout);
  errWrites = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    captured.push(String(chunk));
    return writes(chunk, ...rest);
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    captured.push(String(chunk));
    return errWrites(chunk, ...rest);
  }) as typeof process.stderr.write;
});
afterAll(() => {
  process.stdout.write = writes;
  process.stderr.write = errWrites;
});

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    capture(err);
    return err;
  }
  throw new Error('expected a failure');
}

describe('secrets in config, URIs and failing operations', () => {
  it('are masked in every error, cause, log line, listing and output', async () => {
    const store = await MultiStore.create(parseConfig(INI), { drivers: [leaky], logger });
    capture(store.backends);
    capture(JSON.stringify(store.backends));
    capture(store.disabledBackends);
    capture(store.drivers.status());
    expect(store.backends[0]!.options).toMatchObject({ leaky_secret_key: '***', leaky_pin: '***' });
    // Plain options keep their value with only the URI credentials masked.
    expect(store.backend('main').options).toMatchObject({
      leaky_proxy: 'http://***:***@127.0.0.1:3128',
      leaky_proxies: { http: 'http://***:***@127.0.0.1:3128', https: 'https://127.0.0.1:3129' },
      leaky_mirrors: ['https://m1.example/x', 'https://***:***@m2.example/y'],
      leaky_retries: 1,
    });
    expect(store.disabledBackends.map((d) => d.id)).toEqual(['broken']);

    const codes = [
      await failure(store.add('img', Buffer.from('data'), 4)),
      await failure(store.get(CREDENTIAL_URI)),
      await failure(store.get(`s3://${ACCESS_KEY}:${URI_PASSWORD}@127.0.0.1/b/k`)),
      await failure(store.getSize(CREDENTIAL_URI)),
      await failure(store.delete(CREDENTIAL_URI)),
      await failure(store.add('img', Buffer.from('data'), 4, { backend: 'broken' })),
      await failure(store.get(`${SECRET_KEY}:x`)),
    ].map((e) => (e as { code: string }).code);
    expect(codes).toEqual([
      'BackendException',
      'BackendException',
      'UnknownScheme',
      'BackendException',
      'BackendException',
      'UnknownScheme',
      'BadStoreUri',
    ]);
    await store.close();

    // Options that fail validation: a secret of the wrong type, a URI with a password in a plain option.
    capture(
      await failure(
        MultiStore.create(
          {
            enabledBackends: { m: 'leaky' },
            backends: { m: { leaky_secret_key: SECRET_KEY, leaky_pin: SECRET_KEY } },
          },
          { drivers: [leaky], logger },
        ),
      ),
    );
    capture(
      await failure(
        MultiStore.create(
          {
            enabledBackends: { m: 'leaky' },
            backends: {
              m: {
                leaky_secret_key: SECRET_KEY,
                leaky_retries: `http://proxy:${PROXY_PASSWORD}@127.0.0.1:3128`,
              },
            },
          },
          { drivers: [leaky], logger },
        ),
      ),
    );

    const everything = captured.join('\n');
    // The scan would be empty if nothing had been captured.
    expect(everything).toContain('connecting to leaky://***:***@127.0.0.1:9/bucket/img with ***');
    expect(everything).toContain("option 'leaky_pin' must be an integer, got the given value");
    expect(['debug', 'info', 'warn', 'error'].every((l) => everything.includes(`'${l}'`))).toBe(
      true,
    );
    for (const key of KEYS) {
      const at = everything.indexOf(key);
      expect(at, `leaked ${key}: ${everything.slice(Math.max(0, at - 300), at + 80)}`).toBe(-1);
    }
  });
});

/** Every string a caller could read in `value`: messages, stacks, causes, fields. */
function texts(value: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 10 || value === null || value === undefined) return out;
  if (typeof value === 'string') out.push(value);
  else if (typeof value === 'number' || typeof value === 'bigint') out.push(String(value));
  else if (value instanceof Error) {
    out.push(value.message, value.stack ?? '');
    for (const key of Object.keys(value)) texts((value as never)[key], out, depth + 1);
    texts(value.cause, out, depth + 1);
    if (value instanceof AggregateError) texts(value.errors, out, depth + 1);
  } else if (typeof value === 'object')
    for (const item of Object.values(value)) texts(item, out, depth + 1);
  return out;
}

describe('secrets of any characters and of every option type', () => {
  const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
  const anyChar = fc.oneof(
    fc.constantFrom(...printable),
    fc.constantFrom(' ', '\t', '\n', '\r', '\v', '\u00a0', '\u2028', '\u3000', '@', ':', '/'),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
  );
  /** A secret from printable ASCII, whitespace and unicode; never `**` (the mask is `***`). */
  const secretText = fc
    .array(anyChar, { minLength: 6, maxLength: 20 })
    .map((chars) => chars.join(''))
    .filter((s) => s.replace(/\s/g, '').length >= 4 && !s.includes('**'));

  /** Each secret option type, and a driver that quotes every value raw, everywhere. */
  const typed = defineDriver({
    type: 'typed',
    schemes: ['typed'],
    capabilities: Capability.READ_ACCESS,
    options: [
      { name: 't_string', type: 'string', secret: true, help: 'x' },
      { name: 't_int', type: 'int', secret: true, help: 'x' },
      { name: 't_float', type: 'float', secret: true, help: 'x' },
      { name: 't_list', type: 'list', secret: true, help: 'x' },
      { name: 't_dict', type: 'dict', secret: true, help: 'x' },
      { name: 't_multi', type: 'multistring', secret: true, help: 'x' },
    ],
    create: ({ options, logger: log }) => {
      const quoted = Object.values(options).flatMap((value) =>
        typeof value === 'object' && value !== null
          ? Object.entries(value).map(([k, v]) => (Array.isArray(value) ? String(v) : `${k}:${v}`))
          : [String(value)],
      );
      log.warn(`starting with ${quoted.join(' | ')}`, { options, quoted });
      return {
        parseLocation: (uri: string): StoreLocation => ({ scheme: 'typed', uri }),
        async get(location) {
          // Quotes the location's password alone, as a driver reporting a login may.
          const password = location.uri.slice(
            location.uri.indexOf(':', 8) + 1,
            location.uri.lastIndexOf('@'),
          );
          throw Object.assign(new Error(`login with ${password} failed: ${quoted.join(' ')}`), {
            url: location.uri,
            cause: new Error(`GET ${location.uri}`),
          });
        },
        async getSize() {
          throw new Error(`HEAD failed for ${quoted.join(', ')}`);
        },
      };
    },
  });

  let registry: DriverRegistry | undefined;
  async function everythingSeen(
    config: Parameters<typeof MultiStore.create>[0],
    uri: string,
  ): Promise<string> {
    const seen: string[] = [];
    const log = (m: string, f?: unknown) => seen.push(...texts([m, f]));
    const logger: Logger = { debug: log, info: log, warn: log, error: log };
    registry ??= await DriverRegistry.discover({ definitions: [typed] });
    const store = await MultiStore.create(config, { drivers: registry, logger });
    try {
      seen.push(...texts(store.backends), JSON.stringify(store.backends));
      for (const call of [() => store.get(uri), () => store.getSize(uri)]) {
        try {
          await call();
          seen.push('no failure');
        } catch (err) {
          seen.push(...texts(err), inspect(err, { depth: null }));
        }
      }
    } finally {
      await store.close();
    }
    return seen.join('\n');
  }

  it('masks every secret option, whatever its type and characters, and URI passwords', async () => {
    await fc.assert(
      fc.asyncProperty(
        secretText,
        secretText,
        secretText,
        fc.integer({ min: 1000, max: 2 ** 40 }),
        fc.double({ min: 1000, max: 1e9, noNaN: true }),
        secretText,
        async (text, item, value, int, float, password) => {
          // Dict and list items are split at `,` (and `:` for the dict key): keep them whole.
          const plain = (s: string) => s.replace(/[,:]/g, '_').trim();
          const config = {
            enabledBackends: { t: 'typed' },
            backends: {
              t: {
                t_string: text,
                t_int: int,
                t_float: float,
                t_list: [plain(item), 'x'],
                t_dict: { key: plain(value) },
                t_multi: [text, item],
              },
            },
          };
          const uri = `typed://AKIDTYPED:${password}@127.0.0.1/bucket/image`;
          const seen = await everythingSeen(config, uri);
          expect(seen).toContain('***');
          for (const secret of [
            text,
            item,
            plain(item),
            plain(value),
            String(int),
            String(float),
          ]) {
            const at = seen.indexOf(secret);
            expect(
              at,
              `leaked ${JSON.stringify(secret)}: ${JSON.stringify(seen.slice(Math.max(0, at - 200), at + 50))}`,
            ).toBe(-1);
          }
          expect(seen.includes(password), `leaked password ${JSON.stringify(password)}`).toBe(
            false,
          );
          expect(seen.includes('AKIDTYPED')).toBe(false);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('masks secrets read from an INI file, whatever their characters', async () => {
    const iniSafe = secretText
      .map((s) => s.replace(/[\r\n\u2028]/g, ' '))
      // oslo.config reads `\$` as `$$` (a literal `$`), so a value holding `\$` can't be
      // written as itself in an INI file (glance_store reads it the same way).
      .filter((s) => s.trim().length >= 4 && !s.includes('\\$'));
    await fc.assert(
      fc.asyncProperty(iniSafe, async (secret) => {
        // Quotes keep outer blanks; `$$` is oslo.config's literal `$`.
        const written = `"${secret.split('$').join('$$')}"`;
        // A list item or dict value is split at `,` and `:` and trimmed.
        const item = secret.replace(/[,:]/g, '_').trim().split('$').join('$$');
        const config = parseConfig(
          `[DEFAULT]\nenabled_backends = t:typed\n[t]\nt_string = ${written}\nt_multi = ${written}\nt_list = x, ${item}\nt_dict = k:${item}\n`,
        );
        expect(config.backends.t!.t_string).toBe(secret);
        const seen = await everythingSeen(config, 'typed://127.0.0.1/b/i');
        for (const leak of [secret, secret.replace(/[,:]/g, '_').trim()])
          expect(seen.includes(leak), `leaked ${JSON.stringify(leak)}`).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});
