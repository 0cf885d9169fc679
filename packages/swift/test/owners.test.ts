/**
 * MultiStore.backendsFor for swift: which backend holds a location, judged from
 * the configuration alone (account and container, whatever key a URI carries),
 * with two swift backends (one through an account reference, one with
 * credentials in its options, in different containers) and a file backend.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DriverDefinition, MultiStore } from '@store/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import swiftDriver from '../src/index.js';
import { dropContainer, env, scratchContainer, swiftOptions } from './radosgw.js';

describe.skipIf(!env)('swift: backendsFor', { timeout: 60_000 }, () => {
  const containerOf = {
    ref: scratchContainer('owners-ref'),
    creds: scratchContainer('owners-creds'),
  };
  let dir: string;
  let store: MultiStore;
  const added: Record<string, string> = {};
  const host = () => env!.STORE_TEST_SWIFT_AUTH_URL.replace(/^https?:\/\//, '');
  const user = () => encodeURIComponent(env!.STORE_TEST_SWIFT_USER);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'store-swift-owners-'));
    const accounts = join(dir, 'swift-accounts.conf');
    const account = [
      `auth_address = ${env!.STORE_TEST_SWIFT_AUTH_URL}`,
      `user = ${env!.STORE_TEST_SWIFT_USER}`,
      `key = ${env!.STORE_TEST_SWIFT_KEY}`,
      'auth_version = 1',
    ];
    await writeFile(accounts, ['[ref1]', ...account, '[alias]', ...account, ''].join('\n'));
    const fileModule = new URL('../../file/src/index.ts', import.meta.url).href;
    const fileDriver = ((await import(fileModule)) as { default: DriverDefinition }).default;
    store = await MultiStore.create(
      {
        enabledBackends: { ref: 'swift', creds: 'swift', disk: 'file' },
        defaultBackend: 'ref',
        backends: {
          ref: {
            swift_store_config_file: accounts,
            default_swift_reference: 'ref1',
            swift_store_container: containerOf.ref,
            swift_store_create_container_on_put: 'true',
          },
          creds: swiftOptions(containerOf.creds),
          disk: { filesystem_store_datadir: join(dir, 'disk') },
        },
      },
      { drivers: [swiftDriver, fileDriver] },
    );
    for (const backend of ['ref', 'creds', 'disk']) {
      const result = await store.add(`owners-${backend}`, [new Uint8Array([1, 2, 3])], 3, {
        backend,
      });
      added[backend] = result.location;
    }
  });
  afterAll(async () => {
    await store?.close();
    for (const container of Object.values(containerOf))
      await dropContainer(container).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('names the backend that stored each image, and only that one', () => {
    expect(added.ref).toBe(`swift+config://ref1/${containerOf.ref}/owners-ref`);
    expect(added.creds).toMatch(
      new RegExp(`^swift\\+http://[^@]+@${host()}/${containerOf.creds}/owners-creds$`),
    );
    expect(store.backendsFor(added.ref!)).toEqual(['ref']);
    expect(store.backendsFor(added.creds!)).toEqual(['creds']);
    expect(store.backendsFor(added.disk!)).toEqual(['disk']);
  });

  it('owns its container in its account however the location names the account, whatever key it carries', () => {
    const rotated = `swift+http://${user()}:other-key@${host()}/${containerOf.creds}/img`;
    expect(store.backendsFor(rotated)).toEqual(['creds']);
    expect(store.backendsFor(`swift+http://${user()}:k@${host()}/${containerOf.ref}/img`)).toEqual([
      'ref',
    ]);
    expect(store.backendsFor(`swift+config://alias/${containerOf.ref}/img`)).toEqual(['ref']);
  });

  it('owns nothing in another container, account, reference or host', () => {
    expect(store.backendsFor(`swift+config://ref1/${scratchContainer('owners-3')}/img`)).toEqual(
      [],
    );
    expect(store.backendsFor(`swift+config://nosuchref/${containerOf.ref}/img`)).toEqual([]);
    expect(
      store.backendsFor(`swift+http://other%3Auser:k@${host()}/${containerOf.creds}/img`),
    ).toEqual([]);
    expect(
      store.backendsFor(
        `swift+http://${user()}:k@swift.other.test/auth/1.0/${containerOf.creds}/img`,
      ),
    ).toEqual([]);
    // https://<same host> is another endpoint; a URI without credentials names no account.
    expect(
      store.backendsFor(`swift+https://${user()}:k@${host()}/${containerOf.creds}/img`),
    ).toEqual([]);
    expect(store.backendsFor(`swift+http://${host()}/${containerOf.creds}/img`)).toEqual([]);
  });

  it('with swift_store_multiple_containers_seed, owns the container the seed gives the image id', async () => {
    const base = scratchContainer('owners-seed');
    const seeded = await MultiStore.create(
      {
        enabledBackends: { seeded: 'swift' },
        defaultBackend: 'seeded',
        backends: { seeded: swiftOptions(base, { swift_store_multiple_containers_seed: '2' }) },
      },
      { drivers: [swiftDriver] },
    );
    try {
      const imageId = 'ab12-owners';
      const { location } = await seeded.add(imageId, [new Uint8Array([1])], 1);
      try {
        expect(location).toContain(`/${base}_ab/${imageId}`);
        expect(seeded.backendsFor(location)).toEqual(['seeded']);
        expect(seeded.backendsFor(location.replace(`/${base}_ab/`, `/${base}_cd/`))).toEqual([]);
        expect(seeded.backendsFor(location.replace(`/${base}_ab/`, `/${base}/`))).toEqual([]);
      } finally {
        await seeded.delete(location);
      }
    } finally {
      await seeded.close();
      await dropContainer(`${base}_ab`).catch(() => undefined);
    }
  });

  it('answers [] for junk and for a scheme no backend handles', () => {
    expect(store.backendsFor('swift+config://')).toEqual([]);
    expect(store.backendsFor(`swift+config://ref1/${containerOf.ref}`)).toEqual([]);
    expect(store.backendsFor('not a uri')).toEqual([]);
    expect(store.backendsFor(`s3://k:s@host/${containerOf.creds}/img`)).toEqual([]);
  });
});
