/**
 * Hostile input for the S3 location parser (issue 10): 10,000 cases per property,
 * only BadStoreUri on arbitrary text, parse → format → parse stable, and no
 * secret in any refusal.
 */
import { BadStoreUri } from '@store/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseS3Location, type S3Location, s3Location } from '../src/index.js';

const RUNS = 10_000;

function parseOrRefuse(uri: string): S3Location | undefined {
  try {
    return parseS3Location(uri);
  } catch (err) {
    if (!(err instanceof BadStoreUri)) throw err;
    return undefined;
  }
}

/** Text rich in what the parser splits on. */
const piece = fc.string({
  unit: fc.oneof(
    fc.constantFrom('/', '//', ':', '@', '?', '#', '://', '+', '%', '\0', '\n', 'é', '\uD800'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    fc.stringMatching(/^[A-Za-z0-9._-]$/),
  ),
  maxLength: 24,
});

describe('S3 location parser, hostile input', () => {
  it(`raises only BadStoreUri, and re-parses what it accepts to the same location (${RUNS})`, () => {
    const uri = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc
        .tuple(fc.constantFrom('s3://', 's3+https://', 's3+http://', 'S3://', 'swift://'), piece)
        .map(([a, b]) => a + b),
      fc
        .tuple(fc.constantFrom('s3://', 's3+https://'), piece, piece, piece, piece, piece)
        .map(
          ([scheme, ak, sk, host, bucket, key]) => `${scheme}${ak}:${sk}@${host}/${bucket}/${key}`,
        ),
    );
    fc.assert(
      fc.property(uri, (text) => {
        const parsed = parseOrRefuse(text);
        if (!parsed) return;
        expect(parseS3Location(parsed.uri)).toEqual(parsed);
        expect(parsed.bucket).not.toBe('');
        expect(parsed.key).not.toBe('');
      }),
      { numRuns: RUNS },
    );
  });

  it(`format → parse gives every part back for what glance_store can carry (${RUNS})`, () => {
    const secret = fc
      .stringMatching(/^[A-Za-z0-9+/]{1,40}$/)
      .filter((s) => !s.includes('//') && !s.startsWith('/') && !s.endsWith('/'));
    const access = fc.stringMatching(/^[A-Z0-9]{1,20}$/);
    const host = fc
      .tuple(fc.oneof(fc.domain(), fc.ipV4()), fc.option(fc.integer({ min: 1, max: 65535 })))
      .map(([h, p]) => (p === null ? h : `${h}:${p}`));
    const bucket = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{1,30}[a-z0-9]$/);
    const key = fc.oneof(fc.uuid(), fc.stringMatching(/^[A-Za-z0-9._-]{1,40}$/));
    fc.assert(
      fc.property(
        fc.constantFrom('s3' as const, 's3+https' as const),
        fc.option(fc.tuple(access, secret)),
        host,
        bucket,
        key,
        (scheme, creds, h, b, k) => {
          const built = s3Location({
            scheme,
            accessKey: creds?.[0],
            secretKey: creds?.[1],
            host: h,
            bucket: b,
            key: k,
          });
          const parsed = parseS3Location(built.uri);
          expect(parsed).toEqual(built);
          expect(parseS3Location(parsed.uri).uri).toBe(built.uri);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('refuses what would not parse back the same (found by the properties above)', () => {
    for (const uri of [
      's3://ak:sk@host/a//b/bucket/key', // empty segment in the host's path
      's3:///-//:@ / /x', // '/' in the access key
      's3://a/b:sk@host/bucket/key',
    ])
      expect(() => parseS3Location(uri), uri).toThrow(BadStoreUri);
    expect(() => parseS3Location('s3://AKID:Zq0secretvalue@')).toThrow(BadStoreUri);
    try {
      parseS3Location('s3://AKID:Zq0secretvalue@');
    } catch (err) {
      expect((err as Error).message).not.toContain('Zq0secretvalue');
    }
  });

  it(`never shows the secret of a refused location (${RUNS})`, () => {
    const secret = fc.stringMatching(/^[A-Za-z0-9+]{12,30}$/).map((s) => `Zq${s}`);
    fc.assert(
      fc.property(secret, piece, (sk, tail) => {
        try {
          parseS3Location(`s3://AKIDEXAMPLE:${sk}@${tail}`);
        } catch (err) {
          if (!(err instanceof BadStoreUri)) throw err;
          expect(err.message).not.toContain(sk);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
