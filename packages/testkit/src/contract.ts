/**
 * The driver contract suite (as Flysystem's adapter test case and object_store's
 * conformance tests): a driver package calls {@link describeDriverContract} from
 * one of its vitest files with a configured store, and the suite checks every
 * behaviour the manager and callers rely on.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  Capability,
  type Driver,
  type DriverGetResult,
  type MultiStore,
  type Orphan,
  StoreError,
} from '@store/core';
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
  /**
   * Leaves in the backend what an add of `imageId` leaves when its process dies
   * mid-way (an unfinished multipart upload, staged blocks, a partial RBD image,
   * a temporary file, segments without a manifest), by the driver's own means or
   * the backend's API, and returns the `id` the driver's `listOrphans` gives it.
   * Needed when the driver offers `listOrphans`: the suite then checks that it
   * is listed, that no stored image is, and that `removeOrphan` removes it alone.
   */
  readonly makeOrphan?: (imageId: string) => Promise<string>;
  /**
   * The most bytes the driver's `addBufferBytes` may declare for an add of any size
   * up to {@link ADD_BUFFER_PROBE_SIZES}' largest: what its documentation promises
   * (its block or part size × upload concurrency, and the chunk it is handed),
   * from the backend's options. Without it the suite holds each known size to what
   * an add of unknown size declares, and that to {@link ADD_BUFFER_CEILING}.
   */
  readonly addBufferBound?: number;
}

/**
 * Image sizes (0: unknown) at which the suite asks `addBufferBytes`. The largest
 * still fits the part or block count limit of s3 (10,000) and Azure (50,000) at
 * their smallest part sizes, below which a driver has no reason to enlarge parts.
 */
export const ADD_BUFFER_PROBE_SIZES: readonly number[] = [
  0,
  1,
  4096,
  1 << 20,
  (64 << 20) + 1,
  2 ** 30,
  16 * 2 ** 30,
];

/** The bound of `addBufferBytes` for a subject that names none ({@link ContractSubject.addBufferBound}). */
export const ADD_BUFFER_CEILING = 2 ** 30;

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

