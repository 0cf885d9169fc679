/** Picking the storage URL out of Keystone catalogs (v2 and v3 shaped), and checking request contexts. */
import { describe, expect, it } from 'vitest';
import { requestContext } from '../src/context.js';
import { type CatalogService, endpointFromCatalog } from '../src/index.js';

const v3: CatalogService[] = [
  {
    type: 'identity',
    endpoints: [{ interface: 'public', region_id: 'RegionOne', url: 'http://ks/v3' }],
  },
  {
    type: 'object-store',
    name: 'swift',
    endpoints: [
      { interface: 'public', region_id: 'RegionOne', url: 'https://one.example/v1/AUTH_p' },
      { interface: 'internal', region_id: 'RegionOne', url: 'http://one.internal/v1/AUTH_p' },
      { interface: 'admin', region_id: 'RegionOne', url: 'http://one.admin/v1' },
      { interface: 'public', region: 'RegionTwo', url: 'https://two.example/v1/AUTH_p' },
    ],
  },
];
const v2: CatalogService[] = [
  {
    type: 'object-store',
    endpoints: [
      {
        region: 'RegionOne',
        publicURL: 'https://one.example/v1/AUTH_p',
        internalURL: 'http://one.internal/v1/AUTH_p',
        adminURL: 'http://one.admin/v1',
      },
      { region: 'RegionTwo', publicURL: 'https://two.example/v1/AUTH_p' },
    ],
  },
];

describe('endpointFromCatalog', () => {
  for (const [shape, catalog] of [
    ['v3', v3],
    ['v2', v2],
  ] as const) {
    it(`picks by region and endpoint type (${shape} catalog)`, () => {
      const pick = (endpointType: string, region?: string) =>
        endpointFromCatalog(catalog, {
          serviceType: 'object-store',
          endpointType,
          ...(region ? { region } : {}),
        });
      expect(pick('publicURL', 'RegionOne')).toBe('https://one.example/v1/AUTH_p');
      expect(pick('internalURL', 'RegionOne')).toBe('http://one.internal/v1/AUTH_p');
      expect(pick('adminURL')).toBe('http://one.admin/v1');
      expect(pick('publicURL', 'RegionTwo')).toBe('https://two.example/v1/AUTH_p');
      // Two public endpoints and no region: ambiguous, as keystoneauth says.
      expect(() => pick('publicURL')).toThrow(/2 Swift endpoints.*swift_store_region/);
      expect(() => pick('internalURL', 'RegionTwo')).toThrow(
        /No Swift endpoint .*internalURL.*RegionTwo/,
      );
    });
  }

  it('matches the service type, and names what it looked for when nothing matches', () => {
    expect(() =>
      endpointFromCatalog(v3, { serviceType: 'object-store-2', endpointType: 'publicURL' }),
    ).toThrow(expect.objectContaining({ code: 'BadStoreConfiguration' }));
    expect(() =>
      endpointFromCatalog([], { serviceType: 'object-store', endpointType: 'publicURL' }),
    ).toThrow(/service type 'object-store'/);
  });
});

describe('requestContext', () => {
  it('requires a context with a token, as glance_store requires one in multi-tenant mode', () => {
    expect(() => requestContext(undefined)).toThrow(
      expect.objectContaining({ code: 'BadStoreConfiguration' }),
    );
    for (const bad of [
      {},
      { authToken: '' },
      { authToken: 1 },
      'token',
      { authToken: 't', projectId: 3 },
      { authToken: 't', serviceCatalog: {} },
    ]) {
      expect(() => requestContext(bad)).toThrow(expect.objectContaining({ code: 'Invalid' }));
    }
    const good = { authToken: 't', projectId: 'p', serviceCatalog: v3 };
    expect(requestContext(good)).toBe(good);
  });
});
