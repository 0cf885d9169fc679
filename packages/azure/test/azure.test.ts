import { randomUUID } from 'node:crypto';
import {
  BlobSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { type Logger, MultiStore, type StoreConfig } from '@store/core';
import { chunked, collect, countRequests, digest, failure, patternBytes } from '@store/testkit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import azureDriver from '../src/index.js';
import { adminContainer, committedBlobs, env, uniqueContainer } from './env.js';

const MiB = 1024 * 1024;
const stores: MultiStore[] = [];
const containers = new Set<string>();
const logged: string[] = [];
const logger: Logger = {
  debug: (m, f) => logged.push(m + JSON.stringify(f ?? {})),
  info: (m, f) => logged.push(m + JSON.stringify(f ?? {})),
  warn: (m, f) => logged.push(m + JSON.stringify(f ?? {})),
  error: (m, f) => logged.push(m + JSON.stringify(f ?? {})),
};

/** A store with one azure backend `az` over a fresh container. */
async function open(
  options: Record<string, unknown> = {},
  container = uniqueContainer('store-az'),
) {
  containers.add(container);
  const config: StoreConfig = {
    enabledBackends: { az: 'azure' },
    defaultBackend: 'az',
    backends: {
      az: {
        azure_store_account_url: env!.STORE_TEST_AZURE_BLOB_ENDPOINT,
        azure_store_account_key: env!.STORE_TEST_AZURE_KEY,
        azure_store_container: container,
        azure_store_create_container_on_put: true,
        ...options,
      },
    },
  };
  const store = await MultiStore.create(config, { drivers: [azureDriver], logger });
  stores.push(store);
  return { store, container, admin: adminContainer(container) };
}

/** Every message in an error's cause chain, and its stack. */
function allText(err: unknown): string {
  const parts: string[] = [];
  for (let e = err as Error | undefined; e instanceof Error; e = e.cause as Error | undefined)
    parts.push(e.message, e.stack ?? '');
  return parts.join('\n');
}

/**
 * A source that yields `data` in 256 KiB pieces, and after `before` bytes calls
 * `onWait` and waits for `gate`. The driver pulls data only after its early
 * existence check, so `onWait` means that check has passed.
 */
async function* gated(data: Uint8Array, before: number, gate: Promise<void>, onWait: () => void) {
  let sent = 0;
  let waited = false;
  for await (const chunk of chunked(data, [256 * 1024])) {
    if (sent >= before && !waited) {
      waited = true;
      onWait();
      await gate;
    }
    yield chunk;
    sent += chunk.byteLength;
  }
}

/** A promise and the function that resolves it. */
function signal(): [Promise<void>, () => void] {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => (fire = resolve));
  return [promise, fire];
}

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  if (!env) return;
  await Promise.all([...containers].map((c) => adminContainer(c).deleteIfExists()));
});

