/**
 * The memory driver (type `memory`, locations `memory://<backend>/<image id>`):
 * images held in this process's memory, for an application's own unit tests
 * (as Rust object_store's InMemory and flydrive's fake disk). It keeps the whole
 * contract, so code tested against it meets the same errors as against a real
 * backend: Duplicate, NotFound, StorageFull past `memory_store_max_bytes`,
 * OperationAborted, and an add that fails or is aborted leaves nothing. Nothing
 * survives the process; every backend of the type has its own images.
 */
import { Readable } from 'node:stream';
import { Capability } from './capabilities.js';
import {
  type Driver,
  type DriverAddRequest,
  type DriverAddResult,
  type DriverContext,
  type DriverGetRequest,
  type DriverGetResult,
  type DriverRequest,
  defineDriver,
} from './driver.js';
import { BadStoreUri, Duplicate, NotFound, StorageFull, throwIfAborted } from './errors.js';
import { checkImageId, imageIdProblem, quoteImageId } from './image-id.js';
import type { StoreLocation } from './location.js';

/** The URI scheme of memory locations. */
const SCHEME = 'memory';

/** Bytes per block an image is kept in when its size is not declared, and per chunk read. */
const BLOCK_SIZE = 1024 * 1024;

/** A parsed `memory://<backend>/<image id>` location. */
export interface MemoryLocation extends StoreLocation {
  /** The id of the backend that wrote it. */
  readonly backendId: string;
  readonly imageId: string;
}

/** A stored image: the blocks its bytes were copied into, in order. */
interface StoredImage {
  readonly blocks: readonly Buffer[];
  readonly size: number;
}

/** The location URI of `imageId` in backend `backendId`. */
function formatLocation(backendId: string, imageId: string): MemoryLocation {
  const uri = `${SCHEME}://${encodeURIComponent(backendId)}/${encodeURIComponent(imageId)}`;
  return { scheme: SCHEME, uri, backendId, imageId };
}

