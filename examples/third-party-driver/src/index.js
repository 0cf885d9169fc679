/**
 * store-driver-memo: an example third-party @store driver, in plain ESM with no
 * build step. Images are files in one directory (`memo_dir`); their locations
 * are `memo://<image id, percent-encoded>`.
 *
 * The manager hashes, checks sizes and capabilities, and masks secrets; the
 * driver only moves bytes and names them. Every error it raises is one of
 * @store/core's typed errors, made by the copy of core this package resolves
 * (a peer dependency: the app's own copy when installed normally).
 */
import { randomUUID } from 'node:crypto';
import { link, mkdir, open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import {
  BadStoreUri,
  Capability,
  checkImageId,
  Duplicate,
  defineDriver,
  Forbidden,
  Invalid,
  imageIdProblem,
  NotFound,
  quoteImageId,
  StorageFull,
  StorageWriteDenied,
  throwIfAborted,
} from '@store/core';

const SCHEME = 'memo';
/** Where an add writes before the image is complete; never a valid image id. */
const PARTIAL_PREFIX = '.memo-partial-';
/** Longest file name on common filesystems. */
const MAX_NAME_BYTES = 255;
/** Bytes per chunk handed to the caller. */
const READ_CHUNK = 1 << 20;

/**
 * Parses `memo://<id>`: one percent-encoded image id that core's rule accepts.
 * @throws BadStoreUri naming what is wrong.
 */
function parseLocation(uri) {
  const bad = (why) => new BadStoreUri(`Not a memo location (${why})`);
  if (typeof uri !== 'string' || !uri.startsWith(`${SCHEME}://`)) throw bad('scheme');
  const encoded = uri.slice(SCHEME.length + 3);
  if (encoded === '') throw bad('no image id');
  if (/[/?#]/.test(encoded)) throw bad('an image id is one path segment');
  let imageId;
  try {
    imageId = decodeURIComponent(encoded);
  } catch {
    throw bad('invalid percent-encoding');
  }
  const problem = imageIdProblem(imageId);
  if (problem) throw bad(`the image id ${problem}`);
  return { scheme: SCHEME, uri: `${SCHEME}://${encodeURIComponent(imageId)}`, imageId };
}

/** Maps a filesystem error to core's typed errors. */
function fsError(err, what) {
  switch (err?.code) {
    case 'ENOENT':
      return new NotFound(`No image at ${what}`, { cause: err });
    case 'EEXIST':
      return new Duplicate(`An image already exists at ${what}`, { cause: err });
    case 'ENOSPC':
    case 'EDQUOT':
      return new StorageFull(`No space left for ${what}`, { cause: err });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new StorageWriteDenied(`Permission denied for ${what}`, { cause: err });
    default:
      return err;
  }
}

class MemoDriver {
  #dir;

  constructor(dir) {
    this.#dir = dir;
  }

  parseLocation(uri) {
    return parseLocation(uri);
  }

  #path(location) {
    return join(this.#dir, location.imageId);
  }

  async add({ imageId, data, signal }) {
    // Core's rule first, so the driver is safe even without the manager.
    checkImageId(imageId);
    if (imageId.startsWith(PARTIAL_PREFIX))
      throw new Invalid(`Image id ${quoteImageId(imageId)} starts with ${PARTIAL_PREFIX}`);
    if (Buffer.byteLength(imageId) > MAX_NAME_BYTES)
      throw new Invalid(`Image id ${quoteImageId(imageId)} is longer than ${MAX_NAME_BYTES} bytes`);
    const location = parseLocation(`${SCHEME}://${encodeURIComponent(imageId)}`);
    const target = this.#path(location);
    // Early answer before any byte moves; link() below is the atomic check.
    if (await stat(target).catch(() => undefined))
      throw new Duplicate(`An image already exists at ${location.uri}`);

    // Written aside and linked under its name once complete: a failed or
    // aborted add leaves nothing, and readers never see half an image.
    const partial = join(this.#dir, `${PARTIAL_PREFIX}${randomUUID()}`);
    let size = 0;
    try {
      const file = await open(partial, 'wx').catch((err) => {
        throw fsError(err, location.uri);
      });
      try {
        for await (const chunk of data) {
          throwIfAborted(signal, 'add');
          await file.write(chunk).catch((err) => {
            throw fsError(err, location.uri);
          });
          size += chunk.byteLength;
        }
        await file.sync();
      } finally {
        await file.close();
      }
      throwIfAborted(signal, 'add');
      await link(partial, target).catch((err) => {
        throw fsError(err, location.uri);
      });
    } finally {
      await unlink(partial).catch(() => undefined);
    }
    return { location, size };
  }

  async get(location, { offset, chunkSize, signal }) {
    throwIfAborted(signal, 'get');
    const file = await open(this.#path(location), 'r').catch((err) => {
      throw fsError(err, location.uri);
    });
    try {
      const total = (await file.stat()).size;
      const start = Math.min(offset, total);
      const end = chunkSize === undefined ? total : Math.min(total, start + chunkSize);
      if (end === start) {
        await file.close();
        return { stream: Readable.from([]), size: 0 };
      }
      // end is inclusive for createReadStream; the stream closes the file when done.
      const stream = file.createReadStream({ start, end: end - 1, highWaterMark: READ_CHUNK });
      return { stream: addAbortSignal(signal, stream), size: end - start };
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
  }

  async getSize(location, { signal }) {
    throwIfAborted(signal, 'getSize');
    const stats = await stat(this.#path(location)).catch((err) => {
      throw fsError(err, location.uri);
    });
    return stats.size;
  }

  async delete(location, { signal }) {
    throwIfAborted(signal, 'delete');
    await unlink(this.#path(location)).catch((err) => {
      throw err?.code === 'EACCES' || err?.code === 'EPERM'
        ? new Forbidden(`Permission denied for ${location.uri}`, { cause: err })
        : fsError(err, location.uri);
    });
  }
}

/** The package's default export: discovered through `store.drivers` in package.json. */
export default defineDriver({
  type: 'memo',
  schemes: [SCHEME],
  // Offset and chunk reads, writes, and one instance shared by all calls.
  capabilities: Capability.READ_RANDOM | Capability.WRITE_ACCESS | Capability.DRIVER_REUSABLE,
  options: [
    {
      name: 'memo_dir',
      type: 'string',
      required: true,
      help: 'Directory holding the images (created if missing)',
    },
  ],
  description: 'Images as files in one directory, located by memo:// URIs (example driver)',
  async create({ options }) {
    const dir = options.memo_dir;
    await mkdir(dir, { recursive: true });
    return new MemoDriver(dir);
  },
});
