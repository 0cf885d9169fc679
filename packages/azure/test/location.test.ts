import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { azureLocation, blobNameProblem, parseAzureLocation } from '../src/index.js';

const account = fc.stringMatching(/^[a-z0-9]{3,24}$/);
const container = fc
  .stringMatching(/^[a-z0-9]{1,10}(?:-[a-z0-9]{1,10}){0,3}$/)
  .filter((c) => c.length >= 3);
/** Any blob name the driver accepts: arbitrary Unicode segments joined by "/". */
const blob = fc
  .array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), {
    minLength: 1,
    maxLength: 4,
  })
  .map((segments) => segments.join('/'))
  .filter((name) => blobNameProblem(name) === undefined);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'no error';
}

describe('azure locations', () => {
  it('formats azure://<account>/<container>/<blob> and parses it back', () => {
    const location = azureLocation(
      'devstoreaccount1',
      'glance',
      '0b6ec9b5-3cd1-4c3b-9f4c-1c1b7e0b8f11',
    );
    expect(location.uri).toBe(
      'azure://devstoreaccount1/glance/0b6ec9b5-3cd1-4c3b-9f4c-1c1b7e0b8f11',
    );
    expect(parseAzureLocation(location.uri)).toEqual(location);
  });

  it('percent-encodes blob name segments, keeps "/" and canonicalises on parse', () => {
    const location = azureLocation('acct123', 'images', 'dir/a b?c#d%é');
    expect(location.uri).toBe('azure://acct123/images/dir/a%20b%3Fc%23d%25%C3%A9');
    expect(parseAzureLocation(location.uri).blob).toBe('dir/a b?c#d%é');
    // Scheme and account are case-insensitive; the canonical form is lower case and re-encoded.
    expect(parseAzureLocation('AZURE://ACCT123/images/%7e%41').uri).toBe(
      'azure://acct123/images/~A',
    );
  });

  it('round-trips any valid location (property)', () => {
    fc.assert(
      fc.property(account, container, blob, (a, c, b) => {
        const formatted = azureLocation(a, c, b);
        const parsed = parseAzureLocation(formatted.uri);
        expect(parsed).toEqual(formatted);
        expect(parseAzureLocation(parsed.uri).uri).toBe(parsed.uri);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws anything but BadStoreUri, and parses to a fixed point (property)', () => {
    const uri = fc.oneof(
      fc.string(),
      fc.string().map((s) => `azure://${s}`),
      fc.tuple(account, container, fc.string()).map(([a, c, s]) => `azure://${a}/${c}/${s}`),
    );
    fc.assert(
      fc.property(uri, (text) => {
        let parsed: ReturnType<typeof parseAzureLocation>;
        try {
          parsed = parseAzureLocation(text);
        } catch (err) {
          expect((err as { code: string }).code).toBe('BadStoreUri');
          return;
        }
        expect(parseAzureLocation(parsed.uri)).toEqual(parsed);
      }),
      { numRuns: 1000 },
    );
  });

  it.each([
    ['another scheme', 's3://acct123/images/x'],
    ['no container', 'azure://acct123'],
    ['no blob', 'azure://acct123/images'],
    ['an empty blob', 'azure://acct123/images/'],
    ['a short account', 'azure://ab/images/x'],
    ['an account with a dot', 'azure://acct.example/images/x'],
    ['a port', 'azure://acct123:443/images/x'],
    ['an upper-case container', 'azure://acct123/Images/x'],
    ['a container with a double hyphen', 'azure://acct123/im--ages/x'],
    ['a ".." segment', 'azure://acct123/images/a/../b'],
    ['an encoded ".." segment', 'azure://acct123/images/a/%2E%2E/b'],
    ['an empty segment', 'azure://acct123/images/a//b'],
    ['a trailing slash', 'azure://acct123/images/a/'],
    ['a trailing dot', 'azure://acct123/images/a.'],
    ['a backslash', 'azure://acct123/images/a%5Cb'],
    ['a control character', 'azure://acct123/images/a%00b'],
    ['bad percent-encoding', 'azure://acct123/images/a%zz'],
    ['a lone surrogate', 'azure://acct123/images/a%ED%A0%80'],
    ['a fragment', 'azure://acct123/images/x#frag'],
    ['a blob name over 1024 characters', `azure://acct123/images/${'x'.repeat(1025)}`],
  ])('refuses a URI with %s (BadStoreUri)', (_why, uri) => {
    expect(codeOf(() => parseAzureLocation(uri))).toBe('BadStoreUri');
  });

  it('refuses credentials and queries without echoing them', () => {
    for (const uri of [
      'azure://user:s3cretvalue@acct123/images/x',
      'azure://acct123/images/x?sv=2024&sig=s3cretvalue',
    ]) {
      let message = '';
      try {
        parseAzureLocation(uri);
      } catch (err) {
        expect((err as { code: string }).code).toBe('BadStoreUri');
        message = (err as Error).message;
      }
      expect(message).toMatch(/credentials|query/);
      expect(message).not.toContain('s3cretvalue');
    }
  });
});
