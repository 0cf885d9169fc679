/**
 * `filesystem_store_metadata_file`: location metadata per mountpoint, given to
 * images stored under it (Nova uses it to find shared mounts).
 */
import { readFile } from 'node:fs/promises';
import { BadStoreConfiguration, checkLocationMetadata } from '@store/core';

export interface MountMetadata {
  readonly id: string;
  readonly mountpoint: string;
  readonly [key: string]: unknown;
}

/** Reads and validates the metadata file. @throws BadStoreConfiguration */
export async function loadMountMetadata(backendId: string, file: string): Promise<MountMetadata[]> {
  const bad = (why: string, cause?: unknown): never => {
    throw new BadStoreConfiguration(`Backend '${backendId}': metadata file ${file} ${why}`, {
      cause,
    });
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    return bad(`cannot be used: ${(err as Error).message}`, err);
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  for (const item of list) {
    if (!item || typeof item !== 'object' || Array.isArray(item))
      bad('must hold an object or a list of objects');
    const entry = item as Record<string, unknown>;
    if (typeof entry.id !== 'string' || typeof entry.mountpoint !== 'string') {
      bad('needs string "id" and "mountpoint" in every entry');
    }
    try {
      checkLocationMetadata(entry);
    } catch (err) {
      bad(`is not valid location metadata: ${(err as Error).message}`, err);
    }
  }
  return list as MountMetadata[];
}

/** The metadata of the mountpoint holding `path`, or an empty object. */
export function metadataFor(
  mounts: readonly MountMetadata[],
  path: string,
): Record<string, unknown> {
  const found = mounts.find((m) => path.startsWith(m.mountpoint));
  return found ? { ...found } : {};
}