describe.skipIf(!env)('azure driver against Azurite', () => {
  describe('containers', () => {
    it('fails an add to a missing container when create-on-put is off, and creates nothing', async () => {
      const { store, admin } = await open({ azure_store_create_container_on_put: false });
      const err = await failure(store.add('img', patternBytes(10), 10));
      expect(err.code).toBe('BackendException');
      expect(err.message).toMatch(/does not exist.*azure_store_create_container_on_put/);
      expect(await admin.exists()).toBe(false);
    });

    it('creates the container on the first add when create-on-put is on', async () => {
      const { store, admin, container } = await open({ azure_store_create_container_on_put: true });
      expect(await admin.exists()).toBe(false);
      const data = patternBytes(1000, 3);
      const added = await store.add('img-1', data, data.byteLength);
      expect(added.location).toBe(`azure://${env!.STORE_TEST_AZURE_ACCOUNT}/${container}/img-1`);
      expect(await admin.exists()).toBe(true);
      expect(await committedBlobs(admin)).toEqual(['img-1']);
      // The blob is a plain block blob other Azure tools can read.
      const body = await admin.getBlockBlobClient('img-1').downloadToBuffer();
      expect(digest('md5', body)).toBe(added.checksum);
      expect(logged.some((line) => line.includes(`Created container '${container}'`))).toBe(true);
    });
  });

  describe('writes', () => {
    it('uploads in blocks of the configured size and reads ranges back', async () => {
      const { store, admin } = await open({
        azure_store_block_size: 1,
        azure_store_upload_concurrency: 3,
      });
      const data = patternBytes(5 * MiB + 123, 4);
      const added = await store.add('blocks', chunked(data), 0);
      const list = await admin.getBlockBlobClient('blocks').getBlockList('committed');
      expect(list.committedBlocks?.map((b) => b.size)).toEqual([MiB, MiB, MiB, MiB, MiB, 123]);
      const part = await store.get(added.location, { offset: 2 * MiB - 5, chunkSize: MiB + 10 });
      expect(part.size).toBe(MiB + 10);
      expect(
        Buffer.compare(
          await collect(part.stream),
          Buffer.from(data.subarray(2 * MiB - 5, 3 * MiB + 5)),
        ),
      ).toBe(0);
      const past = await store.get(added.location, { offset: data.byteLength + 10 });
      expect(past.size).toBe(0);
      expect((await collect(past.stream)).byteLength).toBe(0);
      const none = await store.get(added.location, { offset: 10, chunkSize: 0 });
      expect(none.size).toBe(0);
    });

    it('refuses image ids whose URL form would address another blob (Invalid)', async () => {
      const { store, admin } = await open();
      for (const id of ['a/../b', './a', 'a//b', 'a/', 'tenant/x', 'a.', 'a\\b', 'x\u0001y']) {
        expect((await failure(store.add(id, patternBytes(1), 1))).code, id).toBe('Invalid');
      }
      expect(await committedBlobs(admin)).toEqual([]);
    });

    it('stores ids with Unicode and spaces under that exact blob name', async () => {
      const { store, admin } = await open();
      const added = await store.add('ünïcode id', patternBytes(10, 1), 10);
      expect(added.location).toMatch(/\/%C3%BCn%C3%AFcode%20id$/);
      expect(await committedBlobs(admin)).toEqual(['ünïcode id']);
      expect(await store.getSize(added.location)).toBe(10);
    });

    it('lets exactly one of two concurrent adds of one id win; the other is Duplicate', async () => {
      const { store, admin } = await open({ azure_store_block_size: 1 });
      await store.add('warm-up', patternBytes(1), 1); // creates the container
      const first = patternBytes(3 * MiB + 1, 10);
      const second = patternBytes(3 * MiB + 2, 11);
      const [gate, open1] = signal();
      const [firstWaits, firstWaiting] = signal();
      const [secondWaits, secondWaiting] = signal();
      // Both pass the early existence check and stage blocks before either commits.
      const adds = [
        store.add('race', gated(first, 2 * MiB, gate, firstWaiting), first.byteLength),
        store.add('race', gated(second, 2 * MiB, gate, secondWaiting), second.byteLength),
      ];
      await Promise.all([firstWaits, secondWaits]);
      open1();
      const results = await Promise.allSettled(adds);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(((lost[0] as PromiseRejectedResult).reason as { code: string }).code).toBe(
        'Duplicate',
      );
      const winner = results[0]!.status === 'fulfilled' ? first : second;
      const stored = await admin.getBlockBlobClient('race').downloadToBuffer();
      expect(digest('sha256', stored)).toBe(digest('sha256', winner));
    });

    it('never overwrites a blob that appears while an upload is under way', async () => {
      const { store, admin } = await open({ azure_store_block_size: 1 });
      await store.add('warm-up', patternBytes(1), 1);
      const [gate, release] = signal();
      const [waits, waiting] = signal();
      const data = patternBytes(2 * MiB + 5, 12);
      // The early check sees no blob; another writer then creates it before our commit.
      const adding = store.add('appears', gated(data, MiB, gate, waiting), data.byteLength);
      await waits;
      await admin.getBlockBlobClient('appears').upload('theirs', 6);
      release();
      expect((await failure(adding)).code).toBe('Duplicate');
      expect((await admin.getBlockBlobClient('appears').downloadToBuffer()).toString()).toBe(
        'theirs',
      );
    });

    it('commits nothing when aborted after blocks were staged', async () => {
      const { store, admin } = await open({ azure_store_block_size: 1 });
      await store.add('warm-up', patternBytes(1), 1);
      const controller = new AbortController();
      const data = patternBytes(4 * MiB, 13);
      async function* source() {
        let sent = 0;
        for await (const chunk of chunked(data, [512 * 1024])) {
          yield chunk;
          sent += chunk.byteLength;
          if (sent === 3 * MiB) {
            // Wait until staged blocks reach the service, then abort.
            const staged = admin.getBlockBlobClient('aborted');
            for (let i = 0; i < 100; i++) {
              const list = await staged.getBlockList('uncommitted').catch(() => undefined);
              if ((list?.uncommittedBlocks?.length ?? 0) > 0) break;
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
            controller.abort();
          }
        }
      }
      const err = await failure(store.add('aborted', source(), 0, { signal: controller.signal }));
      expect(err.code).toBe('OperationAborted');
      const blob = admin.getBlockBlobClient('aborted');
      expect(await blob.exists()).toBe(false);
      expect(await committedBlobs(admin)).toEqual(['warm-up']);
      // The staged blocks are there, uncommitted: invisible, and discarded by the next commit.
      const staged = await blob.getBlockList('uncommitted');
      expect(staged.uncommittedBlocks?.length).toBeGreaterThan(0);
      const data2 = patternBytes(100, 14);
      const added = await store.add('aborted', data2, data2.byteLength);
      expect(await store.getSize(added.location)).toBe(100);
      expect((await blob.getBlockList('uncommitted')).uncommittedBlocks ?? []).toEqual([]);
    });
  });

  describe('credentials and errors', () => {
    it('maps a wrong account key to Forbidden, with the key in no message or log', async () => {
      const { store: good } = await open();
      const { location } = await good.add('secret-test', patternBytes(10), 10);
      const wrongKey = Buffer.from(`not-the-key-${randomUUID()}`).toString('base64');
      const { store } = await open({ azure_store_account_key: wrongKey }, location.split('/')[3]);
      // Each call starts once the one before has failed: a rejection nobody awaits yet is unhandled.
      for (const call of [
        () => store.get(location),
        () => store.getSize(location),
        () => store.delete(location),
        () => store.add('other', patternBytes(10), 10),
      ]) {
        const err = await failure(call());
        expect(err.code).toBe('Forbidden');
        expect(allText(err)).not.toContain(wrongKey);
        expect(allText(err)).not.toContain(env!.STORE_TEST_AZURE_KEY);
      }
      expect(store.backend('az').options.azure_store_account_key).toBe('***');
      expect(logged.join('\n')).not.toContain(wrongKey);
      expect(await good.getSize(location)).toBe(10);
    });

    it('works with a SAS token, and keeps its signature out of errors', async () => {
      const { store: setup, container, admin } = await open();
      await setup.add('seed', patternBytes(10), 10);
      const credential = new StorageSharedKeyCredential(
        env!.STORE_TEST_AZURE_ACCOUNT,
        env!.STORE_TEST_AZURE_KEY,
      );
      const sas = (permissions: string) =>
        generateBlobSASQueryParameters(
          {
            containerName: container,
            permissions: BlobSASPermissions.parse(permissions),
            expiresOn: new Date(Date.now() + 3600_000),
          },
          credential,
        ).toString();
      const readWrite = sas('racwd');
      const { store } = await open(
        {
          azure_store_account_key: undefined,
          azure_store_sas_token: `?${readWrite}`,
          azure_store_create_container_on_put: false,
        },
        container,
      );
      const data = patternBytes(1500, 8);
      const added = await store.add('via-sas', chunked(data), 0);
      expect(digest('md5', await collect((await store.get(added.location)).stream))).toBe(
        added.checksum,
      );
      await store.delete(added.location);
      const missing = await failure(store.getSize(added.location));
      expect(missing.code).toBe('NotFound');
      const signature = new URLSearchParams(readWrite).get('sig')!;
      expect(allText(missing)).not.toContain(signature);

      const readOnly = sas('r');
      const { store: reader } = await open(
        {
          azure_store_account_key: undefined,
          azure_store_sas_token: readOnly,
          azure_store_create_container_on_put: false,
        },
        container,
      );
      const refused = await failure(reader.add('nope', patternBytes(10), 10));
      expect(refused.code).toBe('Forbidden');
      expect(allText(refused)).not.toContain(new URLSearchParams(readOnly).get('sig')!);
      expect(await committedBlobs(admin)).toEqual(['seed']);
    });

    it('raises RemoteServiceUnavailable, after bounded retries, when the service is unreachable', async () => {
      const { store } = await open({
        azure_store_account_url: `http://127.0.0.1:1/${env!.STORE_TEST_AZURE_ACCOUNT}`,
        azure_store_retries: 2,
      });
      const location = `azure://${env!.STORE_TEST_AZURE_ACCOUNT}/${store.backend('az').options.azure_store_container}/x`;
      const tries: number[] = [];
      for (const call of [
        () => store.getSize(location),
        () => store.add('x', patternBytes(10), 10),
        () => store.get(location),
      ]) {
        const requests = countRequests({ port: 1 });
        const err = await failure(call()).finally(() => requests.close());
        expect(err.code).toBe('RemoteServiceUnavailable');
        expect(err.message).toMatch(/ECONNREFUSED/);
        tries.push(requests.count);
      }
      // One request each (add's creates the container), tried azure_store_retries + 1 = 3
      // times, in each of the manager's store_retry_attempts (2) for getSize and get; an
      // add is never repeated.
      expect(tries).toEqual([2 * 3, 3, 2 * 3]);
    });

    it('leaves a location of another container or account to the backend that owns it', async () => {
      const a = uniqueContainer('store-az-a');
      const b = uniqueContainer('store-az-b');
      containers.add(a).add(b);
      const common = {
        azure_store_connection_string: env!.STORE_TEST_AZURE_CONNECTION_STRING,
        azure_store_create_container_on_put: true,
      };
      const store = await MultiStore.create(
        {
          enabledBackends: { first: 'azure', second: 'azure' },
          defaultBackend: 'first',
          backends: {
            first: { ...common, azure_store_container: a },
            second: { ...common, azure_store_container: b },
          },
        },
        { drivers: [azureDriver] },
      );
      stores.push(store);
      const added = await store.add('owned', patternBytes(10, 2), 10, { backend: 'second' });
      expect((await store.get(added.location)).backend).toBe('second');
      expect((await failure(store.getSize(added.location, { backend: 'first' }))).code).toBe(
        'NotFound',
      );
      const foreign = `azure://otheraccount/${b}/owned`;
      expect((await failure(store.getSize(foreign))).code).toBe('NotFound');
    });
  });

  describe('configuration', () => {
    it.each([
      ['no credentials', { azure_store_account_key: undefined }, /needs credentials/],
      ['a key and a SAS token', { azure_store_sas_token: 'sv=1&sig=c2VjcmV0dmFsdWU' }, /not both/],
      [
        'a connection string beside a URL',
        {
          azure_store_connection_string:
            'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0dmFsdWU=',
        },
        /not both/,
      ],
      ['a key that is not base64', { azure_store_account_key: 'secret value!' }, /not base64/],
      ['a bad container name', { azure_store_container: 'Bad_Name' }, /azure_store_container/],
      [
        'a URL with a query',
        { azure_store_account_url: 'https://acct.blob.core.windows.net/?sig=secretvalue' },
        /must not carry/,
      ],
      [
        'a missing CA file',
        { azure_store_ca_certificates_file: '/nonexistent/ca.pem' },
        /azure_store_ca_certificates_file/,
      ],
      ['block size 0', { azure_store_block_size: 0 }, /azure_store_block_size/],
    ])(
      'refuses %s (BadStoreConfiguration), without secrets in the message',
      async (_why, options, pattern) => {
        const err = await failure(open(options as Record<string, unknown>));
        expect(err.code).toBe('BadStoreConfiguration');
        expect(err.message).toMatch(pattern);
        expect(allText(err)).not.toMatch(/c2VjcmV0dmFsdWU|secret value|secretvalue/);
        expect(allText(err)).not.toContain(env!.STORE_TEST_AZURE_KEY);
      },
    );

    it('refuses a connection string it cannot parse without quoting it', async () => {
      const err = await failure(
        open({
          azure_store_account_url: undefined,
          azure_store_account_key: undefined,
          azure_store_connection_string: 'AccountKey=c2VjcmV0dmFsdWU=;nonsense',
        }),
      );
      expect(err.code).toBe('BadStoreConfiguration');
      expect(allText(err)).not.toContain('c2VjcmV0dmFsdWU');
    });
  });
});
