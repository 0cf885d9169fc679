/**
 * Hostile values crossing the manager: driver metadata of any shape, image ids of
 * any content, verify options of any content. Only typed errors come out, and a
 * rejected add leaves nothing in the backend.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BackendException,
  Capability,
  defineDriver,
  Invalid,
  MultiStore,
  StoreError,
  type StoreLocation,
  UnknownHashingAlgo,
} from '../src/index.js';

/** Keeps images in a Map; returns whatever metadata the test hands it. */
function mapDriver(metadata: () => unknown) {
  const objects = new Map<string, Buffer>();
  const definition = defineDriver({
    type: 'map',
    schemes: ['map'],
    capabilities: Capability.RW_ACCESS | Capability.DRIVER_REUSABLE,
    options: [],
    create: () => {
      const parse = (uri: string): StoreLocation => ({ scheme: 'map', uri });
      return {
        parseLocation: parse,
        async add({ imageId, data }) {
          const parts: Uint8Array[] = [];
          for await (const chunk of data) parts.push(chunk);
          const body = Buffer.concat(parts);
          objects.set(`map://${imageId}`, body);
          return {
            location: parse(`map://${imageId}`),
            size: body.byteLength,
            metadata: metadata() as Record<string, unknown>,
          };
        },
        async get(location) {
          const body = objects.get(location.uri)!;
          return { stream: Readable.from([body]), size: body.byteLength };
        },
        async getSize(location) {
          return objects.get(location.uri)!.byteLength;
        },
        async delete(location) {
          objects.delete(location.uri);
        },
      };
    },
  });
  return { definition, objects };
}

const config = { enabledBackends: { m: 'map' }, defaultBackend: 'm', backends: {} };

function allowed(value: unknown): boolean {
  if (typeof value === 'string') return true;
  if (Array.isArray(value)) return value.every(allowed);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.values(value).every(allowed);
  return false;
}

describe('driver metadata of the wrong types', () => {
  it('is rejected by core with BackendException, and the image is taken back', async () => {
    let next: unknown;
    const { definition, objects } = mapDriver(() => next);
    const store = await MultiStore.create(config, { drivers: [definition] });
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.string({ maxLength: 8 }),
          fc.anything({ withNullPrototype: true, withBigInt: true, withDate: true, maxDepth: 3 }),
          { maxKeys: 4 },
        ),
        async (metadata) => {
          next = metadata;
          // The manager copies the top level into a plain object; the values must be valid.
          const ok = Object.values(metadata).every(allowed);
          try {
            const added = await store.add('img', Buffer.from('abc'), 3);
            expect(ok).toBe(true);
            await store.delete(added.location);
          } catch (err) {
            expect(ok, String(err)).toBe(false);
            expect(err).toBeInstanceOf(BackendException);
          }
          expect(objects.size).toBe(0);
        },
      ),
      { numRuns: 1_000 },
    );
    await store.close();
  });
});

describe('image ids', () => {
  it('refuses empty, path-like, control-bearing, ill-formed and huge ids with Invalid before the driver sees them', async () => {
    const { definition, objects } = mapDriver(() => ({}));
    const store = await MultiStore.create(config, { drivers: [definition] });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 40 }),
          fc.string({ minLength: 1025, maxLength: 5000 }),
          fc.tuple(fc.string(), fc.string()).map(([a, b]) => `${a}\0${b}`),
        ),
        async (imageId) => {
          const bad =
            ['', '.', '..'].includes(imageId) ||
            /[/\\\p{Cc}\p{Cs}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u.test(
              imageId,
            ) ||
            Buffer.byteLength(imageId) > 1024;
          try {
            const added = await store.add(imageId, Buffer.from('x'), 1);
            expect(bad).toBe(false);
            await store.delete(added.location);
          } catch (err) {
            expect(bad, String(err)).toBe(true);
            expect(err).toBeInstanceOf(Invalid);
          }
          expect(objects.size).toBe(0);
        },
      ),
      { numRuns: 2_000 },
    );
    expect(
      await store.add('x'.repeat(10_000_000), Buffer.from('x'), 1).catch((e) => e),
    ).toBeInstanceOf(Invalid);
    await store.close();
  });
});

describe('verify options on get', () => {
  it('checks md5 only, the multihash only, or both, and refuses what it cannot check', async () => {
    const { definition } = mapDriver(() => ({}));
    const store = await MultiStore.create(config, { drivers: [definition] });
    const body = Buffer.from('verify me');
    const added = await store.add('v', body, body.byteLength, { hashingAlgo: 'sha3_256' });
    const read = async (verify: object) => {
      const { stream } = await store.get(added.location, { verify });
      return Buffer.concat(await stream.toArray());
    };
    const md5 = createHash('md5').update(body).digest('hex');
    expect(added.checksum).toBe(md5);
    for (const verify of [
      { checksum: md5.toUpperCase() },
      { multihash: added.multihash, hashingAlgo: 'sha3-256' },
      { checksum: md5, multihash: added.multihash, hashingAlgo: 'sha3_256' },
    ]) {
      expect(await read(verify)).toEqual(body);
    }
    for (const verify of [
      { checksum: '0'.repeat(32) },
      { checksum: md5, multihash: 'ab'.repeat(32), hashingAlgo: 'sha3_256' },
      { multihash: added.multihash }, // sha512 assumed: the image was hashed with sha3-256
    ]) {
      const err = await read(verify).catch((e) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect(err.code).toBe('ChecksumMismatch');
      expect(err.message).not.toContain(body.toString());
    }
    expect(await read({}).catch((e) => e)).toBeInstanceOf(Invalid);
    expect(await read({ checksum: 'not hex!' }).catch((e) => e)).toBeInstanceOf(Invalid);
    expect(await read({ checksum: 42 }).catch((e) => e)).toBeInstanceOf(Invalid);
    expect(
      await read({ multihash: 'ab', hashingAlgo: 'whirlpool-9000' }).catch((e) => e),
    ).toBeInstanceOf(UnknownHashingAlgo);
    await store.close();
  });
});
