/**
 * RBD locations, as glance_store writes and reads them:
 * `rbd://<fsid>/<pool>/<image>/<snapshot>`, each part percent-quoted with no safe
 * characters, and the legacy one-part `rbd://<image>` (read only, taken as is).
 */
import { BadStoreUri, type StoreLocation } from '@store/core';

export interface RbdLocation extends StoreLocation {
  /** Cluster fsid; absent in legacy locations. */
  readonly fsid?: string;
  /** Pool; absent in legacy locations (the backend's pool is used). */
  readonly pool?: string;
  readonly image: string;
  /** Snapshot to read; absent in legacy locations (the image head is read). */
  readonly snapshot?: string;
}

const PREFIX = /^rbd:\/\//i;

/** Python's `urllib.parse.quote(s, safe='')`: only `A-Za-z0-9_.-~` stay as they are. */
export function quote(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * Python's `urllib.parse.unquote`: `%XX` runs decode as UTF-8 (bad sequences
 * become U+FFFD), a `%` not followed by two hex digits stays as it is.
 */
export function unquote(text: string): string {
  return text.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    const bytes = Buffer.from(run.replace(/%/g, ''), 'hex');
    return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  });
}

/** Builds a location; with fsid, pool and snapshot it is the four-part form. */
export function rbdLocation(parts: {
  fsid?: string | undefined;
  pool?: string | undefined;
  image: string;
  snapshot?: string | undefined;
}): RbdLocation {
  const { fsid, pool, image, snapshot } = parts;
  if (fsid && pool && snapshot) {
    const uri = `rbd://${quote(fsid)}/${quote(pool)}/${quote(image)}/${quote(snapshot)}`;
    return { scheme: 'rbd', uri, fsid, pool, image, snapshot };
  }
  return { scheme: 'rbd', uri: `rbd://${image}`, image };
}

/**
 * Parses an `rbd://` URI.
 * @throws BadStoreUri for another scheme, a part count other than 1 or 4, or an empty part.
 */
export function parseRbdLocation(uri: string): RbdLocation {
  if (typeof uri !== 'string' || !PREFIX.test(uri)) {
    throw new BadStoreUri(
      `Not an rbd location: '${String(uri).slice(0, 80)}' (expected rbd://<fsid>/<pool>/<image>/<snapshot>)`,
    );
  }
  const pieces = uri.slice('rbd://'.length).split('/');
  if (pieces.length !== 1 && pieces.length !== 4) {
    throw new BadStoreUri(
      `Invalid rbd location '${uri.slice(0, 80)}': URI must have exactly 1 or 4 components`,
    );
  }
  if (pieces.some((p) => p === '')) {
    throw new BadStoreUri(
      `Invalid rbd location '${uri.slice(0, 80)}': URI cannot contain empty components`,
    );
  }
  if (pieces.length === 1) return rbdLocation({ image: pieces[0]! });
  const [fsid, pool, image, snapshot] = pieces.map(unquote) as [string, string, string, string];
  if ([fsid, pool, image, snapshot].some((p) => p.includes('\0')))
    throw new BadStoreUri('Invalid rbd location: a component contains a NUL byte');
  // A lone surrogate (raw, since unquote turns bad %-sequences into U+FFFD) cannot be
  // quoted back: encodeURIComponent would throw a bare URIError.
  if ([fsid, pool, image, snapshot].some((p) => /\p{Cs}/u.test(p)))
    throw new BadStoreUri('Invalid rbd location: a component is not well-formed Unicode');
  return rbdLocation({ fsid, pool, image, snapshot });
}
