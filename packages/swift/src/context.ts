/**
 * The request context of multi-tenant mode (glance_store's `context`: the
 * caller's token, project and service catalog), and picking the Swift endpoint
 * out of a Keystone service catalog, in either of the two shapes catalogs come
 * in: v2 (`endpoints: [{ region, publicURL, internalURL, adminURL }]`, what
 * keystonemiddleware hands Glance as X-Service-Catalog) and v3
 * (`endpoints: [{ interface, region_id | region, url }]`, what a v3 token carries).
 */
import { BadStoreConfiguration, Invalid } from '@store/core';

/** One endpoint of a catalog entry, v2 or v3 shaped. */
export interface CatalogEndpoint {
  /** v3: `public`, `internal` or `admin`. */
  readonly interface?: string;
  readonly url?: string;
  readonly region?: string;
  readonly region_id?: string;
  /** v2: one URL per endpoint type. */
  readonly publicURL?: string;
  readonly internalURL?: string;
  readonly adminURL?: string;
}

/** One service of a Keystone catalog. */
export interface CatalogService {
  readonly type: string;
  readonly name?: string;
  readonly endpoints: readonly CatalogEndpoint[];
}

/**
 * What a multi-tenant swift backend needs of the request: pass it as the
 * `context` of add, get, getSize, delete and setAcls.
 *
 * ```ts
 * await store.add(id, data, size, { context: { authToken, serviceCatalog } satisfies SwiftRequestContext });
 * ```
 */
export interface SwiftRequestContext {
  /** The caller's token (glance_store's `context.auth_token`); sent as X-Auth-Token. */
  readonly authToken: string;
  /** The caller's project (`context.project_id`); informational, trusts are not used. */
  readonly projectId?: string;
  /**
   * The caller's service catalog (`context.service_catalog`), v2 or v3 shaped:
   * the storage URL is picked from it when swift_store_endpoint is unset.
   */
  readonly serviceCatalog?: readonly CatalogService[];
}

/**
 * The request context, checked.
 * @throws BadStoreConfiguration when there is none (as glance_store: multi-tenant
 *   storage requires a context), Invalid when it is not shaped as {@link SwiftRequestContext}.
 */
export function requestContext(context: unknown): SwiftRequestContext {
  if (context === undefined || context === null) {
    throw new BadStoreConfiguration(
      'Multi-tenant Swift storage requires a request context (pass { context: { authToken } })',
    );
  }
  const c = context as Partial<Record<keyof SwiftRequestContext, unknown>>;
  if (typeof c !== 'object' || typeof c.authToken !== 'string' || c.authToken === '') {
    throw new Invalid(
      'Multi-tenant Swift storage requires a request context with a non-empty string authToken',
    );
  }
  if (c.projectId !== undefined && typeof c.projectId !== 'string') {
    throw new Invalid('The request context projectId must be a string');
  }
  if (c.serviceCatalog !== undefined && !Array.isArray(c.serviceCatalog)) {
    throw new Invalid('The request context serviceCatalog must be an array of catalog services');
  }
  return c as SwiftRequestContext;
}

/** Where to look in a catalog: glance_store's swift_store_* settings. */
export interface EndpointFilter {
  /** swift_store_service_type, e.g. `object-store`. */
  readonly serviceType: string;
  /** swift_store_endpoint_type: `publicURL`, `internalURL` or `adminURL`. */
  readonly endpointType: string;
  /** swift_store_region; undefined accepts any region. */
  readonly region?: string;
}

/** v2 endpoint type names to v3 interfaces. */
function interfaceOf(endpointType: string): string {
  return endpointType.replace(/URL$/, '');
}

/**
 * The URL of the one endpoint matching `filter` in `catalog`.
 * @throws BadStoreConfiguration naming the filter when none or more than one
 *   match (keystoneauth's EndpointNotFound / AmbiguousEndpoints).
 */
export function endpointFromCatalog(
  catalog: readonly CatalogService[],
  filter: EndpointFilter,
): string {
  const wanted = interfaceOf(filter.endpointType);
  const urls: string[] = [];
  for (const service of catalog) {
    if (!service || service.type !== filter.serviceType || !Array.isArray(service.endpoints))
      continue;
    for (const endpoint of service.endpoints) {
      const region = endpoint.region_id ?? endpoint.region;
      if (filter.region !== undefined && region !== filter.region) continue;
      const url =
        endpoint.interface !== undefined
          ? endpoint.interface === wanted
            ? endpoint.url
            : undefined
          : endpoint[filter.endpointType as 'publicURL' | 'internalURL' | 'adminURL'];
      if (typeof url === 'string' && url !== '' && !urls.includes(url)) urls.push(url);
    }
  }
  const described = `service type '${filter.serviceType}', endpoint type '${filter.endpointType}'${filter.region !== undefined ? `, region '${filter.region}'` : ''}`;
  if (urls.length === 0) {
    throw new BadStoreConfiguration(`No Swift endpoint in the service catalog for ${described}`);
  }
  if (urls.length > 1) {
    throw new BadStoreConfiguration(
      `${urls.length} Swift endpoints in the service catalog for ${described}: set swift_store_region or swift_store_endpoint`,
    );
  }
  return urls[0]!;
}
