/**
 * Azure locations: `azure://<account>/<container>/<blob>`. The blob name is kept
 * percent-encoded segment by segment (`/` stays a separator), so any valid blob
 * name round-trips. A location never carries credentials: URIs with userinfo, a
 * query (where a SAS token would go) or a fragment are refused.
 */
import { BadStoreUri, type StoreLocation } from '@store/core';

/** The scheme this driver writes and reads. */
export const AZURE_SCHEME = 'azure';

/** A parsed Azure location. */
export interface AzureLocation extends StoreLocation {
  /** Storage account name (lower case). */
  readonly account: string;
  readonly container: string;
  /** Blob name, decoded. */
  readonly blob: string;
}

/** Azure's rule for storage account names. */
const ACCOUNT_NAME = /^[a-z0-9]{3,24}$/;
/** Azure's rule for container names: 3-63 of a-z, 0-9 and single inner hyphens. */
const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$/;
const MAX_BLOB_NAME = 1024;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Why `name` is not a usable storage account name, or undefined when it is. */
export function accountNameProblem(name: string): string | undefined {
  return ACCOUNT_NAME.test(name) ? undefined : 'must be 3 to 24 lower-case letters and digits';
}

/** Why `name` is not a usable container name, or undefined when it is. */
export function containerNameProblem(name: string): string | undefined {
  return CONTAINER_NAME.test(name)
    ? undefined
    : 'must be 3 to 63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit';
}

/**
 * Why `name` is not a blob name this driver writes or reads, or undefined when it
 * is. Beyond Azure's own limits, names whose URL form the service (or the SDK)
 * would rewrite are refused, so a name can never address another blob: empty,
 * `.` and `..` segments, backslashes (Azure turns them into `/`), a trailing dot,
 * control characters and unpaired surrogates.
 */
export function blobNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > MAX_BLOB_NAME) return `is longer than ${MAX_BLOB_NAME} characters`;
  if (CONTROL.test(name)) return 'contains a control character';
  if (name.includes('\\')) return 'contains a backslash';
  if (name.endsWith('.')) return 'ends with a dot';
  for (const segment of name.split('/')) {
    if (segment === '') return 'has an empty path segment (leading, trailing or double "/")';
    if (segment === '.' || segment === '..') return 'has a "." or ".." path segment';
  }
  try {
    encodeURIComponent(name);
  } catch {
    return 'is not well-formed Unicode';
  }
  return undefined;
}

function encodeBlob(blob: string): string {
  return blob.split('/').map(encodeURIComponent).join('/');
}

/**
 * Builds the location of `blob` in `container` of `account`. The parts must
 * already be valid (see the `*Problem` functions).
 */
export function azureLocation(account: string, container: string, blob: string): AzureLocation {
  return {
    scheme: AZURE_SCHEME,
    uri: `${AZURE_SCHEME}://${account}/${container}/${encodeBlob(blob)}`,
    account,
    container,
    blob,
  };
}

/** The URI, cut short and stripped of anything after `?`/`#`, safe to put in a message. */
function shown(uri: string): string {
  const cut = uri.split(/[?#]/, 1)[0]!.replace(/\/\/[^/]*@/, '//***@');
  return cut.length > 120 ? `${cut.slice(0, 120)}…` : cut;
}

/**
 * Parses an `azure://<account>/<container>/<blob>` URI into its canonical form
 * (scheme and account lower-cased, blob name re-encoded).
 * @throws BadStoreUri naming what is wrong; the message never echoes userinfo or a query.
 */
export function parseAzureLocation(uri: string): AzureLocation {
  const bad = (why: string): never => {
    throw new BadStoreUri(`Bad Azure location '${shown(String(uri))}': ${why}`);
  };
  if (typeof uri !== 'string') return bad('not a string');
  const match = /^([a-z][a-z0-9+.-]*):\/\/([^/]*)(?:\/(.*))?$/is.exec(uri);
  if (!match || match[1]!.toLowerCase() !== AZURE_SCHEME)
    return bad('expected azure://<account>/<container>/<blob>');
  const authority = match[2]!;
  const path = match[3] ?? '';
  if (authority.includes('@')) return bad('it must not carry credentials');
  if (/[?#]/.test(uri)) return bad('it must not have a query or fragment');
  const account = authority.toLowerCase();
  const accountProblem = accountNameProblem(account);
  if (accountProblem) return bad(`the account name ${accountProblem}`);
  const slash = path.indexOf('/');
  if (slash < 0) return bad('expected azure://<account>/<container>/<blob>');
  const container = path.slice(0, slash);
  const containerProblem = containerNameProblem(container);
  if (containerProblem) return bad(`the container name ${containerProblem}`);
  let blob: string;
  try {
    blob = path
      .slice(slash + 1)
      .split('/')
      .map(decodeURIComponent)
      .join('/');
  } catch {
    return bad('the blob name has an invalid percent-encoding');
  }
  const blobProblem = blobNameProblem(blob);
  if (blobProblem) return bad(`the blob name ${blobProblem}`);
  return azureLocation(account, container, blob);
}
