/**
 * An azure backend that cannot be configured is disabled on its own: the other
 * backends keep working (Azurite). Azure reads need the account, credentials and
 * container as much as writes do, so it has no add-disabled state of its own.
 */
import { MultiStore } from '@store/core';
import { collect } from '@store/testkit';
import { describe, expect, it } from 'vitest';
import azureDriver from '../src/index.js';
import { adminContainer, env, uniqueContainer } from './env.js';

describe.skipIf(!env)('a misconfigured azure backend beside a working one (Azurite)', () => {
  it('is disabled with its reason; the other reads and writes', async () => {
    const container = uniqueContainer('store-degraded');
    const store = await MultiStore.create(
      {
        enabledBackends: { broken: 'azure', ok: 'azure' },
        defaultBackend: 'ok',
        backends: {
          broken: { azure_store_account_url: env!.STORE_TEST_AZURE_BLOB_ENDPOINT },
          ok: {
            azure_store_connection_string: env!.STORE_TEST_AZURE_CONNECTION_STRING,
            azure_store_container: container,
            azure_store_create_container_on_put: true,
          },
        },
      },
      { drivers: [azureDriver] },
    );
    try {
      expect(store.backendStates).toEqual([
        {
          id: 'broken',
          type: 'azure',
          state: 'disabled',
          reason: expect.stringContaining('needs credentials'),
        },
        { id: 'ok', type: 'azure', state: 'enabled' },
      ]);
      const added = await store.add('img', Buffer.from('works'), 5);
      expect(Buffer.from(await collect((await store.get(added.location)).stream)).toString()).toBe(
        'works',
      );
      await store.delete(added.location);
    } finally {
      await store.close();
      await adminContainer(container).deleteIfExists();
    }
  });
});
