/**
 * Hostile input for the rbd location parser (issue 10): 10,000 cases per property,
 * only BadStoreUri on arbitrary text, parse → format → parse stable.
 */
import { BadStoreUri } from '@store/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRbdLocation, type RbdLocation, rbdLocation } from '../src/index.js';

const RUNS = 10_000;

/** Parses, or returns undefined when the parser refused with BadStoreUri; anything else fails. */
function parseOrRefuse(uri: string): RbdLocation | undefined {
  try {
    return parseRbdLocation(uri);
  } catch (err) {
    if (!(err instanceof BadStoreUri)) throw err;
    return undefined;
  }
}

/** Text with the characters that matter to the parser: separators, %-escapes, NUL, surrogates. */
const piece = fc.string({
  unit: fc.oneof(
    fc.constantFrom('/', '%', '%2F', '%00', '%ED%A0%80', '%zz', '\0', '\uD800', '\uDC00', 'é', '.'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    fc.stringMatching(/^[A-Za-z0-9_.~-]$/),
  ),
  maxLength: 30,
});

describe('rbd location parser, hostile input', () => {
  it(`raises only BadStoreUri, and re-parses what it accepts to the same location (${RUNS})`, () => {
    const uri = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 60 }),
      piece.map((s) => `rbd://${s}`),
      fc
        .tuple(fc.constantFrom('rbd://', 'RBD://', 'Rbd://'), piece, piece, piece, piece)
        .map(([scheme, a, b, c, d]) => `${scheme}${a}/${b}/${c}/${d}`),
    );
    fc.assert(
      fc.property(uri, (text) => {
        const parsed = parseOrRefuse(text);
        if (!parsed) return;
        expect(parseRbdLocation(parsed.uri)).toEqual(parsed);
        expect(parsed.image.length).toBeGreaterThan(0);
      }),
      { numRuns: RUNS },
    );
  });

  it(`format → parse gives every part back, and the URI is a fixed point (${RUNS})`, () => {
    const part = fc
      .string({ unit: 'grapheme-composite', minLength: 1, maxLength: 16 })
      .filter((s) => !s.includes('\0'));
    fc.assert(
      fc.property(part, part, part, part, (fsid, pool, image, snapshot) => {
        const written = rbdLocation({ fsid, pool, image, snapshot });
        const read = parseRbdLocation(written.uri);
        expect(read).toEqual(written);
        expect(rbdLocation(read).uri).toBe(written.uri);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses parts that are not well-formed Unicode with BadStoreUri (found by the property above)', () => {
    expect(() => parseRbdLocation('rbd://fsid/images/a\uD800b/snap')).toThrow(BadStoreUri);
    expect(() => parseRbdLocation('rbd://fsid/images/x/\uDC00')).toThrow(BadStoreUri);
  });
});
