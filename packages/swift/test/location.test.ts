/**
 * Swift locations against glance_store's own StoreLocation (run through Debian's
 * python3-glance-store when installed): the same parts from the same URIs, and
 * the same URIs written for the same account.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BadStoreUri } from '@store/core';
import { describe, expect, it } from 'vitest';
import {
  containerFor,
  credentialsLocation,
  locationUrl,
  parseSwiftLocation,
  referenceLocation,
} from '../src/index.js';

const GLANCE_SWIFT = '/usr/lib/python3/dist-packages/glance_store/_drivers/swift/store.py';
const hasGlance = existsSync(GLANCE_SWIFT);

interface GlanceParts {
  scheme: string;
  user: string | null;
  key: string | null;
  auth: string;
  container: string;
  obj: string;
  url: string;
  uri: string;
}

/** glance_store's parse of each URI (or its exception's class name). */
function glanceParse(uris: string[]): (GlanceParts | { error: string })[] {
  const script = `
import json, sys
from glance_store._drivers.swift.store import StoreLocation
out = []
for uri in json.loads(sys.stdin.read()):
    loc = StoreLocation({}, None)
    try:
        loc.parse_uri(uri)
        out.append({'scheme': loc.scheme, 'user': loc.user, 'key': loc.key,
                    'auth': loc.auth_or_store_url, 'container': loc.container,
                    'obj': loc.obj, 'url': loc.swift_url, 'uri': loc.get_uri()})
    except Exception as e:
        out.append({'error': type(e).__name__})
print(json.dumps(out))
`;
  return JSON.parse(
    execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(uris) }).toString(),
  );
}

/** glance_store's container names for image ids and seeds, from its own get_container_name. */
function glanceContainers(cases: [string, number][]): string[] {
  const script = `
import json, sys
from types import SimpleNamespace as NS
from glance_store._drivers.swift.store import SingleTenantStore
out = []
for image_id, seed in json.loads(sys.stdin.read()):
    me = NS(backend_group=None, conf=NS(glance_store=NS(swift_store_multiple_containers_seed=seed)))
    out.append(SingleTenantStore.get_container_name(me, image_id, 'glance'))
print(json.dumps(out))
`;
  return JSON.parse(
    execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(cases) }).toString(),
  );
}

const URIS = [
  'swift+http://store-test%3Aswift:k3y@127.0.0.1:7480/auth/1.0/glance/abc',
  'swift://a:b:c@host/v1/cont/obj',
  'swift://account:user:pass@authurl.com/container/obj-id',
  'swift+https://user:pass@authurl.com/v2.0/container/obj-id',
  'swift+https://host.example/v1/AUTH_x/c/o',
  'swift+http://us%40er:p%2Fw@h/c/o',
  'swift+https://u%20s:k%2Bey@h:8080/auth/v1.0/glance_fda/fdae39a1-bac5-4238-aba4-69bcc726e848',
];

describe('swift locations', () => {
  it('parse the parts glance_store documents', () => {
    const l = parseSwiftLocation(
      'swift+http://store-test%3Aswift:k3y@127.0.0.1:7480/auth/1.0/glance/abc',
    );
    expect(l).toMatchObject({
      scheme: 'swift+http',
      user: 'store-test:swift',
      key: 'k3y',
      authOrStoreUrl: '127.0.0.1:7480/auth/1.0',
      container: 'glance',
      object: 'abc',
    });
    expect(locationUrl(l)).toBe('http://127.0.0.1:7480/auth/1.0');
    expect(locationUrl(parseSwiftLocation('swift://u:k@h/v1/c/o'))).toBe('https://h/v1');
    const config = parseSwiftLocation('swift+config://ref1/glance/abc');
    expect(config).toMatchObject({ reference: 'ref1', container: 'glance', object: 'abc' });
    expect(referenceLocation('ref1', 'glance', 'abc').uri).toBe('swift+config://ref1/glance/abc');
  });

  it('refuse malformed URIs with BadStoreUri, never showing the key', () => {
    for (const uri of [
      'swift://user:pass@http://authurl.com/v1/container/obj',
      'swift://u:secretkey@host/only-one',
      'swift://nocolon@host/c/o',
      'swift://u:k@x@host/c/o',
      's3://u:k@host/c/o',
      'swift://u:k@host/c/o?x=1',
      'swift:///c/o',
      'swift+config://ref1/c/',
    ]) {
      let caught: unknown;
      try {
        parseSwiftLocation(uri);
      } catch (err) {
        caught = err;
      }
      expect(caught, uri).toBeInstanceOf(BadStoreUri);
      expect((caught as Error).message).not.toContain('secretkey');
      expect((caught as Error).message).not.toContain('pass@');
    }
  });

  it('quote credentials as glance_store, and also quote / (which glance_store cannot read back)', () => {
    const written = credentialsLocation('http://h:1/auth/1.0/', 'a:b', 'k/+ y', 'glance', 'img');
    expect(written.uri).toBe('swift+http://a%3Ab:k%2F%2B%20y@h:1/auth/1.0/glance/img');
    expect(parseSwiftLocation(written.uri)).toEqual(written);
  });

  it('name containers from the seed as glance_store does', () => {
    const id = 'FDAE39A1-bac5-4238-aba4-69bcc726e848';
    const cases: [string, number][] = [0, 1, 3, 8, 9, 12, 13, 17, 32].map((seed) => [id, seed]);
    const ours = cases.map(([i, seed]) => containerFor(i, 'glance', seed));
    expect(ours.slice(0, 3)).toEqual(['glance', 'glance_f', 'glance_fda']);
    if (hasGlance) expect(ours).toEqual(glanceContainers(cases));
  });

  describe.skipIf(!hasGlance)('against glance_store 4.1.0 (python3-glance-store)', () => {
    it('read the same parts from the same URIs, and write the same URIs', () => {
      const theirs = glanceParse(URIS);
      URIS.forEach((uri, i) => {
        const glance = theirs[i] as GlanceParts;
        const ours = parseSwiftLocation(uri);
        expect({
          user: ours.user ?? null,
          key: ours.key ?? null,
          auth: ours.authOrStoreUrl,
          container: ours.container,
          obj: ours.object,
          url: locationUrl(ours),
        }).toEqual({
          user: glance.user,
          key: glance.key,
          auth: glance.auth,
          container: glance.container,
          obj: glance.obj,
          url: glance.url,
        });
        // What add writes for this account, as glance_store's get_uri (keys without '/').
        if (ours.user && !ours.key!.includes('/') && ours.scheme !== 'swift') {
          expect(
            credentialsLocation(locationUrl(ours), ours.user, ours.key, ours.container, ours.object)
              .uri,
          ).toBe(glance.uri);
        }
      });
    });

    it('refuse what glance_store refuses', () => {
      const refused = [
        'swift://user:pass@http://authurl.com/v1/container/obj',
        's3://u:k@h/c/o',
        'swift://nocolon@host/c/o',
      ];
      for (const result of glanceParse(refused)) expect(result).toHaveProperty('error');
      for (const uri of refused) expect(() => parseSwiftLocation(uri)).toThrow(BadStoreUri);
    });
  });
});
