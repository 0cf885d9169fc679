/**
 * File locations: `file:///abs/path`, exactly as glance_store writes them; the
 * `filesystem://` scheme is accepted on read. Like glance_store, the path is kept
 * as written (no percent-decoding), so URIs in a Glance database round-trip.
 */
import { BadStoreUri, type StoreLocation } from '@store/core';

export interface FileLocation extends StoreLocation {
  /** Absolute path of the image file. */
  readonly path: string;
}

/** Builds the location of the image stored at `path`. */
export function fileLocation(path: string): FileLocation {
  return { scheme: 'file', uri: `file://${path}`, path };
}

/**
 * Parses `file://` and `filesystem://` URIs.
 * @throws BadStoreUri for another scheme, an empty or relative path, or a NUL byte.
 */
export function parseFileLocation(uri: string): FileLocation {
  const match = /^(file|filesystem):\/\/(.*)$/is.exec(uri);
  if (!match)
    throw new BadStoreUri(`Not a file location: '${uri.slice(0, 80)}' (expected file:///path)`);
  // Like urlparse: netloc and path together form the path; query and fragment are not part of it.
  const path = match[2]!.split(/[?#]/, 1)[0]!.trim();
  if (path === '') throw new BadStoreUri(`File location has an empty path: '${uri.slice(0, 80)}'`);
  if (!path.startsWith('/'))
    throw new BadStoreUri(`File location path must be absolute: '${uri.slice(0, 80)}'`);
  if (path.includes('\0')) throw new BadStoreUri('File location path contains a NUL byte');
  return fileLocation(path);
}
