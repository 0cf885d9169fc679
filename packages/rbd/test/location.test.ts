/** Location URIs, as glance_store writes and parses them (no cluster needed). */
import { BadStoreUri } from '@store/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRbdLocation, quote, rbdLocation, unquote } from '../src/index.js';

const FSID = '378159b7-b343-4945-a8de-fc84942b1c9d';

describe('rbd locations', () => {
  it('parses the four-part form and formats it back unchanged', () => {
    const uri = `rbd://${FSID}/images/0b5c1b2e-7c4f-4b7e-9d55-1c1f0c6f7d1e/snap`;
    const location = parseRbdLocation(uri);
    expect(location).toMatchObject({
      scheme: 'rbd',
      uri,
      fsid: FSID,
      pool: 'images',
      image: '0b5c1b2e-7c4f-4b7e-9d55-1c1f0c6f7d1e',
      snapshot: 'snap',
    });
  });

  it('quotes every part as urllib.parse.quote(part, safe="") does', () => {
    const location = rbdLocation({
      fsid: FSID,
      pool: 'my pool',
      image: 'a/b@c~d!*',
      snapshot: 'snap',
    });
    expect(location.uri).toBe(`rbd://${FSID}/my%20pool/a%2Fb%40c~d%21%2A/snap`);
    expect(parseRbdLocation(location.uri)).toMatchObject({ pool: 'my pool', image: 'a/b@c~d!*' });
    expect(quote('é')).toBe('%C3%A9');
    expect(unquote('%C3%A9%zz%4')).toBe('é%zz%4');
  });

  it('reads the legacy one-part form without unquoting it', () => {
    const location = parseRbdLocation('rbd://some%20image');
    expect(location).toMatchObject({ image: 'some%20image', uri: 'rbd://some%20image' });
    expect(location.fsid).toBeUndefined();
    expect(location.snapshot).toBeUndefined();
  });

  it('refuses other part counts, empty parts and other schemes with BadStoreUri', () => {
    for (const bad of [
      'rbd://',
      'rbd://a/b',
      'rbd://a/b/c',
      'rbd://a/b/c/d/e',
      `rbd://${FSID}//image/snap`,
      `rbd://${FSID}/images/image/`,
      's3://bucket/key',
      'rbd:/image',
      `rbd://${FSID}/images/a%00b/snap`,
    ]) {
      expect(() => parseRbdLocation(bad), bad).toThrow(BadStoreUri);
    }
  });

  it('round-trips any parts through format and parse', () => {
    const part = fc
      .string({ minLength: 1, maxLength: 12, unit: 'grapheme' })
      .filter((s) => !s.includes('\0'));
    fc.assert(
      fc.property(part, part, part, part, (fsid, pool, image, snapshot) => {
        const written = rbdLocation({ fsid, pool, image, snapshot });
        const read = parseRbdLocation(written.uri);
        expect(read).toMatchObject({ fsid, pool, image, snapshot, uri: written.uri });
      }),
    );
  });

  it('never throws anything but BadStoreUri on hostile input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (tail) => {
        try {
          parseRbdLocation(`rbd://${tail}`);
        } catch (err) {
          expect(err).toBeInstanceOf(BadStoreUri);
        }
      }),
    );
  });
});
