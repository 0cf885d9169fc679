/**
 * The driver contract suite (as Flysystem's adapter test case and object_store's
 * conformance tests): a driver package calls {@link describeDriverContract} from
 * one of its vitest files with a configured store, and the suite checks every
 * behaviour the manager and callers rely on.
 */
import { randomUUID } from 'node:crypto';
import { Capability, type MultiStore, StoreError } from '@store/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunked, collect, digest, failingSource, patternBytes } from './data.js';

/** What a driver's test hands the suite. */
export interface ContractSubject {
  /** A manager with the backend under test configured. */
  readonly store: MultiStore;
  /** The backend id under test. */
  readonly backend: string;
  /**
   * Lists every object the backend holds under the test's namespace, committed
   * or not (temp files, uncommitted uploads). With it the suite checks that a
   * failed write leaves nothing behind; without it, only that the id is free again.
   */
  readonly listObjects?: () => Promise<string[]>;
  /**
   * Puts `data` in the backend by other means and returns its location. Needed
   * for read-only backends (no WRITE_ACCESS); writable ones use the store's add.
   */
  readonly seed?: (imageId: string, data: Uint8Array) => Promise<string>;
  /**
   * The location `imageId` would have in the backend, for an image it does not
   * hold. Needed for read-only backends (the suite cannot add and delete one
   * there) to check NotFound on get and getSize and that a refused add left
   * nothing; a writable backend's is checked as well when given.
   */
  readonly missingLocation?: (imageId: string) => Promise<string> | string;
}

/** Options of {@link describeDriverContract}. */
export interface DriverContractOptions {
  /** Shown in the suite's title. */
  readonly name: string;
  /** Creates the subject once, before the suite's tests. */
  readonly setup: () => Promise<ContractSubject>;
  /** Releases it (the suite closes the store itself). */
  readonly teardown?: (subject: ContractSubject) => Promise<void>;
  /** Size of the large image the suite writes; default 3 MiB + 17 bytes. */
  readonly largeSize?: number;
  /** A reason to skip the whole suite (e.g. the backend's service is not running). */
  readonly skip?: string | false;
  /** Per-test timeout in ms; default 60 s. */
  readonly timeout?: number;
}

const id = () => `contract-${randomUUID()}`;

async function expectCode(promise: Promise<unknown>, code: string): Promise<StoreError> {
  try {
    await promise;
  } catch (err) {
    expect(err, `expected a ${code} StoreError, got ${String(err)}`).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe(code);
    return err as StoreError;
  }
  throw new Error(`expected ${code}, but the call succeeded`);
}

