/**
 * An s3 backend whose write side cannot be configured (missing keys or bucket, a
 * part size under 5 MiB), against radosgw: as glance_store's configure_add, adding
 * is disabled naming why, and images are still read with the keys their locations carry.
 */
import { MultiStore } from '@store/core';
import { collect } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import s3Driver from '../src/index.js';
import { dropBucketAlone, env, s3Options, scratchBucket } from './radosgw.js';

describe.skipIf(!env)('s3 backend with a broken write side, against radosgw', () => {
  const bucket = scratchBucket('store-s3-degraded');
  let location: string;

  beforeAll(async () => {
    const writer = await MultiStore.create(
      { enabledBackends: { w: 's3' }, defaultBackend: 'w', backends: { w: s3Options(bucket) } },
      { drivers: [s3Driver] },
    );
    location = (await writer.add('img', Buffer.from('readable'), 8)).location;
    await writer.close();
  });
  afterAll(async () => {
    await dropBucketAlone(bucket);
  });

  it.each([
    [
      'no keys',
      { s3_store_access_key: '', s3_store_secret_key: '' },
      "option 's3_store_access_key' is required",
    ],
    ['no bucket', { s3_store_bucket: '' }, "option 's3_store_bucket' is required"],
    [
      'a 4 MiB part size',
      { s3_store_large_object_chunk_size: '4' },
      's3_store_large_object_chunk_size must be at least 5 MB, got 4',
    ],
  ])(
    '%s: reads, refuses add naming why, and the other backend still works',
    async (_, broken, why) => {
      const store = await MultiStore.create(
        {
          enabledBackends: { ro: 's3', ok: 's3' },
          defaultBackend: 'ro',
          backends: { ro: { ...s3Options(bucket), ...broken }, ok: s3Options(bucket) },
        },
        { drivers: [s3Driver] },
      );
      try {
        expect(store.backendStates).toEqual([
          { id: 'ro', type: 's3', state: 'add-disabled', reason: expect.stringContaining(why) },
          { id: 'ok', type: 's3', state: 'enabled' },
        ]);
        const { stream } = await store.get(location, { backend: 'ro' });
        expect(Buffer.from(await collect(stream)).toString()).toBe('readable');
        await expect(store.add('new', Buffer.from('x'), 1)).rejects.toMatchObject({
          code: 'StoreAddDisabled',
          message: expect.stringContaining(why),
        });
        const added = await store.add('other', Buffer.from('x'), 1, { backend: 'ok' });
        await store.delete(added.location, { backend: 'ok' });
      } finally {
        await store.close();
      }
    },
  );

  it('without s3_store_host the backend is disabled, not the store', async () => {
    const store = await MultiStore.create(
      {
        enabledBackends: { gone: 's3', ok: 's3' },
        defaultBackend: 'ok',
        backends: { gone: { ...s3Options(bucket), s3_store_host: '' }, ok: s3Options(bucket) },
      },
      { drivers: [s3Driver] },
    );
    try {
      expect(store.backendStates[0]).toEqual({
        id: 'gone',
        type: 's3',
        state: 'disabled',
        reason: expect.stringContaining("option 's3_store_host' is required"),
      });
      expect(await store.getSize(location)).toBe(8);
    } finally {
      await store.close();
    }
  });
});
