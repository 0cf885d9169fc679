/**
 * Hash names as glance_store spells them (Python's hashlib), and md5's
 * availability checked when a store is created (OpenSSL in FIPS mode refuses it).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { checkChecksumAvailable, MultiStore, resolveHashAlgorithm } from '../src/index.js';

/** The core build (`pnpm --filter @store/core build`), as a child process loads it. */
const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));

describe('hash algorithm names', () => {
  it.each([
    ['blake2b', 'blake2b512'],
    ['blake2s', 'blake2s256'],
    ['sha3_256', 'sha3-256'],
    ['sha512_224', 'sha512-224'],
    ['sha512_256', 'sha512-256'],
    ['md5-sha1', 'md5-sha1'],
    ['ripemd160', 'ripemd160'],
    ['sm3', 'sm3'],
    ['sha512', 'sha512'],
  ])("hashlib's %s is Node's %s", (python, node) => {
    expect(resolveHashAlgorithm(python)).toBe(node);
  });

  it("blake2b gives hashlib's 64-byte digest (RFC 7693's test vector for 'abc')", () => {
    expect(createHash(resolveHashAlgorithm('blake2b')).update('abc').digest('hex')).toBe(
      'ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923',
    );
  });

  it('refuses the shake functions, which have no fixed digest, naming why', () => {
    for (const name of ['shake_128', 'shake_256', 'shake128']) {
      expect(() => resolveHashAlgorithm(name)).toThrow(/extendable-output/);
    }
  });

  it('refuses unknown names with UnknownHashingAlgo', () => {
    expect(() => resolveHashAlgorithm('sha4')).toThrow(
      expect.objectContaining({ code: 'UnknownHashingAlgo' }),
    );
  });
});

describe('md5 availability (FIPS)', () => {
  it('passes on this Node.js, where md5 works', () => {
    expect(() => checkChecksumAvailable()).not.toThrow();
  });

  it('fails with BadStoreConfiguration when OpenSSL refuses md5', () => {
    // No FIPS provider is installed here: refuse md5 the way OpenSSL 3 in FIPS mode does.
    const fipsCreateHash = ((algorithm: string) => {
      if (algorithm === 'md5') {
        throw Object.assign(new Error('error:0308010C:digital envelope routines::unsupported'), {
          code: 'ERR_OSSL_EVP_UNSUPPORTED',
        });
      }
      return createHash(algorithm);
    }) as typeof createHash;
    expect(() => checkChecksumAvailable(fipsCreateHash)).toThrow(
      expect.objectContaining({
        code: 'BadStoreConfiguration',
        message: expect.stringMatching(/md5.*FIPS/),
      }),
    );
  });

  it('MultiStore.create fails at once in a process whose OpenSSL refuses md5', async () => {
    // A child process whose crypto refuses md5 as FIPS mode does (the fault this
    // machine's OpenSSL, without a FIPS provider, cannot produce), running the build.
    const dir = await mkdtemp(join(tmpdir(), 'store-fips-'));
    try {
      const preload = join(dir, 'refuse-md5.cjs');
      await writeFile(
        preload,
        [
          "const crypto = require('node:crypto');",
          'const real = crypto.createHash;',
          'crypto.createHash = (algorithm, options) => {',
          "  if (String(algorithm).toLowerCase() !== 'md5') return real(algorithm, options);",
          "  const err = new Error('error:0308010C:digital envelope routines::unsupported');",
          "  err.code = 'ERR_OSSL_EVP_UNSUPPORTED';",
          '  throw err;',
          '};',
          "require('node:module').syncBuiltinESMExports();",
        ].join('\n'),
      );
      const program = [
        `const { MultiStore } = await import(${JSON.stringify(DIST)});`,
        "const definition = { type: 'none', schemes: ['none'], capabilities: 1, options: [], create: () => { throw new Error('a driver was created'); } };",
        "try { await MultiStore.create({ enabledBackends: { a: 'none' } }, { drivers: [definition] }); console.log('{}'); }",
        'catch (err) { console.log(JSON.stringify({ code: err.code, message: err.message })); }',
      ].join('\n');
      const { stdout } = await promisify(execFile)(process.execPath, [
        '--require',
        preload,
        '--input-type=module',
        '-e',
        program,
      ]);
      expect(JSON.parse(stdout.trim())).toMatchObject({
        code: 'BadStoreConfiguration',
        message: expect.stringContaining('md5'),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("add's check order (glance_store's store_add_to_backend_with_multihash)", () => {
  it('an unknown hashing algorithm is reported before a read-only backend refuses the add', async () => {
    const unused = () => Promise.reject(new Error('the driver must not be called'));
    const readOnly = {
      type: 'readonly',
      schemes: ['readonly'],
      capabilities: 1, // READ_ACCESS only
      options: [],
      create: () => ({
        parseLocation: () => ({ scheme: 'readonly', uri: 'readonly://x' }),
        add: unused,
        get: unused,
        getSize: unused,
        delete: unused,
      }),
    };
    const store = await MultiStore.create(
      { enabledBackends: { ro: 'readonly' }, defaultBackend: 'ro', backends: {} },
      { drivers: [readOnly] },
    );
    await expect(
      store.add('i', new Uint8Array(1), 1, { hashingAlgo: 'sha4' }),
    ).rejects.toMatchObject({ code: 'UnknownHashingAlgo' });
    await expect(store.add('i', new Uint8Array(1), 1)).rejects.toMatchObject({
      code: 'StoreAddDisabled',
    });
    await store.close();
  });
});
