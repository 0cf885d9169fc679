/**
 * Swift locations, as glance_store writes and reads them:
 *
 * - `swift+config://<reference>/<container>/<object>`: credentials and auth
 *   address come from the account reference (swift_store_config_file);
 * - `swift+http://<user>:<key>@<auth address without scheme>/<container>/<object>`
 *   (and `swift+https://`, `swift://` meaning https): credentials in the URI,
 *   user and key percent-encoded;
 * - multi-tenant: `swift+https://<storage URL without scheme>/<container>/<object>`.
 */
import { BadStoreUri, type StoreLocation } from '@store/core';

/** The schemes of swift locations; the first ones are those add writes. */
export const SWIFT_SCHEMES = ['swift+config', 'swift+http', 'swift+https', 'swift'] as const;
export type SwiftScheme = (typeof SWIFT_SCHEMES)[number];

/** A parsed swift location. */
export interface SwiftLocation extends StoreLocation {
  readonly scheme: SwiftScheme;
  /** swift+config: the account reference named in the URI. */
  readonly reference?: string;
  /** Credentials carried in the URI (decoded), if any. */
  readonly user?: string;
  readonly key?: string;
  /**
   * The auth address (or, multi-tenant, storage URL) without its scheme, as the
   * URI carries it; empty for swift+config.
   */
  readonly authOrStoreUrl: string;
  readonly container: string;
  readonly object: string;
}

/**
 * Percent-encodes like Python's `urllib.parse.quote(text, safe='')`: all but
 * letters, digits and `_.-~`. glance_store leaves `/` unencoded, which makes
 * its own locations unreadable when a key holds one; encoding it reads back in
 * both implementations.
 */
export function quoteCredential(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function unquote(text: string, uri: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new BadStoreUri(`Badly formed credentials in Swift URI '${redactedUri(uri)}'`);
  }
}

/** The URI with any userinfo masked, for messages. */
function redactedUri(uri: string): string {
  return uri.replace(/^([^:]+:\/\/)[^/]*@/, '$1***@').slice(0, 200);
}

function trimSlashes(text: string): string {
  return text.replace(/^\/+|\/+$/g, '');
}

function withoutHttpScheme(address: string): string {
  return address.replace(/^https?:\/\//, '');
}

/**
 * Parses a swift location URI.
 * @throws BadStoreUri naming what is wrong (never showing credentials).
 */
export function parseSwiftLocation(uri: string): SwiftLocation {
  const shown = redactedUri(String(uri));
  if (typeof uri !== 'string' || uri.split('://').length !== 2) {
    throw new BadStoreUri(
      `Swift URI must contain exactly one '://' (write swift+http://user:key@host/v1/container/obj, not swift://user:key@http://host/...): '${shown}'`,
    );
  }
  const [rawScheme, rest] = uri.split('://') as [string, string];
  const scheme = rawScheme.toLowerCase() as SwiftScheme;
  if (!SWIFT_SCHEMES.includes(scheme)) {
    throw new BadStoreUri(`Not a swift URI (scheme '${rawScheme}'): '${shown}'`);
  }
  if (/[?#]/.test(rest)) {
    throw new BadStoreUri(`Swift URI must not have a query or fragment: '${shown}'`);
  }
  const slash = rest.indexOf('/');
  let netloc = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash + 1);
  if (netloc === '') throw new BadStoreUri(`Swift URI has no host or reference: '${shown}'`);
  let reference: string | undefined;
  let user: string | undefined;
  let key: string | undefined;
  if (scheme === 'swift+config') {
    reference = netloc;
    netloc = '';
  } else if (netloc.includes('@')) {
    const parts = netloc.split('@');
    if (parts.length !== 2) throw new BadStoreUri(`Swift URI has more than one '@': '${shown}'`);
    const credentials = unquote(parts[0]!, uri);
    netloc = parts[1]!;
    const colon = credentials.lastIndexOf(':');
    if (colon < 0) throw new BadStoreUri(`Badly formed credentials in Swift URI: '${shown}'`);
    user = credentials.slice(0, colon);
    key = credentials.slice(colon + 1);
  }
  const segments = path.split('/');
  const object = segments.pop() ?? '';
  const container = segments.pop() ?? '';
  if (!object || !container) {
    throw new BadStoreUri(`Swift URI must end in /<container>/<object>: '${shown}'`);
  }
  const authOrStoreUrl = reference === undefined ? [netloc, ...segments].join('/') : '';
  return {
    scheme,
    uri,
    ...(reference !== undefined ? { reference } : {}),
    ...(user !== undefined ? { user, key: key! } : {}),
    authOrStoreUrl,
    container,
    object,
  };
}

/** The URI of a location written with credentials in it (no swift_store_config_file). */
export function credentialsLocation(
  authAddress: string,
  user: string | undefined,
  key: string | undefined,
  container: string,
  object: string,
): SwiftLocation {
  const scheme: SwiftScheme = authAddress.startsWith('http://') ? 'swift+http' : 'swift+https';
  const authOrStoreUrl = trimSlashes(withoutHttpScheme(authAddress));
  const credentials = user && key ? `${quoteCredential(user)}:${quoteCredential(key)}@` : '';
  const uri = `${scheme}://${credentials}${authOrStoreUrl}/${trimSlashes(container)}/${trimSlashes(object)}`;
  return {
    scheme,
    uri,
    ...(user && key ? { user, key } : {}),
    authOrStoreUrl,
    container,
    object,
  };
}

/** The URI of a location naming an account reference. */
export function referenceLocation(
  reference: string,
  container: string,
  object: string,
): SwiftLocation {
  return {
    scheme: 'swift+config',
    uri: `swift+config://${reference}/${trimSlashes(container)}/${trimSlashes(object)}`,
    reference,
    authOrStoreUrl: '',
    container,
    object,
  };
}

/**
 * The full auth address (or storage URL) of a location that carries one: kept
 * as written when it has its own http(s) scheme, otherwise https for `swift`
 * and `swift+https`, http for `swift+http`.
 */
export function locationUrl(location: SwiftLocation): string {
  const url = location.authOrStoreUrl;
  if (url.startsWith('http://') || url.startsWith('https://')) return url;
  return `${location.scheme === 'swift+http' ? 'http' : 'https'}://${url}`;
}

/**
 * The container of an image, as glance_store names it: swift_store_container,
 * or with seed N > 0 `<container>_<prefix>` where the prefix is the first
 * N + d characters of the lower-cased id, d being the dashes among its first N.
 */
export function containerFor(imageId: string, container: string, seed: number): string {
  if (seed === 0) return container;
  const id = imageId.toLowerCase();
  const dashes = id.slice(0, seed).split('-').length - 1;
  return `${container}_${id.slice(0, seed + dashes)}`;
}