// Printable URI characters only: a control character or a blank is never part of a location.
const LOCATION = /^memory:\/\/([^/?#\s\p{Cc}]+)\/([^/?#\s\p{Cc}]+)$/iu;

/**
 * Parses a memory location.
 * @throws BadStoreUri when `uri` is not `memory://<backend>/<image id>` with a valid id.
 */
export function parseMemoryLocation(uri: string): MemoryLocation {
  const match = LOCATION.exec(uri);
  if (!match) throw new BadStoreUri(`Not a memory location (memory://<backend>/<image id>)`);
  let backendId: string;
  let imageId: string;
  try {
    backendId = decodeURIComponent(match[1]!);
    imageId = decodeURIComponent(match[2]!);
  } catch {
    throw new BadStoreUri('A memory location has a malformed percent-encoding');
  }
  const problem = imageIdProblem(imageId);
  if (problem) throw new BadStoreUri(`The image id of a memory location ${problem}`);
  if (/\p{Cc}/u.test(backendId))
    throw new BadStoreUri('The backend id of a memory location has a control character');
  return formatLocation(backendId, imageId);
}

/** Options of a {@link MemoryDriver} (from the backend's config when made by {@link memoryDriver}). */
export interface MemoryDriverOptions {
  /** The backend id, written into locations. */
  readonly backendId: string;
  /** Most bytes the backend holds, counting adds in progress; 0 means no limit. */
  readonly maxBytes?: number;
}

/**
 * One memory backend: a map from image id to its bytes. Made by
 * {@link memoryDriver} for each backend of type `memory`; reach an instance with
 * `store.driverOf(backendId)` to look at what it holds.
 */
export class MemoryDriver implements Driver<MemoryLocation> {
  readonly #backendId: string;
  readonly #maxBytes: number;
  readonly #images = new Map<string, StoredImage>();
  /** Bytes of committed images plus bytes taken by adds in progress. */
  #bytesTaken = 0;

  constructor(options: MemoryDriverOptions) {
    this.#backendId = options.backendId;
    this.#maxBytes = options.maxBytes ?? 0;
  }

  /** Ids of the images held, in the order they were added. */
  imageIds(): string[] {
    return [...this.#images.keys()];
  }

  /** Bytes held by images and by adds in progress (what `memory_store_max_bytes` bounds). */
  get bytesUsed(): number {
    return this.#bytesTaken;
  }

  parseLocation(uri: string): MemoryLocation {
    return parseMemoryLocation(uri);
  }

  owns(location: MemoryLocation): boolean {
    return location.backendId === this.#backendId;
  }

  async add(request: DriverAddRequest): Promise<DriverAddResult<MemoryLocation>> {
    const { imageId, data, size, signal, release } = request;
    checkImageId(imageId);
    throwIfAborted(signal, 'add');
    this.#refuseDuplicate(imageId);
    const blocks: Buffer[] = [];
    let taken = 0;
    const take = (bytes: number) => {
      this.#take(bytes);
      taken += bytes;
    };
    try {
      // A declared size is taken whole before the first byte, so StorageFull comes at once.
      if (size > 0) take(size);
      let block = Buffer.allocUnsafeSlow(size > 0 ? size : BLOCK_SIZE);
      let filled = 0;
      let received = 0;
      for await (const chunk of data) {
        throwIfAborted(signal, 'add');
        if (received + chunk.byteLength > taken) take(received + chunk.byteLength - taken);
        received += chunk.byteLength;
        // Copied: the chunk is the caller's (or lent by the manager) and may be reused.
        let at = 0;
        while (at < chunk.byteLength) {
          if (filled === block.byteLength) {
            blocks.push(block);
            block = Buffer.allocUnsafeSlow(BLOCK_SIZE);
            filled = 0;
          }
          const copied = Math.min(chunk.byteLength - at, block.byteLength - filled);
          block.set(chunk.subarray(at, at + copied), filled);
          filled += copied;
          at += copied;
        }
        release?.(chunk);
      }
      throwIfAborted(signal, 'add');
      if (filled > 0) blocks.push(block.subarray(0, filled));
      // The image appears whole or not at all, and only once the data has ended.
      this.#refuseDuplicate(imageId);
      this.#give(taken - received); // a direct caller may send less than it declared
      this.#images.set(imageId, { blocks, size: received });
      taken = 0; // now the image's
      return { location: formatLocation(this.#backendId, imageId), size: received };
    } finally {
      this.#give(taken);
    }
  }

  async get(location: MemoryLocation, request: DriverGetRequest): Promise<DriverGetResult> {
    // Opening takes a turn of the event loop, as a backend's I/O does, so a signal
    // that fires meanwhile fails the get itself there as here.
    await new Promise<void>((resolve) => setImmediate(resolve));
    throwIfAborted(request.signal, 'get');
    const image = this.#image(location);
    const start = Math.min(request.offset, image.size);
    const end =
      request.chunkSize === undefined
        ? image.size
        : Math.min(image.size, start + request.chunkSize);
    return { stream: Readable.from(readRange(image, start, end, request)), size: end - start };
  }

  async getSize(location: MemoryLocation, request: DriverRequest): Promise<number> {
    throwIfAborted(request.signal, 'getSize');
    return this.#image(location).size;
  }

  async delete(location: MemoryLocation, request: DriverRequest): Promise<void> {
    throwIfAborted(request.signal, 'delete');
    const image = this.#image(location);
    this.#images.delete(location.imageId);
    this.#give(image.size);
  }

  async close(): Promise<void> {
    this.#images.clear();
    this.#bytesTaken = 0;
  }

  #image(location: MemoryLocation): StoredImage {
    const image = location.backendId === this.#backendId && this.#images.get(location.imageId);
    if (!image)
      throw new NotFound(
        `Image ${quoteImageId(location.imageId)} not found in memory backend '${this.#backendId}'`,
      );
    return image;
  }

  #refuseDuplicate(imageId: string): void {
    if (this.#images.has(imageId))
      throw new Duplicate(
        `Image ${quoteImageId(imageId)} already exists in memory backend '${this.#backendId}'`,
      );
  }

  #take(bytes: number): void {
    if (this.#maxBytes > 0 && this.#bytesTaken + bytes > this.#maxBytes)
      throw new StorageFull(
        `Memory backend '${this.#backendId}' is full: memory_store_max_bytes is ${this.#maxBytes}, ` +
          `${this.#bytesTaken} bytes are taken and ${bytes} more were needed`,
      );
    this.#bytesTaken += bytes;
  }

  #give(bytes: number): void {
    this.#bytesTaken -= bytes;
  }
}

/**
 * Bytes `start` to `end` of `image`, copied into buffers from `request.allocate`
 * (never the stored blocks themselves: a caller may write into what it reads).
 */
async function* readRange(
  image: StoredImage,
  start: number,
  end: number,
  request: DriverGetRequest,
): AsyncGenerator<Buffer> {
  let blockStart = 0;
  for (const block of image.blocks) {
    const blockEnd = blockStart + block.byteLength;
    let at = Math.max(start, blockStart);
    while (at < Math.min(end, blockEnd)) {
      throwIfAborted(request.signal, 'get');
      // The allocator may give less than asked for: copy what fits, ask again for the rest.
      const buffer = request.allocate(Math.min(BLOCK_SIZE, Math.min(end, blockEnd) - at));
      const length = Math.min(buffer.byteLength, Math.min(end, blockEnd) - at);
      buffer.set(block.subarray(at - blockStart, at - blockStart + length));
      at += length;
      yield length === buffer.byteLength ? buffer : buffer.subarray(0, length);
    }
    blockStart = blockEnd;
    if (blockStart >= end) return;
  }
}

/**
 * The memory driver's definition: register it with
 * `MultiStore.create(config, { drivers: [memoryDriver] })` and name backends of
 * type `memory` (`enabled_backends = fast:memory`). Option
 * `memory_store_max_bytes` bounds what a backend holds, so tests can meet StorageFull.
 */
export const memoryDriver = defineDriver({
  type: 'memory',
  schemes: [SCHEME],
  capabilities: Capability.RW_RANDOM | Capability.DRIVER_REUSABLE,
  description: 'Images in process memory, for tests; nothing is kept after the process ends',
  options: [
    {
      name: 'memory_store_max_bytes',
      type: 'int',
      min: 0,
      default: 0,
      help:
        'Most bytes the backend holds, adds in progress included; an add past it fails ' +
        'with StorageFull. 0 means no limit.',
    },
  ],
  create: (context: DriverContext) =>
    new MemoryDriver({
      backendId: context.backendId,
      maxBytes: Number(context.options.memory_store_max_bytes ?? 0),
    }),
});