/** Waits `turns` turns of the event loop (I/O callbacks run in each). */
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Waits until `done()` holds, or `ms` have passed: a release that waits on the thread
 * pool (a file descriptor's close) takes more turns on a loaded machine.
 */
async function eventually(done: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

/**
 * Runs `work` and fails if an error was thrown with no one to catch it meanwhile
 * (an 'error' event without a listener): in a service that ends the process.
 */
async function withoutUncaught(work: () => Promise<void>): Promise<void> {
  const uncaught: unknown[] = [];
  const record = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', record);
  try {
    await work();
    await turns(3);
  } finally {
    process.off('uncaughtException', record);
  }
  expect(uncaught.map(String), 'errors nobody could catch').toEqual([]);
}

/**
 * `store` with every successful add and copy recorded in `created` (their
 * locations), so the suite can remove all it stored, whichever test stored it.
 */
function recordingAdds(store: MultiStore, created: Set<string>): MultiStore {
  return new Proxy(store, {
    get(target, key) {
      if (key === 'add' || key === 'copy') {
        return async (...args: unknown[]) => {
          const result = await (target[key] as (...a: unknown[]) => Promise<{ location: string }>)(
            ...args,
          );
          created.add(result.location);
          return result;
        };
      }
      // Own methods run on the store itself: its private fields are not on the proxy.
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Image ids that would escape a backend's namespace or corrupt what prints them. */
const escapingIds = (): [string, string][] => [
  ['a parent-directory path', `../${id()}`],
  ['a path two levels up', `../../${id()}`],
  ['a path with a separator', `${id()}/x`],
  ['a backslash path', `..\\${id()}`],
  ['"."', '.'],
  ['".."', '..'],
  ['the empty string', ''],
  ['a NUL', `${id()}\0x`],
  ['a newline', `${id()}\nx`],
  ['an escape sequence', `${id()}\u001b[2J`],
  ['DEL', `${id()}\u007f`],
  ['a C1 control', `${id()}\u0085`],
  ['a bidi override', `${id()}\u202etxt.exe`],
  ['a lone surrogate', `${id()}\ud800`],
];

/** Location URIs no driver may parse, for a backend whose first scheme is `scheme`. */
const junkLocations = (scheme: string): string[] => [
  '',
  'junk',
  `${scheme}:`,
  `${scheme}://`,
  `no-such-scheme-${randomUUID()}://host/${id()}`,
  `${scheme}://host/${id()}\0`,
  `${scheme}://host/${id()}\nx`,
  `${scheme}://ho\nst/${id()}`,
];

/** What a call did, when it was not the typed error expected: for a readable failure list. */
async function outcome(promise: Promise<unknown>, code: string): Promise<string | undefined> {
  try {
    await promise;
    return 'accepted';
  } catch (err) {
    if (err instanceof StoreError && err.code === code) return undefined;
    return `failed with ${err instanceof StoreError ? err.code : String(err)}`;
  }
}

/** `text` for a failure message, with control characters escaped. */
const shown = (text: string) =>
  JSON.stringify(text).replace(
    /[\u007f-\u009f\u202a-\u202e]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

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

    /** Locations of every image the suite stored, removed in afterAll. */
    const created = new Set<string>();
    /** Locations a driver returned for ids it should have refused (removed too). */
    const strays: { driver: Driver; uri: string }[] = [];
    let residueBefore: string[] = [];

    beforeAll(async () => {
      subject = await options.setup();
      store = recordingAdds(subject.store, created);
      backend = subject.backend;
      caps = store.backend(backend).capabilities;
      // A namespace that does not exist yet (a container made on first put) holds nothing.
      residueBefore = await residue().catch(() => []);
    }, timeout);

    afterAll(async () => {
      if (!subject) return;
      // The suite removes what it stored: a real bucket or pool keeps no test images.
      // (Seeded images of read-only backends are the subject's, for its teardown.)
      const left: string[] = [];
      for (const location of created) {
        try {
          await store.delete(location, { backend });
        } catch (err) {
          if (!(err instanceof StoreError && err.code === 'NotFound'))
            left.push(`${location}: ${String(err)}`);
        }
      }
      for (const { driver, uri } of strays) {
        const signal = new AbortController().signal;
        await Promise.resolve()
          .then(() => driver.delete?.(driver.parseLocation(uri), { signal }))
          .catch(() => undefined);
      }
      const residueAfter = await residue().catch(() => residueBefore);
      await store.close();
      await options.teardown?.(subject);
      expect(left, 'images the suite stored but could not delete').toEqual([]);
      expect(residueAfter, 'objects left in the backend after the suite').toEqual(residueBefore);
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
        expect(store.backend(backend).schemes).toContain(scheme);
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

    // The manager owns get's edge cases, so every driver answers them the same:
    // no bytes for a chunk of 0 or a range past the end, NotFound for a missing
    // image either way, and a read let go through its one door however it ends.
    describe("get's edge cases, through the manager", () => {
      let location: string;
      const bytes = 70_000;
      const data = patternBytes(bytes, 41);
      beforeAll(async () => {
        location = await put(data);
      });

      /** The location of an image the backend does not hold, when the suite can make one. */
      async function absent(): Promise<string | undefined> {
        if (subject.missingLocation) return missing();
        if (!writable()) return undefined;
        const gone = await put(patternBytes(10, 2));
        await store.delete(gone, { backend });
        return gone;
      }

      it('reads no bytes, and NotFound for a missing image, with a chunkSize of 0', async () => {
        if (!can(Capability.READ_CHUNK)) return;
        for (const offset of can(Capability.READ_OFFSET) ? [0, 10, bytes, bytes + 5] : [0]) {
          const got = await store.get(location, { backend, offset, chunkSize: 0 });
          expect(got.size).toBe(0);
          expect((await collect(got.stream)).byteLength).toBe(0);
        }
        const gone = await absent();
        if (gone) await expectCode(store.get(gone, { backend, chunkSize: 0 }), 'NotFound');
      });

      it('reads no bytes from an offset at or past the end, and NotFound for a missing image', async () => {
        if (!can(Capability.READ_OFFSET)) return;
        const reads: { offset: number; chunkSize?: number }[] = [
          { offset: bytes },
          { offset: bytes + 1 },
          { offset: bytes * 4 },
          ...(can(Capability.READ_CHUNK)
            ? [
                { offset: bytes, chunkSize: 10 },
                { offset: bytes + 100, chunkSize: 10 },
              ]
            : []),
        ];
        for (const read of reads) {
          const got = await store.get(location, { backend, ...read });
          expect(got.size, JSON.stringify(read)).toBe(0);
          expect((await collect(got.stream)).byteLength, JSON.stringify(read)).toBe(0);
        }
        // The last byte alone, and a chunk running past the end, are cut at the end.
        const last = await store.get(location, { backend, offset: bytes - 1 });
        expect(last.size).toBe(1);
        expect([...(await collect(last.stream))]).toEqual([data[bytes - 1]]);
        if (can(Capability.READ_CHUNK)) {
          const tail = await store.get(location, { backend, offset: bytes - 3, chunkSize: 10 });
          expect(tail.size).toBe(3);
          expect(Buffer.compare(await collect(tail.stream), Buffer.from(data.subarray(-3)))).toBe(
            0,
          );
        }
        const gone = await absent();
        if (gone) await expectCode(store.get(gone, { backend, offset: bytes }), 'NotFound');
      });

      it('reads an empty image as no bytes, from its start and past it', async () => {
        const empty = await put(new Uint8Array(0));
        const got = await store.get(empty, { backend });
        expect(got.size).toBe(0);
        expect((await collect(got.stream)).byteLength).toBe(0);
        expect(await store.getSize(empty, { backend })).toBe(0);
        if (can(Capability.READ_OFFSET)) {
          const past = await store.get(empty, { backend, offset: 1 });
          expect(past.size).toBe(0);
          expect((await collect(past.stream)).byteLength).toBe(0);
        }
      });

      /**
       * Runs `work` with the backend's driver's reads observed: how often each was
       * let go (its `close`, else its stream destroyed or its iterator returned).
       */
      async function observingReads(
        work: (released: () => number[]) => Promise<void>,
      ): Promise<void> {
        if (!can(Capability.DRIVER_REUSABLE)) {
          await observingStoreReads(work);
          return;
        }
        const driver = store.driverOf(backend);
        const own = Object.getOwnPropertyDescriptor(driver, 'get');
        const get = driver.get;
        const counts: number[] = [];
        const observe = (result: DriverGetResult): DriverGetResult => {
          const at = counts.push(0) - 1;
          const released = () => {
            counts[at] = (counts[at] ?? 0) + 1;
          };
          if (result.close) {
            const close = result.close.bind(result);
            return Object.assign(Object.create(result) as DriverGetResult, {
              stream: result.stream,
              size: result.size,
              close: () => {
                released();
                return close();
              },
            });
          }
          const stream = result.stream;
          if (stream instanceof Readable) {
            stream.once('close', released);
            return result;
          }
          return {
            ...result,
            stream: {
              [Symbol.asyncIterator]() {
                const iterator = stream[Symbol.asyncIterator]();
                return {
                  next: () => iterator.next(),
                  return: async (value?: unknown) => {
                    released();
                    return (await iterator.return?.(value)) ?? { done: true, value };
                  },
                } as AsyncIterator<Uint8Array>;
              },
            },
          };
        };
        driver.get = async (...args: Parameters<Driver['get']>) => {
          const result = await get.apply(driver, args);
          return result && observe(result);
        };
        try {
          await work(() => counts);
        } finally {
          if (own) Object.defineProperty(driver, 'get', own);
          else delete (driver as Partial<Driver>).get;
        }
      }

      /**
       * observingReads for a driver that is not reusable: the manager makes a fresh
       * instance per call, out of the suite's reach, so each read is observed at the
       * manager's stream instead (its close, which ends the call and its instance).
       */
      async function observingStoreReads(
        work: (released: () => number[]) => Promise<void>,
      ): Promise<void> {
        const counts: number[] = [];
        const get = store.get;
        store.get = async (...args: Parameters<MultiStore['get']>) => {
          const result = await get.apply(store, args);
          const at = counts.push(0) - 1;
          result.stream.once('close', () => {
            counts[at] = (counts[at] ?? 0) + 1;
          });
          return result;
        };
        try {
          await work(() => counts);
        } finally {
          delete (store as Partial<MultiStore>).get;
        }
      }

      it('lets each read go exactly once: read to the end, destroyed unread or mid-way, aborted', async () => {
        await withoutUncaught(async () => {
          await observingReads(async (released) => {
            // Read to its end.
            const whole = await store.get(location, { backend });
            expect((await collect(whole.stream)).byteLength).toBe(bytes);
            // Given up before its first byte: a connection or handle must not stay open.
            const unread = await store.get(location, { backend });
            unread.stream.destroy();
            await once(unread.stream, 'close');
            // Given up after its first chunk.
            const begun = await store.get(location, { backend });
            const reader = begun.stream[Symbol.asyncIterator]();
            expect((await reader.next()).done).toBe(false);
            await reader.return?.();
            // Its signal fired before the caller read.
            const controller = new AbortController();
            const aborted = await store.get(location, { backend, signal: controller.signal });
            controller.abort();
            await expectCode(collect(aborted.stream), 'OperationAborted');
            await eventually(() => released().every((count) => count > 0));
            // A second release would come soon after the first.
            await turns(3);
            expect(released()).toEqual([1, 1, 1, 1]);
          });
        });
      });

      it('frees the connection of a get given up unread (no sockets pile up)', async () => {
        const sockets = () =>
          process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap').length;
        const round = 6;
        const giveUp = async () => {
          for (let i = 0; i < round; i++) {
            const got = await store.get(location, { backend });
            got.stream.destroy();
            await once(got.stream, 'close');
          }
          // Destroyed sockets leave the list once their handles closed.
          await new Promise((resolve) => setTimeout(resolve, 50));
          await turns(5);
          return sockets();
        };
        // The first round may fill the client's pool of kept-alive sockets; a second one
        // may reuse those, but every read left open would add its own.
        const first = await giveUp();
        const second = await giveUp();
        expect(second - first, 'sockets left open by unread gets').toBeLessThan(round);
        // The backend still serves reads.
        const got = await store.get(location, { backend });
        expect((await collect(got.stream)).byteLength).toBe(bytes);
      });
    });

    // A service passes its clients' signals: a client going away at any moment
    // must never end the process with an unhandled 'error' event.
    describe('aborting a get at any moment', () => {
      let location: string;
      const size = () => Math.min(largeSize, 2 * 1024 * 1024 + 3);
      beforeAll(async () => {
        location = await put(patternBytes(size(), 21));
      });

      it('rejects get with OperationAborted when the signal fired before the call', async () => {
        await withoutUncaught(async () => {
          await expectCode(
            store.get(location, { backend, signal: AbortSignal.abort() }),
            'OperationAborted',
          );
        });
      });

      it('rejects get, or fails the later read, with OperationAborted when the signal fires while the image is opened', async () => {
        await withoutUncaught(async () => {
          const outcomes: string[] = [];
          // Abort after 0, 1, 2, … turns of the event loop: across the driver's opening.
          for (let wait = 0; wait <= 12; wait++) {
            const controller = new AbortController();
            const getting = store.get(location, { backend, signal: controller.signal });
            await turns(wait);
            controller.abort();
            let got: Awaited<typeof getting>;
            try {
              got = await getting;
            } catch (err) {
              outcomes.push(`get: ${(err as StoreError).code}`);
              continue;
            }
            await turns(2);
            await expectCode(got.stream.toArray(), 'OperationAborted');
            outcomes.push('read: OperationAborted');
          }
          // Aborted before any I/O could complete, get itself must refuse.
          expect(outcomes[0]).toBe('get: OperationAborted');
          for (const outcome of outcomes) expect(outcome).toMatch(/: OperationAborted$/);
        });
      });

      it('fails the first read with OperationAborted when the signal fires between get and that read', async () => {
        await withoutUncaught(async () => {
          const consumers: [string, (stream: NodeJS.ReadableStream) => Promise<unknown>][] = [
            [
              'for await',
              async (stream) => {
                for await (const _ of stream);
              },
            ],
            [
              'pipeline',
              (stream) => pipeline(stream, new Writable({ write: (_c, _e, cb) => cb() })),
            ],
            [
              'an error listener alone',
              (stream) => once(stream, 'error').then(([err]) => Promise.reject(err)),
            ],
          ];
          for (const [, consume] of consumers) {
            const controller = new AbortController();
            const got = await store.get(location, { backend, signal: controller.signal });
            controller.abort();
            // The caller awaits other work (timers, I/O) before it reads.
            await new Promise((resolve) => setTimeout(resolve, 20));
            await turns(3);
            await expectCode(consume(got.stream), 'OperationAborted');
          }
        });
      });

      it('fails with OperationAborted when the signal fires between reads, the reader not waiting', async () => {
        await withoutUncaught(async () => {
          const controller = new AbortController();
          const got = await store.get(location, { backend, signal: controller.signal });
          const reader = got.stream[Symbol.asyncIterator]();
          expect((await reader.next()).done).toBe(false);
          controller.abort();
          await new Promise((resolve) => setTimeout(resolve, 20));
          const rest = (async () => {
            for (;;) if ((await reader.next()).done) return;
          })();
          await expectCode(rest, 'OperationAborted');
        });
      });
    });

    // GetResult.pipeTo: how a service sends an image to a response or a file. Buffers a
    // driver reads into are reused once their write completed: a writable checking each
    // chunk when it calls back sees the image's bytes, or a buffer was reused too early.
    describe('sending a get to a writable (pipeTo)', () => {
      let location: string;
      let image: Uint8Array;
      beforeAll(async () => {
        image = patternBytes(largeSize, 33);
        location = await put(image);
      });

      /** Takes `delayMs` per write; records what it held and chunks changed before their callback. */
      function slowWritable(delayMs: number, failAt?: number, onFirstWrite?: () => void) {
        const seen = { bytes: 0, writes: 0, maxHeld: 0, maxChunk: 0, changed: 0 };
        const writable = new Writable({
          highWaterMark: 1 << 30, // write() always says "more": the bound is pipeTo's.
          write(chunk: Buffer, _encoding, callback) {
            seen.maxHeld = Math.max(seen.maxHeld, writable.writableLength);
            seen.maxChunk = Math.max(seen.maxChunk, chunk.byteLength);
            seen.writes += 1;
            if (seen.writes === 1) onFirstWrite?.();
            const at = seen.bytes;
            seen.bytes += chunk.byteLength;
            setTimeout(() => {
              if (failAt !== undefined && seen.writes >= failAt)
                return callback(new Error('writable failed'));
              if (!chunk.equals(image.subarray(at, at + chunk.byteLength))) seen.changed += 1;
              callback();
            }, delayMs);
          },
        });
        return { writable, seen };
      }

      it('delivers every byte in order to a slow writable, holding it to a few writes at a time', async () => {
        await withoutUncaught(async () => {
          const got = await store.get(location, { backend });
          const { writable, seen } = slowWritable(1);
          expect(await got.pipeTo(writable)).toBe(image.byteLength);
          expect(seen.bytes).toBe(image.byteLength);
          expect(seen.changed).toBe(0);
          expect(writable.writableFinished).toBe(true);
          expect(seen.maxHeld).toBeLessThanOrEqual(4 * seen.maxChunk);
        });
      });

      it('fails with OperationAborted when the signal fires mid-way, letting go of the source', async () => {
        await withoutUncaught(async () => {
          const controller = new AbortController();
          const got = await store.get(location, { backend, signal: controller.signal });
          // Fired while the first chunk is being written: the rest must not follow.
          const { writable, seen } = slowWritable(2, undefined, () => controller.abort());
          await expectCode(got.pipeTo(writable), 'OperationAborted');
          expect(seen.bytes).toBeLessThan(image.byteLength);
          expect(got.stream.destroyed).toBe(true);
          expect(writable.destroyed).toBe(true);
        });
      });

      it("fails with the writable's error, letting go of the source", async () => {
        await withoutUncaught(async () => {
          const got = await store.get(location, { backend });
          const { writable } = slowWritable(1, 2);
          await expect(got.pipeTo(writable)).rejects.toThrow('writable failed');
          expect(got.stream.destroyed).toBe(true);
        });
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
        // glance_store's order: the algorithm is checked before write access, so a read-only
        // backend answers UnknownHashingAlgo too, and nothing is written either way.
        const before = await residue();
        const imageId = id();
        await expectCode(
          store.add(imageId, patternBytes(10, 1), 10, { backend, hashingAlgo: 'nope-256' }),
          'UnknownHashingAlgo',
        );
        expect(await residue()).toEqual(before);
        // Nothing stored under the id: a writable backend takes it again, a read-only one lacks it.
        if (writable()) await store.add(imageId, patternBytes(10, 1), 10, { backend });
        else await expectAbsent(imageId);
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

    describe('orphans (listOrphans and removeOrphan)', () => {
      const HOUR = 3_600_000;
      async function list(olderThan: number): Promise<Orphan[]> {
        const orphans: Orphan[] = [];
        const driver = store.driverOf(backend);
        for await (const orphan of driver.listOrphans!({
          olderThan,
          signal: new AbortController().signal,
        }))
          orphans.push(orphan);
        return orphans;
      }

      it('lists what a dead add left, never a stored image, and removes only that', async () => {
        const driver = store.driverOf(backend);
        if (!driver.listOrphans) {
          expect(driver.removeOrphan, 'removeOrphan without listOrphans').toBeUndefined();
          return;
        }
        expect(driver.removeOrphan, 'listOrphans without removeOrphan').toBeTypeOf('function');
        if (!writable()) return;
        if (!subject.makeOrphan)
          throw new Error('A driver with listOrphans needs a makeOrphan() in its contract subject');
        // Stored images of both shapes (one write, and parts/segments for an unknown size).
        const small = patternBytes(1000, 51);
        const large = patternBytes(largeSize, 52);
        const storedIds = [id(), id()];
        const stored = [
          (await store.add(storedIds[0]!, small, small.byteLength, { backend })).location,
          (await store.add(storedIds[1]!, chunked(large), 0, { backend })).location,
        ];
        const orphanImage = id();
        const orphanId = await subject.makeOrphan(orphanImage);

        const all = await list(0);
        const mine = all.filter((o) => o.id === orphanId);
        expect(
          mine,
          `the orphan ${orphanId} among ${all.map((o) => o.id).join(', ')}`,
        ).toHaveLength(1);
        const orphan = mine[0]!;
        expect(orphan.kind).toMatch(/\S/);
        expect(orphan.where).toMatch(/\S/);
        expect(orphan.since).toBeInstanceOf(Date);
        expect(Math.abs(Date.now() - orphan.since.getTime())).toBeLessThan(HOUR);
        if (orphan.imageId !== undefined) expect(orphan.imageId).toBe(orphanImage);
        if (orphan.bytes !== undefined) expect(orphan.bytes).toBeGreaterThanOrEqual(0);
        for (const o of all) {
          for (const imageId of storedIds) {
            expect(o.imageId, 'a stored image listed as an orphan').not.toBe(imageId);
            expect(o.where.includes(imageId), `a stored image listed: ${o.where}`).toBe(false);
          }
        }
        // Just made: not older than an hour.
        expect((await list(HOUR)).some((o) => o.id === orphanId)).toBe(false);

        const signal = new AbortController().signal;
        await driver.removeOrphan!(orphan, { signal });
        expect((await list(0)).some((o) => o.id === orphanId)).toBe(false);
        // Already gone: still fine.
        await driver.removeOrphan!(orphan, { signal });
        // Stored images untouched, and the orphan's id free for a whole image.
        for (const [location, data] of [
          [stored[0]!, small],
          [stored[1]!, large],
        ] as const) {
          const read = await collect((await store.get(location, { backend })).stream);
          expect(digest('md5', read)).toBe(digest('md5', data));
        }
        const again = patternBytes(largeSize, 53);
        const { location } = await store.add(orphanImage, chunked(again), 0, { backend });
        const read = await collect((await store.get(location, { backend })).stream);
        expect(digest('md5', read)).toBe(digest('md5', again));
      });
    });

    describe('image ids and locations', () => {
      // The driver itself, not only the manager: a driver may be used without
      // this manager (or with an older one), and its namespace is its own to guard.
      it('the driver refuses image ids that would escape its namespace, with Invalid', async () => {
        if (!writable()) return; // read-only: add is refused before any id is looked at
        const driver = store.driverOf(backend);
        const add = driver.add?.bind(driver);
        expect(add, 'a writable backend whose driver has no add').toBeDefined();
        if (!add) return;
        const wrong: string[] = [];
        for (const [what, imageId] of escapingIds()) {
          const adding = Promise.resolve().then(() =>
            add({
              imageId,
              data: chunked(patternBytes(10, 41)),
              size: 10,
              signal: new AbortController().signal,
            }),
          );
          adding.then((added) => strays.push({ driver, uri: added.location.uri })).catch(() => {});
          const problem = await outcome(adding, 'Invalid');
          if (problem) wrong.push(`${what} (${shown(imageId)}): ${problem}`);
        }
        expect(wrong, 'ids the driver did not refuse with Invalid').toEqual([]);
      });

      it('the manager refuses the same ids, storing nothing', async () => {
        const before = await residue();
        const code = writable() ? 'Invalid' : 'StoreAddDisabled';
        const wrong: string[] = [];
        for (const [what, imageId] of escapingIds()) {
          const problem = await outcome(
            store.add(imageId, patternBytes(10, 42), 10, { backend }),
            code,
          );
          if (problem) wrong.push(`${what} (${shown(imageId)}): ${problem}`);
        }
        expect(wrong, `ids the manager did not refuse with ${code}`).toEqual([]);
        expect(await residue()).toEqual(before);
      });

      it('parseLocation refuses junk with BadStoreUri', () => {
        const driver = store.driverOf(backend);
        const [scheme] = store.backend(backend).schemes;
        const wrong: string[] = [];
        for (const uri of junkLocations(scheme!)) {
          try {
            const parsed = driver.parseLocation(uri);
            wrong.push(`${shown(uri)}: accepted as ${shown(parsed.uri)}`);
          } catch (err) {
            if (!(err instanceof StoreError && err.code === 'BadStoreUri'))
              wrong.push(`${shown(uri)}: failed with ${String(err)}`);
          }
        }
        expect(wrong, 'junk locations the driver did not refuse with BadStoreUri').toEqual([]);
      });
    });

    describe('buffer memory an add declares (addBufferBytes)', () => {
      it('is, where declared, a whole, non-negative number of bytes that does not grow with the image', () => {
        const driver = store.driverOf(backend);
        // Undeclared, the manager assumes DEFAULT_ADD_BUFFER_BYTES: nothing of the driver's to
        // check (and no skip: a third-party suite's run counts skips as checks it missed).
        if (!driver.addBufferBytes) return;
        const declared = ADD_BUFFER_PROBE_SIZES.map((size) => ({
          size,
          bytes: driver.addBufferBytes!(size),
        }));
        for (const { size, bytes } of declared)
          expect(
            Number.isSafeInteger(bytes) && bytes >= 0,
            `addBufferBytes(${size}) = ${bytes}`,
          ).toBe(true);
        const bound = subject.addBufferBound ?? declared[0]!.bytes;
        if (subject.addBufferBound === undefined)
          expect(bound, 'what an add of unknown size declares').toBeLessThanOrEqual(
            ADD_BUFFER_CEILING,
          );
        const over = declared.filter(({ bytes }) => bytes > bound);
        expect(over, `declarations over ${bound} bytes`).toEqual([]);
      });
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
