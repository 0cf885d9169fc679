/**
 * S3 locations, exactly as glance_store writes and parses them:
 * `s3://<access>:<secret>@<host[:port][/path]>/<bucket>/<key>`, with `s3+https://`
 * for https hosts (and `s3+http://` accepted). glance_store escapes nothing: keys
 * with `/` or `+` appear as they are, and its parser copes with `/` in the secret by
 * splitting at the `@`. This module follows that parser step by step, so a URI
 * means the same thing to both.
 */
import { BadStoreUri, type StoreLocation } from '@store/core';

/** The schemes S3 locations use; the first two are the ones written. */
export const S3_SCHEMES = ['s3', 's3+https', 's3+http'] as const;
export type S3Scheme = (typeof S3_SCHEMES)[number];

export interface S3Location extends StoreLocation {
  readonly scheme: S3Scheme;
  /** Access key carried in the URI; undefined when the URI has no credentials. */
  readonly accessKey?: string;
  /** Secret key carried in the URI. */
  readonly secretKey?: string;
  /** The S3 service as written in the URI: host, port and optional path, no scheme. */
  readonly host: string;
  readonly bucket: string;
  /** The object key (the image id). */
  readonly key: string;
}

/** Everything needed to build a location. */
export interface S3LocationParts {
  readonly scheme: S3Scheme;
  readonly accessKey?: string | undefined;
  readonly secretKey?: string | undefined;
  readonly host: string;
  readonly bucket: string;
  readonly key: string;
}

/** Builds a location; the URI is glance_store's `get_uri()`. */
export function s3Location(parts: S3LocationParts): S3Location {
  const creds = parts.accessKey ? `${parts.accessKey}:${parts.secretKey ?? ''}@` : '';
  const uri = `${parts.scheme}://${creds}${parts.host}/${parts.bucket}/${parts.key}`;
  return {
    scheme: parts.scheme,
    uri,
    ...(parts.accessKey ? { accessKey: parts.accessKey, secretKey: parts.secretKey ?? '' } : {}),
    host: parts.host,
    bucket: parts.bucket,
    key: parts.key,
  };
}

/** The location's URI with the credentials masked, for messages and logs. */
export function displayLocation(location: S3LocationParts): string {
  const creds = location.accessKey ? '***:***@' : '';
  return `${location.scheme}://${creds}${location.host}/${location.bucket}/${location.key}`;
}

/**
 * Masks the credentials of every S3 location in `text`. Unlike core's
 * `redactUri`, it also masks a userinfo with no `:` that contains `/`
 * (`s3://AK/x@host/b/k`); the driver applies both.
 */
export function redactS3Uris(text: string): string {
  return text.replace(
    /\b(s3(?:\+https?)?:\/\/)([^\s@]*)@(?=[^\s@]*\/)/gi,
    (_m, scheme: string, creds: string) =>
      creds.includes(':') ? `${scheme}***:***@` : `${scheme}***@`,
  );
}

/**
 * A refused URI for the error message: everything before its last `@` is masked, since
 * a malformed URI (no host after the `@`, say) escapes {@link redactS3Uris}.
 */
function maskRefused(uri: string): string {
  const at = uri.lastIndexOf('@');
  if (at === -1) return uri;
  const scheme = /^[^/@]*:\/\//.exec(uri)?.[0] ?? '';
  return `${scheme}***@${uri.slice(at + 1)}`;
}

function bad(uri: string, why: string): never {
  throw new BadStoreUri(`Invalid S3 location '${maskRefused(uri).slice(0, 120)}': ${why}`);
}

/** Python's `str.strip('/')`. */
function stripSlashes(text: string): string {
  return text.replace(/^\/+|\/+$/g, '');
}

/**
 * Parses an S3 location the way glance_store's `StoreLocation.parse_uri` does.
 * @throws BadStoreUri for another scheme, more than one `://`, malformed
 * credentials, or a missing host, bucket or key.
 */
export function parseS3Location(uri: string): S3Location {
  if (typeof uri !== 'string') return bad(String(uri), 'not a string');
  // glance_store rejects 's3://key:secret@https://host/...' this way: the fix is the s3+https scheme.
  if (uri.split('://').length !== 2)
    bad(uri, "a URI may contain '://' only once (use s3+https:// for an https host)");
  const match = /^(s3|s3\+https|s3\+http):\/\//.exec(uri);
  if (!match) return bad(uri, 'the scheme must be s3://, s3+http:// or s3+https://');
  // Control characters are silently dropped by urlparse; refusing them is safer than guessing.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for exactly those
  if (/[\x00-\x1f\x7f]/.test(uri)) bad(uri, 'contains control characters');
  const scheme = match[1] as S3Scheme;
  // urlparse: the netloc ends at the first '/', '?' or '#'; query and fragment are dropped.
  const rest = uri.slice(match[0].length).split(/[?#]/, 1)[0]!;
  const slash = rest.indexOf('/');
  const netloc = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  const entire = stripSlashes(`${netloc}/${stripSlashes(path)}`);

  let accessKey: string | undefined;
  let secretKey: string | undefined;
  let objectPath = entire;
  if (uri.includes('@')) {
    const pieces = entire.split('@');
    if (pieces.length !== 2)
      bad(uri, "expected exactly one '@' between the credentials and the host");
    const credParts = pieces[0]!.split(':');
    if (credParts.length < 2) bad(uri, 'badly formed credentials (expected access:secret@)');
    accessKey = credParts[0]!;
    secretKey = credParts[1]!;
    objectPath = pieces[1]!;
    // urlparse's split folds '//' inside a secret key into '/' (AWS secrets are base64, and about
    // one key in a hundred has '//'), so glance_store cannot read such a key back. Where the
    // credentials are plain `access:secret`, take them verbatim instead.
    const raw = uri.slice(match[0].length, uri.indexOf('@'));
    const colon = raw.indexOf(':');
    if (!/[?#]/.test(raw) && colon > 0 && raw.indexOf(':', colon + 1) === -1) {
      if (raw.slice(0, colon) === accessKey) secretKey = raw.slice(colon + 1);
    }
  }
  // The access key is read from the netloc and path joined again, which folds a '/' in it
  // (AWS access keys never hold one), so such a location would not parse back the same.
  if (accessKey?.includes('/')) bad(uri, "an access key cannot contain '/'");
  const parts = objectPath.split('/');
  const key = parts.pop()!;
  const bucket = parts.pop();
  if (bucket === undefined || parts.length === 0) bad(uri, 'missing S3 service host');
  const host = stripSlashes(parts.join('/'));
  if (host === '') bad(uri, 'missing S3 service host');
  // An empty segment would not survive formatting and parsing again (the parser strips
  // the slashes around the netloc), so the location would change meaning.
  if (host.includes('//')) bad(uri, 'empty path segment in the S3 service host');
  if (bucket === '') bad(uri, 'empty bucket name');
  if (key === '') bad(uri, 'empty object key');
  return s3Location({ scheme, accessKey, secretKey, host, bucket, key });
}
