/**
 * Secrets never surface: known test keys go in through config (INI and objects),
 * URIs with credentials and failing operations of a driver that tries hard to
 * leak them (it logs them at every level, throws them in messages, causes,
 * aggregate errors and error properties). Everything a caller can see is
 * captured and scanned for the keys.
 */
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BadStoreUri,
  Capability,
  DriverLoadFailure,
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
    expect(store.store('main').options).toMatchObject({
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
