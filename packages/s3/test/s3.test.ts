import { HeadBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type Logger, MultiStore, StoreError } from '@store/core';
import {
  chunked,
  collect,
  countRequests,
  digest,
  failingSource,
  patternBytes,
} from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import s3Driver from '../src/index.js';
import {
  adminClient,
  dropBucket,
  env,
  etagOf,
  listEverything,
  listUploads,
  s3Options,
  scratchBucket,
} from './radosgw.js';

const MiB = 1024 * 1024;

async function storeWith(options: Record<string, string>, logger?: Logger): Promise<MultiStore> {
  return MultiStore.create(
    {
      enabledBackends: { objects: 's3' },
      defaultBackend: 'objects',
      backends: { objects: options },
    },
    { drivers: [s3Driver], ...(logger ? { logger } : {}) },
  );
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<StoreError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(StoreError);
  expect((err as StoreError).code, (err as Error).message).toBe(code);
  return err as StoreError;
}

/** Every message and stack along the cause chain, to look for leaked secrets in. */
function allText(err: unknown): string {
  const parts: string[] = [];
  for (let e = err as Error | undefined; e instanceof Error; e = e.cause as Error | undefined)
    parts.push(e.message, e.stack ?? '');
  return parts.join('\n');
}

describe.skipIf(!env)('s3 driver against radosgw', { timeout: 60_000 }, () => {
  const bucket = scratchBucket('store-s3');
  let admin: S3Client;
  let store: MultiStore;

  beforeAll(async () => {
    admin = adminClient();
    // 1 MiB threshold, 5 MiB parts, 2 in flight.
    store = await storeWith(
      s3Options(bucket, {
        s3_store_large_object_size: '1',
        s3_store_large_object_chunk_size: '5',
        s3_store_thread_pools: '2',
      }),
    );
  });
  afterAll(async () => {
    await store?.close();
    if (admin) await dropBucket(admin, bucket);
    admin?.destroy();
  });

  describe('picks single PUT or multipart at the boundaries', () => {
    const cases: [string, number, 'known' | 'unknown', string][] = [
      ['one byte under the threshold', MiB - 1, 'known', 'single'],
      ['exactly the threshold', MiB, 'known', '-1'],
      ['one byte over the threshold', MiB + 1, 'known', '-1'],
      ['unknown size, small', 1000, 'unknown', '-1'],
      ['unknown size, empty', 0, 'unknown', '-1'],
      ['known size of three parts', 11 * MiB + 3, 'known', '-3'],
      ['unknown size of three parts', 11 * MiB + 3, 'unknown', '-3'],
    ];
    for (const [title, bytes, sizing, expected] of cases) {
      it(`${title}: ${expected === 'single' ? 'a single PUT' : `multipart (${expected.slice(1)} parts)`}`, async () => {
        const data = patternBytes(bytes, bytes % 97);
        const imageId = `boundary-${bytes}-${sizing}`;
        const added = await store.add(imageId, chunked(data), sizing === 'known' ? bytes : 0);
        expect(added.size).toBe(bytes);
        expect(added.checksum).toBe(digest('md5', data));
        const etag = await etagOf(admin, bucket, imageId);
        if (expected === 'single') expect(etag).not.toContain('-');
        else expect(etag).toMatch(new RegExp(`${expected}"?$`));
        const read = await collect((await store.get(added.location)).stream);
        expect(digest('sha512', read)).toBe(added.multihash);
        expect(await store.getSize(added.location)).toBe(bytes);
        await store.delete(added.location);
      });
    }
  });

  describe('a failed multipart upload is aborted and leaves nothing', () => {
    it('when the source fails after two parts', async () => {
      const imageId = 'fails-midway';
      const data = patternBytes(20 * MiB, 3);
      await expectCode(store.add(imageId, failingSource(data, 12 * MiB), 0), 'BackendException');
      expect(await listUploads(admin, bucket)).toEqual([]);
      expect(await listEverything(admin, bucket)).not.toContain(imageId);
    });

    it('when the AbortSignal fires with parts in flight', async () => {
      const imageId = 'aborted-midway';
      const controller = new AbortController();
      const data = patternBytes(20 * MiB, 4);
      async function* source() {
        let sent = 0;
        for await (const chunk of chunked(data, [MiB])) {
          yield chunk;
          sent += chunk.byteLength;
          if (sent === 11 * MiB) controller.abort(new Error('test abort'));
        }
      }
      await expectCode(
        store.add(imageId, source(), data.byteLength, { signal: controller.signal }),
        'OperationAborted',
      );
      expect(await listUploads(admin, bucket)).toEqual([]);
      expect(await listEverything(admin, bucket)).not.toContain(imageId);
    });

    it('when the data is longer than declared', async () => {
      const imageId = 'too-long';
      await expectCode(
        store.add(imageId, chunked(patternBytes(6 * MiB + 1, 5)), 6 * MiB),
        'ImageSizeMismatch',
      );
      expect(await listUploads(admin, bucket)).toEqual([]);
      expect(await listEverything(admin, bucket)).not.toContain(imageId);
    });
  });

  describe('a single PUT waits for the end of the source', () => {
    /** All `data`, then a pause (the server answers meanwhile), then maybe one byte more. */
    async function* slowEnd(data: Uint8Array, extra: boolean) {
      yield data;
      await new Promise((r) => setTimeout(r, 300));
      if (extra) yield new Uint8Array(1);
    }

    it('completes when the source ends after the server has answered', async () => {
      const data = patternBytes(100_000, 14);
      const added = await store.add('slow-end', slowEnd(data, false), data.byteLength);
      expect(added.checksum).toBe(digest('md5', data));
      expect(await store.getSize(added.location)).toBe(data.byteLength);
    });

    it('takes the object back when the source turns out longer after the server answered', async () => {
      const data = patternBytes(100_000, 15);
      await expectCode(
        store.add('slow-extra', slowEnd(data, true), data.byteLength),
        'ImageSizeMismatch',
      );
      expect(await listEverything(admin, bucket)).not.toContain('slow-extra');
    });
  });

  describe('Duplicate', () => {
    it('refuses a multipart add over an existing image and keeps it intact', async () => {
      const first = patternBytes(2 * MiB, 6);
      const added = await store.add('dup-multipart', first, first.byteLength);
      await expectCode(store.add('dup-multipart', patternBytes(3 * MiB, 7), 3 * MiB), 'Duplicate');
      await expectCode(store.add('dup-multipart', chunked(patternBytes(10, 7)), 0), 'Duplicate');
      const read = await collect((await store.get(added.location)).stream);
      expect(digest('md5', read)).toBe(digest('md5', first));
      expect(await listUploads(admin, bucket)).toEqual([]);
    });

    /** A source that writes the key behind the driver's back once the upload has started. */
    function racingSource(imageId: string, data: Uint8Array) {
      return (async function* () {
        let first = true;
        for await (const chunk of chunked(data, [256 * 1024])) {
          yield chunk;
          if (first) {
            first = false;
            await admin.send(
              new PutObjectCommand({ Bucket: bucket, Key: imageId, Body: 'winner' }),
            );
          }
        }
      })();
    }

    it('single PUT: the conditional write (If-None-Match: *) refuses a key written meanwhile', async () => {
      const imageId = 'race-single';
      const data = patternBytes(512 * 1024, 8);
      await expectCode(
        store.add(imageId, racingSource(imageId, data), data.byteLength),
        'Duplicate',
      );
      const { location } = await store.add('probe-single', new Uint8Array(1), 1);
      const read = await collect(
        (await store.get(location.replace(/probe-single$/, imageId))).stream,
      );
      expect(read.toString()).toBe('winner');
    });

    it('multipart: the check before completing refuses a key written meanwhile, and aborts', async () => {
      const imageId = 'race-multipart';
      const data = patternBytes(7 * MiB, 9);
      await expectCode(
        store.add(imageId, racingSource(imageId, data), data.byteLength),
        'Duplicate',
      );
      expect(await listUploads(admin, bucket)).toEqual([]);
      const { location } = await store.add('probe-multipart', new Uint8Array(1), 1);
      const read = await collect(
        (await store.get(location.replace(/probe-multipart$/, imageId))).stream,
      );
      expect(read.toString()).toBe('winner');
    });
  });

  describe('ranged reads', () => {
    let location: string;
    const data = patternBytes(100_000, 10);
    beforeAll(async () => {
      location = (await store.add('ranged', data, data.byteLength)).location;
    });

    it('reads from an offset, a bounded chunk, and both', async () => {
      const tail = await store.get(location, { offset: 99_000 });
      expect(tail.size).toBe(1000);
      expect(Buffer.compare(await collect(tail.stream), Buffer.from(data.subarray(99_000)))).toBe(
        0,
      );
      const middle = await store.get(location, { offset: 10, chunkSize: 20 });
      expect(middle.size).toBe(20);
      expect(Buffer.compare(await collect(middle.stream), Buffer.from(data.subarray(10, 30)))).toBe(
        0,
      );
    });

    it('clips a chunk past the end, and reads nothing at or after the end', async () => {
      const clipped = await store.get(location, { offset: 99_990, chunkSize: 1000 });
      expect(clipped.size).toBe(10);
      expect((await collect(clipped.stream)).byteLength).toBe(10);
      for (const offset of [100_000, 200_000]) {
        const past = await store.get(location, { offset });
        expect(past.size).toBe(0);
        expect((await collect(past.stream)).byteLength).toBe(0);
      }
      const none = await store.get(location, { chunkSize: 0 });
      expect(none.size).toBe(0);
    });

    it('reads with backpressure: an unread stream does not pull the object into memory', async () => {
      const big = await store.add('backpressure', patternBytes(48 * MiB, 11), 48 * MiB);
      const got = await store.get(big.location);
      const iterator = (got.stream as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      expect((await iterator.next()).done).toBe(false);
      const before = process.memoryUsage().arrayBuffers;
      await new Promise((r) => setTimeout(r, 500));
      // Without backpressure the whole 48 MiB would have arrived by now.
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * MiB);
      let bytes = 0;
      for (let r = await iterator.next(); !r.done; r = await iterator.next())
        bytes += r.value.byteLength;
      expect(bytes).toBeGreaterThan(47 * MiB);
      await store.delete(big.location);
    });

    it('reads across several ranged windows (5 MiB each here), in order', async () => {
      const data = patternBytes(12 * MiB + 7, 12);
      const { location: big } = await store.add('windows', data, data.byteLength);
      const whole = await store.get(big);
      expect(whole.size).toBe(data.byteLength);
      expect(digest('md5', await collect(whole.stream))).toBe(digest('md5', data));
      const span = await store.get(big, { offset: 4 * MiB + 3, chunkSize: 7 * MiB });
      expect(span.size).toBe(7 * MiB);
      const read = await collect(span.stream);
      expect(Buffer.compare(read, Buffer.from(data.subarray(4 * MiB + 3, 11 * MiB + 3)))).toBe(0);
      await store.delete(big);
    });

    it('fails a read, rather than mixing versions, when the object is replaced mid-read', async () => {
      const data = patternBytes(12 * MiB, 13);
      const { location: big } = await store.add('replaced', data, data.byteLength);
      const got = await store.get(big);
      const reading = (async () => {
        let bytes = 0;
        let replaced = false;
        for await (const chunk of got.stream) {
          bytes += chunk.byteLength;
          if (!replaced) {
            replaced = true;
            await admin.send(
              new PutObjectCommand({ Bucket: bucket, Key: 'replaced', Body: 'new' }),
            );
          }
        }
        return bytes;
      })();
      const err = await expectCode(reading, 'BackendException');
      expect(err.message).toContain('PreconditionFailed');
    });

    it('raises NotFound past the end of a missing image too', async () => {
      const missing = location.replace(/ranged$/, 'no-such-image');
      await expectCode(store.get(missing, { offset: 5 }), 'NotFound');
      await expectCode(store.get(missing, { chunkSize: 0 }), 'NotFound');
    });
  });

  describe('errors', () => {
    it('raises NotFound for a location in a bucket that does not exist', async () => {
      const { location } = await store.add('nf-probe', new Uint8Array(3), 3);
      const elsewhere = location.replace(`/${bucket}/`, '/no-such-bucket-store/');
      await expectCode(store.get(elsewhere), 'NotFound');
      await expectCode(store.getSize(elsewhere), 'NotFound');
      await expectCode(store.delete(elsewhere), 'NotFound');
    });

    it('does not fail an add when another add sharing the bucket check aborts', async () => {
      // A new store per round: its driver checks the bucket on its first add,
      // which the aborted add starts and the other one joins.
      const failures: string[] = [];
      for (let wait = 0; wait < 12; wait++) {
        const fresh = await storeWith(s3Options(bucket));
        try {
          const controller = new AbortController();
          const aborted = fresh
            .add(`bucket-abort-a-${wait}`, new Uint8Array(10), 10, { signal: controller.signal })
            .catch((err: unknown) => err);
          const other = fresh.add(`bucket-abort-b-${wait}`, new Uint8Array(10), 10);
          for (let i = 0; i < wait; i++) await new Promise((r) => setImmediate(r));
          controller.abort();
          const first = await aborted;
          if (first instanceof StoreError) expect(first.code).toBe('OperationAborted');
          else await fresh.delete((first as { location: string }).location);
          const second = await other.catch((err: unknown) => err);
          if (second instanceof Error) failures.push(`after ${wait} turns: ${String(second)}`);
          else await fresh.delete((second as { location: string }).location);
        } finally {
          await fresh.close();
        }
      }
      expect(failures).toEqual([]);
    });

    it('refuses to add to a missing bucket unless s3_store_create_bucket_on_put, and creates none', async () => {
      const missing = scratchBucket('store-nocreate');
      const strict = await storeWith(
        s3Options(missing, { s3_store_create_bucket_on_put: 'false' }),
      );
      try {
        const err = await expectCode(strict.add('x', new Uint8Array(5), 5), 'BackendException');
        expect(err.message).toContain('s3_store_create_bucket_on_put');
        const head = await admin.send(new HeadBucketCommand({ Bucket: missing })).catch((e) => e);
        expect(head.$metadata.httpStatusCode).toBe(404);
      } finally {
        await strict.close();
      }
    });

    it('maps a wrong secret to Forbidden, with no key in any message', async () => {
      const wrongSecret = 'Wr0ng/Secret+Key/Example0123456789abcdef';
      const bad = await storeWith(s3Options(bucket, { s3_store_secret_key: wrongSecret }));
      try {
        const err = await expectCode(bad.add('forbidden', new Uint8Array(5), 5), 'Forbidden');
        const text = allText(err);
        expect(text).not.toContain(wrongSecret);
        expect(text).not.toContain(env!.STORE_TEST_S3_ACCESS_KEY);
        // A location carrying the wrong secret: the driver uses the location's keys, as glance_store does.
        const { location } = await store.add('forbidden-read', new Uint8Array(5), 5);
        const withWrongKeys = location.replace(env!.STORE_TEST_S3_SECRET_KEY, wrongSecret);
        const readErr = await expectCode(store.get(withWrongKeys), 'Forbidden');
        expect(allText(readErr)).not.toContain(wrongSecret);
        expect(allText(readErr)).toContain('***:***@');
      } finally {
        await bad.close();
      }
    });

    it('raises RemoteServiceUnavailable, after bounded retries, when the endpoint does not answer', async () => {
      const down = await storeWith(s3Options(bucket, { s3_store_host: 'http://127.0.0.1:9' }));
      try {
        const requests = countRequests({ port: 9 });
        const err = await expectCode(
          down.add('unreachable', new Uint8Array(5), 5),
          'RemoteServiceUnavailable',
        );
        expect(err.message).toMatch(/after 4 attempts/);
        // One request, tried s3_store_max_attempts (4) times; an add is never repeated.
        expect(requests.count).toBe(4);
        const location = `s3://${env!.STORE_TEST_S3_ACCESS_KEY}:${env!.STORE_TEST_S3_SECRET_KEY}@127.0.0.1:9/${bucket}/x`;
        const getErr = await expectCode(down.getSize(location), 'RemoteServiceUnavailable').finally(
          () => requests.close(),
        );
        expect(allText(getErr)).not.toContain(env!.STORE_TEST_S3_SECRET_KEY);
        // The same 4 tries in each of the manager's store_retry_attempts (2).
        expect(requests.count - 4).toBe(2 * 4);
      } finally {
        await down.close();
      }
    });

    it('logs through the injected logger only, without keys, and no warning for a Duplicate', async () => {
      const lines: { level: string; text: string }[] = [];
      const capture = (level: string) => (message: string, fields?: Record<string, unknown>) =>
        lines.push({ level, text: `${message} ${JSON.stringify(fields ?? {})}` });
      const logger: Logger = {
        debug: capture('debug'),
        info: capture('info'),
        warn: capture('warn'),
        error: capture('error'),
      };
      const logged = await storeWith(s3Options(bucket), logger);
      try {
        await logged.add('logged', new Uint8Array(10), 10);
        await expectCode(logged.add('logged', new Uint8Array(10), 10), 'Duplicate');
        await expectCode(
          logged
            .add('logged-unknown', chunked(patternBytes(10, 1)), 0)
            .then(() => logged.add('logged-unknown', new Uint8Array(3), 3)),
          'Duplicate',
        );
      } finally {
        await logged.close();
      }
      expect(lines.some((l) => l.text.includes('single PUT'))).toBe(true);
      expect(lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
      const all = lines.map((l) => l.text).join('\n');
      expect(all).not.toContain(env!.STORE_TEST_S3_SECRET_KEY);
      expect(all).not.toContain(env!.STORE_TEST_S3_ACCESS_KEY);
    });

    it('refuses image ids that S3 locations cannot carry', async () => {
      for (const imageId of ['a/b', 'a@b', 'a?b', 'a#b'])
        await expectCode(store.add(imageId, new Uint8Array(1), 1), 'Invalid');
    });
  });
});
