/**
 * The manager's retries (core's retry.ts, store_retry_* options) on an s3
 * backend: radosgw behind testkit's fault proxy, which resets the connection a
 * request arrives on (the one fault injected; radosgw answers everything else).
 * The SDK's own retries are turned off (s3_store_max_attempts = 1) so each reset
 * reaches the manager.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { type LogFields, type Logger, MultiStore, type StoreOperationEvent } from '@store/core';
import { collect, type FaultProxy, failure, patternBytes, startFaultProxy } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import s3Driver from '../src/index.js';
import {
  adminClient,
  dropBucketAlone,
  env,
  listEverything,
  s3Options,
  scratchBucket,
} from './radosgw.js';

/** A logger that keeps its warnings, to count the manager's retries. */
function warnings(): Logger & { readonly lines: { message: string; fields?: LogFields }[] } {
  const lines: { message: string; fields?: LogFields }[] = [];
  const none = () => {};
  return {
    lines,
    debug: none,
    info: none,
    error: none,
    warn: (message, fields) => lines.push({ message, fields }),
  };
}

describe.skipIf(!env)('manager retries on s3 through a resetting proxy', () => {
  const bucket = scratchBucket('store-retry');
  let proxy: FaultProxy;
  const stores: MultiStore[] = [];

  beforeAll(async () => {
    proxy = await startFaultProxy(env!.STORE_TEST_S3_ENDPOINT);
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await proxy?.close();
    await dropBucketAlone(bucket);
  });

  async function open(retry: Record<string, string>, logger: Logger) {
    const store = await MultiStore.create(
      {
        enabledBackends: { objects: 's3' },
        defaultBackend: 'objects',
        backends: {
          objects: s3Options(bucket, {
            s3_store_host: `http://${proxy.address}`,
            s3_store_max_attempts: '1',
            store_retry_delay: '0.01',
            store_retry_max_delay: '0.05',
            ...retry,
          }),
        },
      },
      { drivers: [s3Driver], logger },
    );
    stores.push(store);
    return store;
  }

  it('repeats getSize, a get before its data and delete after a reset, logging each retry', async () => {
    const log = warnings();
    const store = await open({ store_retry_attempts: '3' }, log);
    const bytes = patternBytes(256 * 1024, 11);
    const { location } = await store.add('retried', bytes, bytes.length);

    proxy.resetNext(1);
    const before = proxy.resets;
    expect(await store.getSize(location)).toBe(bytes.length);
    expect(proxy.resets - before).toBe(1);
    expect(log.lines.at(-1)?.message).toMatch(
      /^getSize on backend 'objects' failed with a transient error; attempt 2 of 3 in \d+ ms$/,
    );

    proxy.resetNext(1);
    const { stream } = await store.get(location);
    expect(Buffer.compare(await collect(stream), bytes)).toBe(0);
    expect(proxy.resets - before).toBe(2);
    expect(log.lines.at(-1)?.message).toMatch(/^get on backend 'objects' failed/);

    proxy.resetNext(1);
    await store.delete(location);
    expect(proxy.resets - before).toBe(3);
    expect(log.lines.at(-1)?.message).toMatch(/^delete on backend 'objects' failed/);
    expect((await failure(store.getSize(location))).code).toBe('NotFound');
    // Each retry is counted on the operation's tracing event.
    const ended: StoreOperationEvent[] = [];
    const asyncEnd = 'tracing:@store/core.MultiStore.getSize:asyncEnd';
    const onEnd = (event: unknown) => ended.push(event as StoreOperationEvent);
    diagnosticsChannel.subscribe(asyncEnd, onEnd);
    try {
      const again = await store.add('retried-traced', bytes, bytes.length);
      proxy.resetNext(1);
      await store.getSize(again.location);
      await store.getSize(again.location);
      expect(ended.map((e) => e.retries)).toEqual([1, undefined]);
      await store.delete(again.location);
    } finally {
      diagnosticsChannel.unsubscribe(asyncEnd, onEnd);
    }
    // Credentials never reach the log.
    expect(JSON.stringify(log.lines)).not.toContain(env!.STORE_TEST_S3_SECRET_KEY);
  });

  it('gives up after store_retry_attempts, and never repeats NotFound', async () => {
    const log = warnings();
    const store = await open({ store_retry_attempts: '2' }, log);
    const bytes = patternBytes(4096, 2);
    const { location } = await store.add('given-up', bytes, bytes.length);

    proxy.resetNext(2);
    const err = await failure(store.getSize(location));
    expect(err.code).toBe('RemoteServiceUnavailable');
    expect(log.lines).toHaveLength(1);

    const missing = location.replace('given-up', 'never-added');
    expect((await failure(store.getSize(missing))).code).toBe('NotFound');
    expect(log.lines).toHaveLength(1);
    await store.delete(location);
  });

  it('never repeats an add: a reset fails it and leaves nothing', async () => {
    const log = warnings();
    const store = await open({ store_retry_attempts: '3' }, log);
    const bytes = patternBytes(64 * 1024, 4);
    proxy.resetNext(1);
    const err = await failure(store.add('not-repeated', bytes, bytes.length));
    expect(err.code).toBe('RemoteServiceUnavailable');
    expect(log.lines.filter((l) => /transient/.test(l.message))).toHaveLength(0);
    expect(await listEverything(adminClient(), bucket)).not.toContainEqual(
      expect.stringContaining('not-repeated'),
    );
  });

  it('an abort during the back-off ends the call at once with OperationAborted', async () => {
    const controller = new AbortController();
    const log = warnings();
    const store = await open(
      // A back-off longer than any test: only the abort can end it.
      { store_retry_attempts: '3', store_retry_delay: '3600', store_retry_max_delay: '3600' },
      {
        ...log,
        warn: (message, fields) => {
          log.warn(message, fields);
          controller.abort();
        },
      },
    );
    const bytes = patternBytes(4096, 9);
    const { location } = await store.add('aborted-backoff', bytes, bytes.length);
    proxy.resetNext(1);
    const err = await failure(store.getSize(location, { signal: controller.signal }));
    expect(err.code).toBe('OperationAborted');
    expect(log.lines).toHaveLength(1);
    await store.delete(location);
  });
});
