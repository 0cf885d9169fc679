/**
 * Hostile input for the azure location parser (issue 10): 10,000 cases per property,
 * only BadStoreUri on arbitrary text, parse → format → parse stable, and never a
 * credential in a refusal.
 */
import { BadStoreUri } from '@store/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AzureLocation,
  azureLocation,
  blobNameProblem,
  parseAzureLocation,
} from '../src/index.js';

const RUNS = 10_000;

function parseOrRefuse(uri: string): AzureLocation | undefined {
  try {
    return parseAzureLocation(uri);
  } catch (err) {
    if (!(err instanceof BadStoreUri)) throw err;
    return undefined;
  }
}

const account = fc.stringMatching(/^[a-z0-9]{3,24}$/);
const container = fc
  .stringMatching(/^[a-z0-9]{1,10}(?:-[a-z0-9]{1,10}){0,3}$/)
  .filter((c) => c.length >= 3);
/** Text rich in what matters to the parser: separators, escapes, dots, controls, surrogates. */
const piece = fc.string({
  unit: fc.oneof(
    fc.constantFrom('/', '//', '.', '..', '%', '%2E', '%2F', '%5C', '%00', '%ED%A0%80', '\\'),
    fc.constantFrom('?', '#', '@', ':', '\0', '\uD800', 'é', ' ', '%zz', '%7e'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    fc.stringMatching(/^[A-Za-z0-9_~-]$/),
  ),
  maxLength: 30,
});

describe('azure location parser, hostile input', () => {
  it(`raises only BadStoreUri, and re-parses what it accepts to the same location (${RUNS})`, () => {
    const uri = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 60 }),
      piece.map((s) => `azure://${s}`),
      fc
        .tuple(fc.constantFrom('azure://', 'AZURE://', 'Azure://'), account, container, piece)
        .map(([scheme, a, c, b]) => `${scheme}${a}/${c}/${b}`),
      fc.tuple(piece, piece, piece).map(([a, c, b]) => `azure://${a}/${c}/${b}`),
    );
    fc.assert(
      fc.property(uri, (text) => {
        const parsed = parseOrRefuse(text);
        if (!parsed) return;
        expect(parseAzureLocation(parsed.uri)).toEqual(parsed);
        expect(azureLocation(parsed.account, parsed.container, parsed.blob)).toEqual(parsed);
      }),
      { numRuns: RUNS },
    );
  });

  it(`format → parse gives every valid location back (${RUNS})`, () => {
    const blob = fc
      .array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), {
        minLength: 1,
        maxLength: 4,
      })
      .map((segments) => segments.join('/'))
      .filter((name) => blobNameProblem(name) === undefined);
    fc.assert(
      fc.property(account, container, blob, (a, c, b) => {
        const formatted = azureLocation(a, c, b);
        expect(parseAzureLocation(formatted.uri)).toEqual(formatted);
      }),
      { numRuns: RUNS },
    );
  });

  it(`never shows credentials of a refused location (${RUNS})`, () => {
    const secret = fc.stringMatching(/^[A-Za-z0-9]{12,30}$/).map((s) => `Zq${s}`);
    fc.assert(
      fc.property(secret, piece, (key, tail) => {
        for (const uri of [
          `azure://user:${key}@acct123/images/${tail}`,
          `azure://acct123/images/${tail}?sig=${key}`,
        ]) {
          try {
            parseAzureLocation(uri);
          } catch (err) {
            if (!(err instanceof BadStoreUri)) throw err;
            expect(err.message).not.toContain(key);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});
