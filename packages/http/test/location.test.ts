import { BadStoreUri, MAX_LOCATION_LENGTH } from '@store/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type HttpLocation,
  parseHttpLocation,
  requestTarget,
  resolveRedirect,
} from '../src/location.js';

describe('parsing and formatting', () => {
  it('keeps a URL as written, as glance_store does', () => {
    const loc = parseHttpLocation('https://user:p%40ss@example.com:8443/a/b%20c;v=1?x=1&y=%2F');
    expect(loc).toMatchObject({
      scheme: 'https',
      user: 'user',
      password: 'p%40ss',
      netloc: 'example.com:8443',
      hostname: 'example.com',
      port: 8443,
      path: '/a/b%20c;v=1',
      query: 'x=1&y=%2F',
    });
    expect(loc.uri).toBe('https://user:p%40ss@example.com:8443/a/b%20c;v=1?x=1&y=%2F');
    expect(requestTarget(loc)).toBe('/a/b%20c;v=1?x=1&y=%2F');
  });

  it('formats canonically: lower-case scheme, no fragment, no empty query', () => {
    expect(parseHttpLocation('HTTP://Example.com/x?#frag').uri).toBe('http://Example.com/x');
    expect(parseHttpLocation('http://h').uri).toBe('http://h');
    expect(requestTarget(parseHttpLocation('http://h'))).toBe('/');
    expect(parseHttpLocation('http://h:/x').port).toBe(80);
    expect(parseHttpLocation('https://h/x').port).toBe(443);
  });

  it('parses IPv6 hosts and encodes what may not go raw on the request line', () => {
    const loc = parseHttpLocation('http://[::1]:8080/ü dir/x');
    expect(loc.hostname).toBe('::1');
    expect(loc.port).toBe(8080);
    expect(requestTarget(loc)).toBe('/%C3%BC%20dir/x');
    const idn = parseHttpLocation('http://bücher.example/x');
    expect(idn.hostname).toBe('xn--bcher-kva.example');
    expect(idn.uri).toBe('http://bücher.example/x');
  });

  it('refuses malformed locations with BadStoreUri naming the problem', () => {
    const cases: [string, RegExp][] = [
      ['ftp://host/x', /not http/],
      ['http:/host/x', /expected http/],
      ['http://', /no host/],
      ['http:///path', /no host/],
      ['http://user@host/x', /credentials are not well-formed/],
      ['http://a:b:c@host/x', /credentials are not well-formed/],
      ['http://a:b@c@host/x', /more than one '@'/],
      ['http://host:abc/x', /port is not a number/],
      ['http://host:0/x', /outside/],
      ['http://host:65536/x', /outside/],
      ['http://[zz]/x', /not an IPv6/],
      ['http://[::1]x/y', /after the IPv6/],
      ['http://ho st/x', /invalid characters/],
      ['http://host/x\r\nX-Injected: 1', /control characters/],
    ];
    for (const [uri, why] of cases) {
      expect(() => parseHttpLocation(uri), uri).toThrow(BadStoreUri);
      expect(() => parseHttpLocation(uri), uri).toThrow(why);
    }
  });

  it('never shows the password of a refused location', () => {
    expect(() => parseHttpLocation('http://u:topsecret@host:99999/x')).toThrow(
      /http:\/\/\*\*\*:\*\*\*@host:99999/,
    );
  });
});

describe('redirect targets', () => {
  const from = parseHttpLocation('http://u:pw@a.example:8080/dir/file?q=1');

  it('resolves relative Location headers and keeps credentials on the same origin', () => {
    expect(resolveRedirect(from, 'other').uri).toBe('http://u:pw@a.example:8080/dir/other');
    expect(resolveRedirect(from, '/root?z').uri).toBe('http://u:pw@a.example:8080/root?z');
    expect(resolveRedirect(from, 'http://A.EXAMPLE:8080/x').user).toBe('u');
  });

  it('drops credentials for another origin, unless the target has its own', () => {
    expect(resolveRedirect(from, 'http://b.example:8080/x').user).toBeUndefined();
    expect(resolveRedirect(from, 'https://a.example:8080/x').user).toBeUndefined();
    expect(resolveRedirect(from, 'http://a.example/x').user).toBeUndefined();
    expect(resolveRedirect(from, 'http://v:w@b.example/x').user).toBe('v');
  });

  it('refuses targets that are not http(s)', () => {
    expect(() => resolveRedirect(from, 'file:///etc/passwd')).toThrow(BadStoreUri);
    expect(() => resolveRedirect(from, 'http://[bad')).toThrow(BadStoreUri);
  });
});

