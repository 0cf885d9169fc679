/**
 * A swift backend without the account reference it adds with (no
 * swift_store_auth_address): as glance_store's configure_add, adding is disabled
 * naming why, and locations carrying their credentials are still read (radosgw).
 */
import { MultiStore } from '@store/core';
import { collect } from '@store/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import swiftDriver from '../src/index.js';
import { dropContainer, env, scratchContainer, swiftOptions } from './radosgw.js';

describe.skipIf(!env)('swift backend with no account to add with, against radosgw', () => {
  const container = scratchContainer('store-swift-degraded');
  afterAll(async () => {
    await dropContainer(container);
  });

  it('reads locations with credentials and refuses add naming why; the other backend works', async () => {
    const { swift_store_auth_address: _, ...noAddress } = swiftOptions(container);
    const store = await MultiStore.create(
      {
        enabledBackends: { ro: 'swift', ok: 'swift' },
        defaultBackend: 'ro',
        backends: { ro: noAddress, ok: swiftOptions(container) },
      },
      { drivers: [swiftDriver] },
    );
    try {
      expect(store.backendStates).toEqual([
        {
          id: 'ro',
          type: 'swift',
          state: 'add-disabled',
          reason: expect.stringContaining('A value for swift_store_auth_address is required'),
        },
        { id: 'ok', type: 'swift', state: 'enabled' },
      ]);
      const added = await store.add('img', Buffer.from('readable'), 8, { backend: 'ok' });
      const { stream } = await store.get(added.location, { backend: 'ro' });
      expect(Buffer.from(await collect(stream)).toString()).toBe('readable');
      await expect(store.add('new', Buffer.from('x'), 1)).rejects.toMatchObject({
        code: 'StoreAddDisabled',
        message: expect.stringContaining('swift_store_auth_address is required'),
      });
      await store.delete(added.location, { backend: 'ok' });
    } finally {
      await store.close();
    }
  });
});
