/**
 * MultiStore.backendsFor for s3: which backend holds a location, judged from the
 * configuration alone (host and bucket, whatever keys the URI carries), with two
 * s3 backends in different buckets and a file backend beside them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DriverDefinition, MultiStore } from '@store/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import s3Driver from '../src/index.js';
import { dropBucketAlone, env, s3Options, scratchBucket } from './radosgw.js';

describe.skipIf(!env)('s3: backendsFor', { timeout: 60_000 }, () => {
  const bucketOf = { one: scratchBucket('store-owners-1'), two: scratchBucket('store-owners-2') };
  let dir: string;
  let store: MultiStore;
  const added: Record<string, string> = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'store-s3-owners-'));
    const fileModule = new URL('../../file/src/index.ts', import.meta.url).href;
    const fileDriver = ((await import(fileModule)) as { default: DriverDefinition }).default;
    store = await MultiStore.create(
      {
        enabledBackends: { one: 's3', two: 's3', disk: 'file' },
        defaultBackend: 'one',
        backends: {
          one: s3Options(bucketOf.one),
          two: s3Options(bucketOf.two),
          disk: { filesystem_store_datadir: join(dir, 'disk') },
        },
      },
      { drivers: [s3Driver, fileDriver] },
    );
    for (const backend of ['one', 'two', 'disk']) {
      const result = await store.add(`owners-${backend}`, [new Uint8Array([1, 2, 3])], 3, {
        backend,
      });
      added[backend] = result.location;
    }
  });
  afterAll(async () => {
    for (const [backend, location] of Object.entries(added))
      await store?.delete(location, { backend }).catch(() => undefined);
    await store?.close();
    for (const bucket of Object.values(bucketOf))
      await dropBucketAlone(bucket).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A location of `bucket` on `host` (no scheme), with the keys of the stored one. */
  const elsewhere = (host: string, bucket: string) =>
    added.one!.replace(/@[^/]+\/[^/]+\//, `@${host}/${bucket}/`);

  it('names the backend that stored each image, and only that one', () => {
    expect(added.one).toMatch(/^s3(\+https)?:\/\//);
    expect(store.backendsFor(added.one!)).toEqual(['one']);
    expect(store.backendsFor(added.two!)).toEqual(['two']);
    expect(store.backendsFor(added.disk!)).toEqual(['disk']);
  });

  it('owns its bucket whatever keys the location carries', () => {
    const rotated = added.two!.replace(/:\/\/[^@]*@/, '://OTHERKEY:other%2Fsecret@');
    expect(rotated).not.toBe(added.two);
    expect(store.backendsFor(rotated)).toEqual(['two']);
  });

  it('owns nothing in another bucket or on another host', () => {
    const host = added.one!.match(/@([^/]+)\//)![1]!;
    expect(store.backendsFor(elsewhere(host, scratchBucket('store-owners-3')))).toEqual([]);
    expect(store.backendsFor(elsewhere('s3.other.test', bucketOf.one))).toEqual([]);
  });

  it('answers [] for junk and for a scheme no backend handles', () => {
    expect(store.backendsFor('s3://')).toEqual([]);
    expect(store.backendsFor('not a uri')).toEqual([]);
    expect(store.backendsFor(`rbd://fsid/pool/${bucketOf.one}/snap`)).toEqual([]);
    expect(store.backendsFor(`swift+http://u:k@host/${bucketOf.one}/obj`)).toEqual([]);
  });
});
