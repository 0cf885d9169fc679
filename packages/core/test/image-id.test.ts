/**
 * Core's one rule for image ids (issue 15 item 10): what it accepts is safe in
 * every driver's namespace and round-trips through UTF-8; what it refuses fails
 * with Invalid, quoting the id with no raw control character.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkImageId,
  Invalid,
  imageIdProblem,
  MAX_IMAGE_ID_BYTES,
  type MemoryDriver,
  MultiStore,
  memoryDriver,
  parseMemoryLocation,
  quoteImageId,
} from '../src/index.js';

const RUNS = { numRuns: 10_000 };

/** Characters no accepted id may hold, and no message may quote raw. */
const FORBIDDEN = /[\p{Cc}\p{Cs}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** Ids that must be refused, with a word of the reason the message must give. */
const REFUSED: [string, string][] = [
  ['', 'empty'],
  ['.', 'relative'],
  ['..', 'relative'],
  ['../x', 'path separator'],
  ['../../etc/passwd', 'path separator'],
  ['a/b', 'path separator'],
  ['/abs', 'path separator'],
  ['a\\b', 'path separator'],
  ['..\\x', 'path separator'],
  ['x\0y', 'control character, U+0000'],
  ['x\ny', 'control character, U+000A'],
  ['x\ry', 'control character, U+000D'],
  ['x\ty', 'control character, U+0009'],
  ['x\u001b[31my', 'control character, U+001B'],
  ['x\u007fy', 'control character, U+007F'],
  ['x\u0085y', 'control character, U+0085'],
  ['x\u009by', 'control character, U+009B'],
  ['x\u202ey', 'bidi control character, U+202E'],
  ['x\u2066y', 'bidi control character, U+2066'],
  ['x\u200fy', 'bidi control character, U+200F'],
  ['x\u2028y', 'line separator'],
  ['x\ud800y', 'lone surrogate, U+D800'],
  ['x\udc00', 'lone surrogate, U+DC00'],
  ['\udbff', 'lone surrogate, U+DBFF'],
  ['a'.repeat(MAX_IMAGE_ID_BYTES + 1), `longer than ${MAX_IMAGE_ID_BYTES} bytes`],
  ['é'.repeat(MAX_IMAGE_ID_BYTES / 2 + 1), `longer than ${MAX_IMAGE_ID_BYTES} bytes`],
];

/** Ids that stay usable: Glance's UUIDs and any other safe text. */
const ACCEPTED = [
  'b6c4f1a0-3e4f-4a51-9d0e-5c9b3f1e2a7d',
  'contract-image',
  'image.qcow2',
  '...',
  '.hidden',
  'a b',
  'café',
  'イメージ',
  'emoji 😀 and 👩‍💻 (ZWJ)',
  'x\ufffdy',
  '100%25',
  'a'.repeat(MAX_IMAGE_ID_BYTES),
];

/** `imageId` for a test title: its first 20 characters, anything unprintable as `\uXXXX`. */
function shown(imageId: string): string {
  const head = imageId
    .slice(0, 20)
    .replace(/[^\x20-\x7e]/gu, (ch) =>
      /[\p{L}\p{N}]/u.test(ch) ? ch : `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  return `'${head}${imageId.length > 20 ? '…' : ''}'`;
}

/** A string drawn from every kind of character, dangerous ones over-represented. */
const hostileId = fc.string({
  unit: fc.oneof(
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
    fc.integer({ min: 0, max: 0x9f }).map((c) => String.fromCharCode(c)),
    fc.constantFrom('/', '\\', '.', '..', '\u202e', '\u2066', '\u200f', '\u2028', '\u061c'),
  ),
  maxLength: 40,
});

describe('imageIdProblem / checkImageId', () => {
  for (const [imageId, reason] of REFUSED) {
    it(`refuses ${shown(imageId)} (${reason})`, () => {
      expect(imageIdProblem(imageId)).toContain(reason);
      expect(() => checkImageId(imageId)).toThrow(Invalid);
    });
  }

  for (const imageId of ACCEPTED) {
    it(`accepts ${shown(imageId)}`, () => {
      expect(imageIdProblem(imageId)).toBeUndefined();
      expect(() => checkImageId(imageId)).not.toThrow();
    });
  }

  it('refuses what is not a string with Invalid', () => {
    for (const value of [undefined, null, 42, {}, ['a']]) {
      expect(imageIdProblem(value)).toMatch(/must be a string/);
      expect(() => checkImageId(value)).toThrow(Invalid);
    }
  });

  it('names the id with its control characters escaped', () => {
    const err = (() => {
      try {
        checkImageId('evil\u001b[2J\u202eexe.txt');
      } catch (caught) {
        return caught as Invalid;
      }
      throw new Error('accepted');
    })();
    expect(err.code).toBe('Invalid');
    expect(err.message).toContain("'evil\\u001b[2J\\u202eexe.txt'");
    expect(err.message).toContain('U+001B');
    expect(err.message).not.toMatch(FORBIDDEN);
  });

  it('accepts only ids that are well-formed, contained and short enough', () => {
    fc.assert(
      fc.property(hostileId, (imageId) => {
        if (imageIdProblem(imageId) !== undefined) return;
        // UTF-8 round trip: no two accepted ids share their bytes (no U+FFFD aliasing).
        expect(Buffer.from(imageId, 'utf8').toString('utf8')).toBe(imageId);
        expect(imageId).not.toMatch(FORBIDDEN);
        expect(imageId).not.toMatch(/[/\\]/);
        expect(['', '.', '..']).not.toContain(imageId);
        expect(Buffer.byteLength(imageId)).toBeLessThanOrEqual(MAX_IMAGE_ID_BYTES);
      }),
      RUNS,
    );
  });

  it('refuses with Invalid alone, and never quotes a forbidden character raw', () => {
    fc.assert(
      fc.property(hostileId, (imageId) => {
        try {
          checkImageId(imageId);
        } catch (err) {
          expect(err).toBeInstanceOf(Invalid);
          expect((err as Error).message).not.toMatch(FORBIDDEN);
        }
        expect(quoteImageId(imageId)).not.toMatch(FORBIDDEN);
      }),
      RUNS,
    );
  });

  it('refuses every id holding a lone surrogate, and nothing else changes in UTF-8', () => {
    fc.assert(
      fc.property(hostileId, (imageId) => {
        const survivesUtf8 = Buffer.from(imageId, 'utf8').toString('utf8') === imageId;
        if (!survivesUtf8) expect(imageIdProblem(imageId)).toBeDefined();
      }),
      RUNS,
    );
  });
});

describe('the manager applies the rule before any driver sees the id', () => {
  let store: MultiStore;
  let held: () => string[];
  beforeAll(async () => {
    store = await MultiStore.create(
      { enabledBackends: { m: 'memory' }, defaultBackend: 'm', backends: {} },
      { drivers: [memoryDriver] },
    );
    const driver = store.driverOf('m') as MemoryDriver;
    held = () => driver.imageIds();
  });
  afterAll(() => store.close());

  for (const [imageId, reason] of REFUSED) {
    it(`add refuses ${shown(imageId)} (${reason}), storing nothing`, async () => {
      await expect(store.add(imageId, new Uint8Array(3), 3)).rejects.toMatchObject({
        code: 'Invalid',
      });
      expect(held()).toEqual([]);
    });
  }

  it('keeps x\\uD800y and x\\uFFFDy apart: the first is refused, the second stored', async () => {
    await expect(store.add('x\ud800y', new Uint8Array(1), 1)).rejects.toBeInstanceOf(Invalid);
    const { location } = await store.add('x\ufffdy', new Uint8Array(1), 1);
    expect(parseMemoryLocation(location).imageId).toBe('x\ufffdy');
    expect(held()).toEqual(['x\ufffdy']);
    await store.delete(location);
  });
});
