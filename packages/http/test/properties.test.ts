/**
 * Hostile input for the http location parser (issue 10): 10,000 cases per property,
 * only BadStoreUri on arbitrary text, parse → format → parse stable, and never the
 * password of a refused location in the error.
 */
import { BadStoreUri } from '@store/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type HttpLocation, parseHttpLocation, requestTarget } from '../src/location.js';

const RUNS = 10_000;

function parseOrRefuse(uri: string): HttpLocation | undefined {
  try {
    return parseHttpLocation(uri);
  } catch (err) {
    if (!(err instanceof BadStoreUri)) throw err;
    return undefined;
  }
}

/** Text rich in URL syntax and in what must not reach a request line. */
const piece = fc.string({
  unit: fc.oneof(
    fc.constantFrom('/', '//', ':', '@', '?', '#', '[', ']', '%', '%2F', '%00', '%zz', '..'),
    fc.constantFrom('\0', '\r\n', ' ', '\t', '\\', 'é', '\uD800', '::1', '127.0.0.1', ':65536'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    fc.stringMatching(/^[A-Za-z0-9._~-]$/),
  ),
  maxLength: 30,
});

describe('http location parser, hostile input', () => {
  it(`raises only BadStoreUri, and re-parses what it accepts to the same location (${RUNS})`, () => {
    const uri = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc
        .tuple(fc.constantFrom('http://', 'https://', 'HTTP://', 'ftp://', 'http:/'), piece)
        .map(([a, b]) => a + b),
      fc.tuple(piece, piece, piece).map(([u, h, p]) => `http://${u}@${h}/${p}`),
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
    );
    fc.assert(
      fc.property(uri, (text) => {
        const loc = parseOrRefuse(text);
        if (!loc) return;
        const again = parseHttpLocation(loc.uri);
        expect(again).toEqual(loc);
        // What goes on the request line is printable ASCII only.
        expect(requestTarget(loc)).toMatch(/^\/[\x21-\x7e]*$/);
      }),
      { numRuns: RUNS },
    );
  });

  it(`parse → format → parse is stable for valid URLs (${RUNS})`, () => {
    const host = fc.oneof(
      fc.domain(),
      fc.ipV4(),
      fc.ipV6().map((ip) => `[${ip}]`),
    );
    const userinfo = fc.option(
      fc
        .tuple(
          fc.stringMatching(/^[A-Za-z0-9%._~!$&'()*+,;=-]{0,12}$/),
          fc.stringMatching(/^[A-Za-z0-9%._~!$&'()*+,;=-]{0,12}$/),
        )
        .map(([u, p]) => `${u}:${p}@`),
      { nil: '' },
    );
    const port = fc.option(
      fc.integer({ min: 1, max: 65535 }).map((p) => `:${p}`),
      { nil: '' },
    );
    fc.assert(
      fc.property(
        fc.constantFrom('http', 'https', 'HTTP', 'Https'),
        userinfo,
        host,
        port,
        fc.webPath(),
        fc.option(
          fc.webQueryParameters().map((q) => `?${q}`),
          { nil: '' },
        ),
        (scheme, u, h, p, path, query) => {
          const first = parseHttpLocation(`${scheme}://${u}${h}${p}${path}${query}`);
          const second = parseHttpLocation(first.uri);
          expect(second).toEqual(first);
          expect(first.scheme).toBe(scheme.toLowerCase());
        },
      ),
      { numRuns: RUNS },
    );
  });

  it(`never shows the password of a refused location (${RUNS})`, () => {
    const secret = fc.stringMatching(/^[A-Za-z0-9]{12,30}$/).map((s) => `Zq${s}`);
    fc.assert(
      fc.property(secret, piece, piece, (password, host, tail) => {
        try {
          parseHttpLocation(`http://user:${password}@${host}/${tail}`);
        } catch (err) {
          if (!(err instanceof BadStoreUri)) throw err;
          expect(err.message).not.toContain(password);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