/** The fields a location is made of (everything but `uri`). */
function fields(loc: HttpLocation) {
  const { uri: _uri, ...rest } = loc;
  return rest;
}

const hostArb = fc.oneof(
  fc.domain(),
  fc.ipV4(),
  fc.ipV6().map((ip) => `[${ip}]`),
  fc.stringMatching(/^[A-Za-z0-9._~-]{1,20}$/),
);
const userinfoArb = fc.option(
  fc
    .tuple(
      fc.stringMatching(/^[A-Za-z0-9%._~!$&'()*+,;=-]{0,12}$/),
      fc.stringMatching(/^[A-Za-z0-9%._~!$&'()*+,;=-]{0,12}$/),
    )
    .map(([u, p]) => `${u}:${p}@`),
  { nil: '' },
);
const portArb = fc.option(
  fc.integer({ min: 1, max: 65535 }).map((p) => `:${p}`),
  { nil: '' },
);
const pathArb = fc.webPath();
const queryArb = fc.option(
  fc.webQueryParameters().map((q) => `?${q}`),
  { nil: '' },
);
const fragmentArb = fc.option(
  fc.webFragments().map((f) => `#${f}`),
  { nil: '' },
);

describe('properties', () => {
  it('parse → format → parse is stable for valid URLs', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('http', 'https', 'HTTP', 'Https'),
        userinfoArb,
        hostArb,
        portArb,
        pathArb,
        queryArb,
        fragmentArb,
        (scheme, userinfo, host, port, path, query, fragment) => {
          const uri = `${scheme}://${userinfo}${host}${port}${path}${query}${fragment}`;
          const first = parseHttpLocation(uri);
          const second = parseHttpLocation(first.uri);
          expect(second.uri).toBe(first.uri);
          expect(fields(second)).toEqual(fields(first));
          expect(first.uri.startsWith(scheme.toLowerCase())).toBe(true);
          expect(requestTarget(first)).toMatch(/^\/[\x21-\x7e]*$/);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('raises only BadStoreUri, and is stable whenever it accepts, for arbitrary strings', () => {
    const arbitrary = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.string({ maxLength: 80 }).map((s) => `http://${s}`),
      fc
        .tuple(fc.constantFrom('http://', 'https://', 'HTTP://'), fc.string({ maxLength: 60 }))
        .map(([a, b]) => a + b),
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
    );
    fc.assert(
      fc.property(arbitrary, (uri) => {
        let loc: HttpLocation;
        try {
          loc = parseHttpLocation(uri);
        } catch (err) {
          expect(err).toBeInstanceOf(BadStoreUri);
          return;
        }
        const again = parseHttpLocation(loc.uri);
        expect(again.uri).toBe(loc.uri);
        expect(fields(again)).toEqual(fields(loc));
        requestTarget(loc);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('length', () => {
  // A hostile server's long redirect Location headers cost about 2 s of CPU per get
  // when masking was quadratic; now they are refused before any parser runs.
  it('refuses a location or redirect target over MAX_LOCATION_LENGTH before parsing it', () => {
    const from = parseHttpLocation('http://user:pw@127.0.0.1:8080/image');
    const long = `http://127.0.0.1:8080/${'a.'.repeat(80_000)}://x`;
    // The length check's own error: no parser (nor the masking) saw the text.
    expect(() => resolveRedirect(from, long)).toThrow(BadStoreUri);
    expect(() => resolveRedirect(from, long)).toThrow(`over the limit of ${MAX_LOCATION_LENGTH}`);
    expect(() => parseHttpLocation(long)).toThrow(`over the limit of ${MAX_LOCATION_LENGTH}`);
  });
});