/** Registers the contract suite for one driver. */
export function describeDriverContract(options: DriverContractOptions): void {
  const largeSize = options.largeSize ?? 3 * 1024 * 1024 + 17;
  const timeout = options.timeout ?? 60_000;
  describe.skipIf(!!options.skip)(`driver contract: ${options.name}`, { timeout }, () => {
    let subject: ContractSubject;
    let store: MultiStore;
    let backend: string;
    let caps = 0;
    const writable = () => (caps & Capability.WRITE_ACCESS) !== 0;
    const can = (flag: number) => (caps & flag) === flag;

    /** Stores `data` through the store (or the seed for read-only backends). */
    async function put(data: Uint8Array, size = data.byteLength, imageId = id()): Promise<string> {
      if (!writable()) {
        if (!subject.seed)
          throw new Error('A read-only backend needs a seed() in its contract subject');
        return subject.seed(imageId, data);
      }
      return (await store.add(imageId, data, size, { backend })).location;
    }

    /** A location the backend does not hold (from the subject's hook). */
    async function missing(imageId = id()): Promise<string> {
      if (!subject.missingLocation)
        throw new Error('A read-only backend needs a missingLocation() in its contract subject');
      return subject.missingLocation(imageId);
    }

    /** Checks the backend holds nothing under `imageId` (read-only backends). */
    async function expectAbsent(imageId: string): Promise<void> {
      const location = await missing(imageId);
      await expectCode(store.getSize(location, { backend }), 'NotFound');
    }

    async function residue(): Promise<string[]> {
      return subject.listObjects ? (await subject.listObjects()).sort() : [];
    }

    beforeAll(async () => {
      subject = await options.setup();
      store = subject.store;
      backend = subject.backend;
      caps = store.store(backend).capabilities;
    }, timeout);

    afterAll(async () => {
      if (!subject) return;
      await store.close();
      await options.teardown?.(subject);
    }, timeout);

    describe('writing and reading back', () => {
      const cases: [string, number, 'known' | 'unknown'][] = [
        ['an empty image', 0, 'unknown'],
        ['a small image of known size', 1000, 'known'],
        ['a small image of unknown size', 1000, 'unknown'],
        ['a multi-chunk image of known size', largeSize, 'known'],
        ['a multi-chunk image of unknown size', largeSize, 'unknown'],
      ];
      for (const [title, bytes, sizing] of cases) {
        it(`round-trips ${title} with correct checksums`, async () => {
          const data = patternBytes(bytes, bytes + 1);
          if (!writable()) {
            // Read-only: the same reads, of a seeded image; "unknown size" reads
            // it without naming the backend (found by scheme) instead.
            const location = await put(data);
            const named = sizing === 'known' ? { backend } : {};
            const got = await store.get(location, named);
            expect(got.size).toBe(bytes);
            expect(got.backend).toBe(backend);
            const read = await collect(got.stream);
            expect(read.byteLength).toBe(bytes);
            expect(digest('sha256', read)).toBe(digest('sha256', data));
            expect(await store.getSize(location, named)).toBe(bytes);
            return;
          }
          const result = await store.add(id(), chunked(data), sizing === 'known' ? bytes : 0, {
            backend,
            hashingAlgo: 'sha256',
          });
          expect(result.size).toBe(bytes);
          expect(result.checksum).toBe(digest('md5', data));
          expect(result.multihash).toBe(digest('sha256', data));
          expect(result.metadata.store).toBe(backend);
          expect(result.backend).toBe(backend);
          const got = await store.get(result.location, { backend });
          expect(got.size).toBe(bytes);
          const read = await collect(got.stream);
          expect(read.byteLength).toBe(bytes);
          expect(digest('sha256', read)).toBe(result.multihash);
          expect(await store.getSize(result.location, { backend })).toBe(bytes);
        });
      }

      it('reads a seeded or stored image back, also without naming the backend', async () => {
        const data = patternBytes(200_000, 7);
        const location = await put(data);
        const got = await store.get(location);
        expect(Buffer.compare(await collect(got.stream), Buffer.from(data))).toBe(0);
        expect(await store.getSize(location)).toBe(data.byteLength);
      });

      it('returns a location that parses back to itself, in one of its schemes', async () => {
        const location = await put(patternBytes(10, 3));
        const scheme = location.slice(0, location.indexOf(':')).toLowerCase();
        expect(store.store(backend).schemes).toContain(scheme);
        expect(store.canonicalLocation(location, { backend })).toBe(location);
      });

      it('serves offset and chunk reads where capable, and refuses them where not', async () => {
        const data = patternBytes(300_000, 11);
        const location = await put(data);
        if (can(Capability.READ_OFFSET)) {
          const got = await store.get(location, { backend, offset: 100_000 });
          expect(got.size).toBe(200_000);
          expect(
            Buffer.compare(await collect(got.stream), Buffer.from(data.subarray(100_000))),
          ).toBe(0);
        } else {
          await expectCode(
            store.get(location, { backend, offset: 1 }),
            'StoreRandomGetNotSupported',
          );
        }
        if (can(Capability.READ_CHUNK)) {
          const got = await store.get(location, { backend, chunkSize: 5_000 });
          expect(got.size).toBe(5_000);
          expect(
            Buffer.compare(await collect(got.stream), Buffer.from(data.subarray(0, 5_000))),
          ).toBe(0);
        } else {
          await expectCode(
            store.get(location, { backend, chunkSize: 5_000 }),
            'StoreRandomGetNotSupported',
          );
        }
        if (can(Capability.READ_OFFSET | Capability.READ_CHUNK)) {
          const got = await store.get(location, { backend, offset: 299_990, chunkSize: 10 });
          expect(
            Buffer.compare(await collect(got.stream), Buffer.from(data.subarray(299_990))),
          ).toBe(0);
        }
      });

      it('handles concurrent adds and gets', async () => {
        const images = Array.from({ length: 8 }, (_, i) =>
          patternBytes(64 * 1024 * (i + 1) + i, 100 + i),
        );
        const locations = await Promise.all(images.map((data) => put(data)));
        const reads = await Promise.all(
          locations.map(async (location) =>
            collect((await store.get(location, { backend })).stream),
          ),
        );
        for (const [i, read] of reads.entries())
          expect(digest('sha1', read)).toBe(digest('sha1', images[i]!));
      });

      it('reads intact with reuseBuffers by a consumer that is done with each chunk when it pulls the next', async () => {
        const data = patternBytes(largeSize, 13);
        const location = await put(data);
        const copyEach = async (stream: AsyncIterable<Uint8Array>) => {
          const copies: Buffer[] = [];
          for await (const chunk of stream) copies.push(Buffer.from(chunk));
          return Buffer.concat(copies);
        };
        const whole = await store.get(location, { backend, reuseBuffers: true });
        expect(digest('sha1', await copyEach(whole.stream))).toBe(digest('sha1', data));
        // 'data' listeners too: the next event comes only after the listener returned.
        const flowing = await store.get(location, { backend, reuseBuffers: true });
        const copies: Buffer[] = [];
        flowing.stream.on('data', (chunk: Buffer) => copies.push(Buffer.from(chunk)));
        await new Promise((resolve, reject) =>
          flowing.stream.on('end', resolve).on('error', reject),
        );
        expect(digest('sha1', Buffer.concat(copies))).toBe(digest('sha1', data));
        if (can(Capability.READ_OFFSET)) {
          const offset = Math.floor(largeSize / 3);
          const tail = await store.get(location, { backend, offset, reuseBuffers: true });
          expect(digest('sha1', await copyEach(tail.stream))).toBe(
            digest('sha1', data.subarray(offset)),
          );
        }
      });

      it('fails a read stream with OperationAborted when its signal fires', async () => {
        const location = await put(patternBytes(largeSize, 5));
        const controller = new AbortController();
        const got = await store.get(location, { backend, signal: controller.signal });
        let bytes = 0;
        const reading = (async () => {
          for await (const chunk of got.stream) {
            bytes += chunk.byteLength;
            controller.abort();
          }
        })();
        await expectCode(reading, 'OperationAborted');
        expect(bytes).toBeLessThan(largeSize);
      });
    });

    describe('errors', () => {
      it('refuses a second image with the same id (Duplicate) and keeps the first intact', async () => {
        if (!writable())
          return await expectCode(
            store.add(id(), new Uint8Array(1), 1, { backend }),
            'StoreAddDisabled',
          );
        const imageId = id();
        const first = patternBytes(5000, 21);
        const { location } = await store.add(imageId, first, first.byteLength, { backend });
        await expectCode(
          store.add(imageId, patternBytes(7000, 22), 7000, { backend }),
          'Duplicate',
        );
        const read = await collect((await store.get(location, { backend })).stream);
        expect(digest('md5', read)).toBe(digest('md5', first));
      });

      it('raises NotFound for get, getSize and delete of a missing image', async () => {
        if (!writable()) {
          const location = await missing();
          await expectCode(store.get(location, { backend }), 'NotFound');
          await expectCode(store.get(location), 'NotFound');
          await expectCode(store.getSize(location, { backend }), 'NotFound');
          // Without WRITE_ACCESS the refusal comes first, as the capabilities declare.
          await expectCode(store.delete(location, { backend }), 'StoreDeleteNotSupported');
          return;
        }
        const { location } = await store.add(id(), patternBytes(10, 1), 10, { backend });
        await store.delete(location, { backend });
        await expectCode(store.get(location, { backend }), 'NotFound');
        await expectCode(store.getSize(location, { backend }), 'NotFound');
        await expectCode(store.delete(location, { backend }), 'NotFound');
        if (subject.missingLocation) {
          const never = await missing();
          await expectCode(store.get(never, { backend }), 'NotFound');
          await expectCode(store.getSize(never, { backend }), 'NotFound');
        }
      });

      it('raises UnknownHashingAlgo before writing anything', async () => {
        if (!writable()) {
          // Read-only: the add is refused (StoreAddDisabled) before the algorithm is looked at.
          const before = await residue();
          const imageId = id();
          await expectCode(
            store.add(imageId, patternBytes(10, 1), 10, { backend, hashingAlgo: 'nope-256' }),
            'StoreAddDisabled',
          );
          expect(await residue()).toEqual(before);
          await expectAbsent(imageId);
          return;
        }
        const imageId = id();
        await expectCode(
          store.add(imageId, patternBytes(10, 1), 10, { backend, hashingAlgo: 'nope-256' }),
          'UnknownHashingAlgo',
        );
        await store.add(imageId, patternBytes(10, 1), 10, { backend });
      });

      it('allows or refuses writes and deletes as its capabilities declare', async () => {
        const location = await put(patternBytes(10, 2));
        if (writable()) {
          await store.delete(location, { backend });
          await expectCode(store.getSize(location, { backend }), 'NotFound');
          return;
        }
        await expectCode(store.add(id(), new Uint8Array(1), 1, { backend }), 'StoreAddDisabled');
        await expectCode(store.delete(location, { backend }), 'StoreDeleteNotSupported');
        expect(await store.getSize(location, { backend })).toBe(10);
      });
    });

    describe('failed writes leave nothing behind', () => {
      const failures: [string, (imageId: string) => Promise<unknown>, string][] = [
        [
          'the source stream errors midway',
          (imageId) =>
            store.add(imageId, failingSource(patternBytes(largeSize, 31), 1024 * 1024), largeSize, {
              backend,
            }),
          'BackendException',
        ],
        [
          'the AbortSignal fires midway',
          (imageId) => {
            const controller = new AbortController();
            const data = patternBytes(largeSize, 32);
            async function* source() {
              let sent = 0;
              for await (const chunk of chunked(data, [256 * 1024])) {
                yield chunk;
                sent += chunk.byteLength;
                if (sent >= 1024 * 1024) controller.abort(new Error('test abort'));
              }
            }
            return store.add(imageId, source(), 0, { backend, signal: controller.signal });
          },
          'OperationAborted',
        ],
        [
          'the data is shorter than the declared size',
          (imageId) =>
            store.add(imageId, chunked(patternBytes(largeSize - 1, 33)), largeSize, { backend }),
          'ImageSizeMismatch',
        ],
        [
          'the data is longer than the declared size',
          (imageId) =>
            store.add(imageId, chunked(patternBytes(largeSize + 1, 34)), largeSize, { backend }),
          'ImageSizeMismatch',
        ],
      ];
      for (const [title, attempt, code] of failures) {
        it(`when ${title}`, async () => {
          const before = await residue();
          const imageId = id();
          if (!writable()) {
            // Read-only: the add is refused outright and nothing appears.
            await expectCode(attempt(imageId), 'StoreAddDisabled');
            expect(await residue()).toEqual(before);
            await expectAbsent(imageId);
            return;
          }
          await expectCode(attempt(imageId), code);
          expect(await residue()).toEqual(before);
          // The id is free again: nothing partial claims it.
          const data = patternBytes(1000, 35);
          const { location } = await store.add(imageId, data, data.byteLength, { backend });
          expect(
            digest('md5', await collect((await store.get(location, { backend })).stream)),
          ).toBe(digest('md5', data));
        });
      }
    });

    describe('capabilities', () => {
      it('declares a mask within glance_store values and reads at least', () => {
        expect(caps).toBeGreaterThanOrEqual(0);
        expect(caps).toBeLessThanOrEqual(Capability.ALL);
        expect(can(Capability.READ_ACCESS)).toBe(true);
      });
    });
  });
}
