/**
 * HTTP(S) locations: the image's URL itself, as Glance records it
 * (`https://user:password@host:port/path?query`). Like glance_store, the URL is
 * kept as written (no normalisation of path or query), so a URI from a Glance
 * database round-trips; unlike it, `;params` stay part of the path and malformed
 * hosts and ports are refused up front instead of at request time.
 */
import { isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';
import { BadStoreUri, MAX_LOCATION_LENGTH, redactUri, type StoreLocation } from '@store/core';

/** A parsed `http://` or `https://` location. */
export interface HttpLocation extends StoreLocation {
  readonly scheme: 'http' | 'https';
  /** User name as written in the URL (still percent-encoded), if credentials are given. */
  readonly user?: string;
  /** Password as written in the URL (still percent-encoded), if credentials are given. */
  readonly password?: string;
  /** `host[:port]` as written, without credentials. */
  readonly netloc: string;
  /** Host name to connect to (IPv6 addresses without brackets, international names in punycode). */
  readonly hostname: string;
  /** Port to connect to (the scheme's default when the URL has none). */
  readonly port: number;
  /** Path as written; may be empty. */
  readonly path: string;
  /** Query as written, without the `?`; empty when there is none. */
  readonly query: string;
}

const MAX_SHOWN = 200;
// Scheme, authority (up to the first / ? #), path, optional query, optional fragment.
const URL_SHAPE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$/s;
// RFC 3986 reg-name characters, minus percent-encoding (hosts must be plain ASCII).
const REG_NAME = /^[A-Za-z0-9._~!$&'()*+,;=-]+$/;
const DIGITS = /^\d*$/;
// Controls and DEL are never valid in a URL and would let a header be smuggled.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** `uri` safe to show in a message: credentials masked, length bounded. */
export function displayUri(uri: string): string {
  const shown = redactUri(uri);
  return shown.length > MAX_SHOWN ? `${shown.slice(0, MAX_SHOWN)}…` : shown;
}

function bad(uri: string, why: string): never {
  throw new BadStoreUri(`Invalid HTTP location '${displayUri(uri)}': ${why}`);
}

/**
 * Parses an `http://` or `https://` location (scheme case-insensitive).
 * @throws BadStoreUri naming what is wrong: another scheme, control characters,
 * badly formed credentials (exactly one `:` between user and password; `:` and
 * `@` inside them must be percent-encoded), an empty or malformed host, or a port
 * outside 1..65535.
 */
export function parseHttpLocation(uri: string): HttpLocation {
  if (typeof uri !== 'string') throw new BadStoreUri('An HTTP location must be a string');
  if (uri.length > MAX_LOCATION_LENGTH)
    throw new BadStoreUri(
      `An HTTP location of ${uri.length} characters is over the limit of ${MAX_LOCATION_LENGTH}`,
    );
  if (CONTROL.test(uri)) bad(uri, 'it contains control characters');
  const match = URL_SHAPE.exec(uri);
  if (!match) bad(uri, 'expected http://host/path or https://host/path');
  const scheme = match[1]!.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') bad(uri, `the scheme '${scheme}' is not http(s)`);
  const authority = match[2]!;
  const path = match[3]!;
  const query = match[4] ?? '';

  let user: string | undefined;
  let password: string | undefined;
  let netloc = authority;
  if (authority.includes('@')) {
    const parts = authority.split('@');
    if (parts.length !== 2) bad(uri, "more than one '@' (percent-encode it as %40)");
    const creds = parts[0]!.split(':');
    if (creds.length !== 2) {
      bad(uri, "credentials are not well-formed: expected 'user:password@' (encode ':' as %3A)");
    }
    [user, password] = creds as [string, string];
    netloc = parts[1]!;
  }
  if (netloc === '') bad(uri, 'no host given');

  let hostname: string;
  let rawPort: string;
  if (netloc.startsWith('[')) {
    const close = netloc.indexOf(']');
    const rest = close < 0 ? '' : netloc.slice(close + 1);
    hostname = close < 0 ? '' : netloc.slice(1, close);
    if (!isIPv6(hostname)) bad(uri, 'the bracketed host is not an IPv6 address');
    if (rest !== '' && !rest.startsWith(':')) bad(uri, 'unexpected text after the IPv6 address');
    rawPort = rest.slice(1);
  } else {
    const colon = netloc.indexOf(':');
    const written = colon < 0 ? netloc : netloc.slice(0, colon);
    rawPort = colon < 0 ? '' : netloc.slice(colon + 1);
    // International names are looked up in their ASCII (punycode) form, as requests does.
    hostname = /^[\x21-\x7e]*$/.test(written) ? written : domainToASCII(written);
    if (!REG_NAME.test(hostname)) bad(uri, 'the host name is empty or has invalid characters');
  }
  if (!DIGITS.test(rawPort)) bad(uri, 'the port is not a number');
  const port = rawPort === '' ? (scheme === 'https' ? 443 : 80) : Number(rawPort);
  if (port < 1 || port > 65535) bad(uri, 'the port is outside 1..65535');

  const credentials = user !== undefined ? `${user}:${password}@` : '';
  return {
    scheme,
    uri: `${scheme}://${credentials}${netloc}${path}${query ? `?${query}` : ''}`,
    ...(user !== undefined ? { user, password } : {}),
    netloc,
    hostname,
    port,
    path,
    query,
  } as HttpLocation;
}

function encodeUnsafe(text: string): string {
  // Percent-encode what may not appear raw in a request line (space, non-ASCII),
  // leaving existing escapes alone, as requests' requote_uri does.
  return text.replace(/[^\x21-\x7e]+/g, (run) =>
    [...Buffer.from(run, 'utf8')]
      .map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`)
      .join(''),
  );
}

/** The request target (`/path?query`) to send to the server. */
export function requestTarget(location: HttpLocation): string {
  const path = location.path === '' ? '/' : location.path;
  return encodeUnsafe(location.query ? `${path}?${location.query}` : path);
}

/** The `Host` header value: host and, when not the scheme's default, port. */
export function hostHeader(location: HttpLocation): string {
  const host = location.hostname.includes(':') ? `[${location.hostname}]` : location.hostname;
  const defaultPort = location.scheme === 'https' ? 443 : 80;
  return location.port === defaultPort ? host : `${host}:${location.port}`;
}

/** The URL without credentials, as sent to a forward proxy (absolute form). */
export function absoluteUrl(location: HttpLocation): string {
  return `${location.scheme}://${hostHeader(location)}${requestTarget(location)}`;
}

/** `scheme://host:port`, lower-cased: credentials travel only within one origin. */
function originOf(location: HttpLocation): string {
  return `${location.scheme}://${location.hostname.toLowerCase()}:${location.port}`;
}

function percentDecode(text: string): Buffer {
  // Lenient like Python's unquote: a '%' not followed by two hex digits stays as is.
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const hex = text.slice(i + 1, i + 3);
    if (text[i] === '%' && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else bytes.push(...Buffer.from(text[i]!, 'utf8'));
  }
  return Buffer.from(bytes);
}

/** The `Authorization: Basic …` value for credentials in the URL, if any. */
export function basicAuthorization(
  user: string | undefined,
  password: string | undefined,
): string | undefined {
  if (user === undefined) return undefined;
  const token = Buffer.concat([
    percentDecode(user),
    Buffer.from(':'),
    percentDecode(password ?? ''),
  ]);
  return `Basic ${token.toString('base64')}`;
}

/**
 * Resolves a redirect's `Location` header against the URL that answered it.
 * Credentials are carried over only when the target has none of its own and
 * stays on the same origin (scheme, host, port), so a redirect cannot lure them
 * to another server.
 * @throws BadStoreUri when the target is not a usable http(s) URL.
 */
export function resolveRedirect(from: HttpLocation, header: string): HttpLocation {
  // A server chooses this text: bound it before any parser looks at it.
  if (header.length > MAX_LOCATION_LENGTH)
    throw new BadStoreUri(
      `${displayUri(from.uri)} redirected to a URL of ${header.length} characters, over the limit of ${MAX_LOCATION_LENGTH}`,
    );
  let href: string;
  try {
    href = new URL(header, absoluteUrl(from)).href;
  } catch {
    throw new BadStoreUri(
      `${displayUri(from.uri)} redirected to an invalid URL '${displayUri(header)}'`,
    );
  }
  const target = parseHttpLocation(href);
  if (target.user !== undefined || from.user === undefined) return target;
  if (originOf(target) !== originOf(from)) return target;
  const rest = target.uri.slice(`${target.scheme}://`.length);
  return parseHttpLocation(`${target.scheme}://${from.user}:${from.password}@${rest}`);
}
