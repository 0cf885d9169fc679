/**
 * Hostile input for the swift location parser: only BadStoreUri on arbitrary
 * text, parse → re-parse stable, credentials of any characters round-trip, and
 * never a key in a refusal.
 */
import { BadStoreUri } from '@store/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { credentialsLocation, parseSwiftLocation, type SwiftLocation } from '../src/index.js';

const RUNS = 10_000;

function parseOrRefuse(uri: string): SwiftLocation | undefined {
  try {
    return parseSwiftLocation(uri);
  } catch (err) {
    if (!(err instanceof BadStoreUri)) throw err;
    return undefined;
  }
}

const piece = fc.string({
  unit: fc.oneof(
    fc.constantFrom('/', '//', '.', '%', '%2F', '%3A', '%40', '%zz', '%ED%A0%80', '\\'),
    fc.constantFrom('?', '#', '@', ':', '://', '\0', '\uD800', 'é', ' '),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    fc.stringMatching(/^[A-Za-z0-9_~-]$/),
  ),
  maxLength: 30,
});
const scheme = fc.constantFrom(
  'swift://',
  'swift+http://',
  'swift+https://',
  'swift+config://',
  'SWIFT+HTTP://',
);
const name = fc.stringMatching(/^[A-Za-z0-9_.~-]{1,20}$/);

describe('swift location parser, hostile input', () => {
  it(`raises only BadStoreUri, and re-parses what it accepts to the same location (${RUNS})`, () => {
    const uri = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.tuple(scheme, piece).map(([s, rest]) => `${s}${rest}`),
      fc.tuple(scheme, piece, piece, piece).map(([s, a, c, o]) => `${s}${a}/${c}/${o}`),
    );
    fc.assert(
      fc.property(uri, (text) => {
        const parsed = parseOrRefuse(text);
        if (parsed) expect(parseSwiftLocation(parsed.uri)).toEqual(parsed);
      }),
      { numRuns: RUNS },
    );
  });

  it(`round-trips users and keys of any characters through the URIs add writes (${RUNS})`, () => {
    const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(
        fc.constantFrom('http://', 'https://'),
        name,
        text,
        text.filter((k) => !k.includes(':')),
        name,
        name,
        (proto, host, user, key, container, object) => {
          const written = credentialsLocation(
            `${proto}${host}/auth/1.0`,
            user,
            key,
            container,
            object,
          );
          expect(parseSwiftLocation(written.uri)).toEqual(written);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it(`never shows the key when refusing a URI (${RUNS})`, () => {
    const secret = 'S3cr3tK3yValue';
    fc.assert(
      fc.property(scheme, piece, piece, (s, before, after) => {
        const uri = `${s}user:${secret}@${before}${after}`;
        try {
          parseSwiftLocation(uri);
        } catch (err) {
          expect((err as Error).message).not.toContain(secret);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
