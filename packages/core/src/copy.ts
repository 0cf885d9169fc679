/**
 * The copy workflow (Glance's copy-image) over the manager's public calls: get
 * from the source, add to the target, check the copy, delete it when it cannot
 * be vouched for.
 */

import { randomUUID } from 'node:crypto';
import { Capability, hasCapability } from './capabilities.js';
import { ChecksumMismatch, ImageSizeMismatch } from './errors.js';
import type { Logger } from './logger.js';
import type { MultiStore } from './manager.js';
import type { AddResult, CopyOptions } from './store-types.js';

/**
 * Copies the image at `uri` into backend `options.to` through `store`'s get, add
 * and delete; see {@link MultiStore.copy}. The caller turns failures into its
 * typed, redacted errors.
 */
export async function copyImage(
  store: MultiStore,
  uri: string,
  options: CopyOptions,
  how: { readonly signal: AbortSignal; readonly logger: Logger },
): Promise<AddResult> {
  const { signal, logger } = how;
  // An unknown or disabled target fails before the source is opened.
  const target = store.backend(options.to);
  const source = await store.get(uri, {
    ...(options.from !== undefined ? { backend: options.from } : {}),
    signal,
    context: options.context,
  });
  // add() reports the source's failures; this keeps a late abort-destroy of
  // the source, after add() stopped reading it, from going unhandled.
  source.stream.on('error', () => undefined);
  let added: AddResult;
  try {
    added = await store.add(options.imageId ?? randomUUID(), source.stream, source.size, {
      backend: target.id,
      ...(options.hashingAlgo !== undefined ? { hashingAlgo: options.hashingAlgo } : {}),
      signal,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      context: options.context,
    });
  } finally {
    source.stream.destroy();
  }
  try {
    await checkCopy(store, added, source.size, options, signal);
  } catch (err) {
    // The copy cannot be vouched for: take it back out of the target.
    await store.delete(added.location, { backend: target.id }).catch(() => undefined);
    throw err;
  }
  logger.debug(`Copied ${uri} to backend '${target.id}'`, { bytes: added.size });
  return added;
}

/** Checks the copy's size and digests, and reads it back unless told not to. */
async function checkCopy(
  store: MultiStore,
  added: AddResult,
  sourceSize: number,
  options: CopyOptions,
  signal: AbortSignal,
): Promise<void> {
  if (added.size !== sourceSize) {
    throw new ImageSizeMismatch(
      `Copy in backend '${added.backend}' is ${added.size} bytes, the source ${sourceSize}`,
    );
  }
  const { checksum, multihash } = options.expected ?? {};
  if (checksum !== undefined && checksum.toLowerCase() !== added.checksum) {
    throw new ChecksumMismatch('Copied data does not match the expected md5 checksum');
  }
  if (multihash !== undefined && multihash.toLowerCase() !== added.multihash) {
    throw new ChecksumMismatch(
      `Copied data does not match the expected ${added.hashingAlgo} multihash`,
    );
  }
  const target = store.backend(added.backend);
  if (options.readBack === false || !hasCapability(target.capabilities, Capability.READ_ACCESS))
    return;
  const back = await store.get(added.location, {
    backend: added.backend,
    signal,
    verify: { multihash: added.multihash, hashingAlgo: added.hashingAlgo },
  });
  let bytes = 0;
  for await (const chunk of back.stream) bytes += (chunk as Uint8Array).byteLength;
  if (bytes !== added.size) {
    throw new ImageSizeMismatch(
      `Copy in backend '${added.backend}' reads back as ${bytes} bytes, not ${added.size}`,
    );
  }
}
