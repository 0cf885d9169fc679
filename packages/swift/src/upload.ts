/**
 * Writing an image as glance_store does: one object when its size is known and
 * below swift_store_large_object_size, otherwise segments `<object>-00001`,
 * `<object>-00002`, … of swift_store_large_object_chunk_size each, then a
 * manifest object with `X-Object-Manifest: <container>/<object>-` (a Dynamic
 * Large Object). Every PUT is streamed from the image data with backpressure:
 * memory is one chunk in flight, whatever the segment size.
 *
 * Nothing is left behind by a failed add: Swift completes an object only once
 * its whole body arrived, the last bytes of an image are sent only after the
 * data source has confirmed its end (so a size mismatch never completes an
 * object), and the segments written so far are deleted when anything fails.
 */
import type { Writable } from 'node:stream';
import { ImageSizeMismatch, isStoreError, type Logger } from '@store/core';
import { type Account, type SwiftClient, writeChunk } from './client.js';

/** What {@link uploadImage} needs. */
export interface UploadRequest {
  readonly client: SwiftClient;
  readonly credentials: Account;
  readonly container: string;
  readonly object: string;
  readonly data: AsyncIterable<Uint8Array>;
  /** Declared size; 0 = unknown. */
  readonly size: number;
  /** Images of this many bytes or more (and of unknown size) are segmented. */
  readonly largeObjectSize: number;
  readonly segmentSize: number;
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

/** Segment names as glance_store writes them: `<object>-00001`. */
export function segmentName(object: string, index: number): string {
  return `${object}-${String(index).padStart(5, '0')}`;
}

/** The X-Object-Manifest value of an image's manifest. */
export function manifestPrefix(container: string, object: string): string {
  return `${container}/${object}-`;
}

/** The image data, read in pieces of bounded length with look-ahead of one chunk. */
class Source {
  readonly #iterator: AsyncIterator<Uint8Array>;
  #pending: Uint8Array | undefined;
  #ended = false;

  constructor(data: AsyncIterable<Uint8Array>) {
    this.#iterator = data[Symbol.asyncIterator]();
  }

  /** The next non-empty chunk (or what is left of it), undefined at the end. */
  async peek(): Promise<Uint8Array | undefined> {
    while (!this.#pending && !this.#ended) {
      const next = await this.#iterator.next();
      if (next.done) this.#ended = true;
      else if (next.value.byteLength > 0) this.#pending = next.value;
    }
    return this.#pending;
  }

  /** Consumes `count` bytes of the peeked chunk. */
  consume(count: number): void {
    const pending = this.#pending!;
    this.#pending = count < pending.byteLength ? pending.subarray(count) : undefined;
  }

  /** Stops the data source (a failed add). */
  async cancel(): Promise<void> {
    await this.#iterator.return?.().catch(() => undefined);
  }
}

/**
 * Writes up to `limit` bytes of `source` into `sink`; returns how many. When
 * `final`, the data source must end exactly after them: its end is confirmed
 * before the last chunk is written, so Swift never completes the object when
 * the source fails or holds more.
 */
async function pump(
  source: Source,
  sink: Writable,
  limit: number,
  final: boolean,
  declared: number,
): Promise<number> {
  let sent = 0;
  while (sent < limit) {
    const chunk = await source.peek();
    if (!chunk) break;
    const take = Math.min(chunk.byteLength, limit - sent);
    const piece = chunk.subarray(0, take);
    source.consume(take);
    if (final && sent + take === limit && (await source.peek())) {
      throw new ImageSizeMismatch(`Image data is longer than the ${declared} bytes declared`);
    }
    await writeChunk(sink, piece);
    sent += take;
  }
  return sent;
}

/**
 * Stores the image. Returns the number of bytes stored.
 * @throws the data source's error as it was, or the client's typed error; in
 * both cases after removing every segment (and object) this call wrote.
 */
export async function uploadImage(request: UploadRequest): Promise<number> {
  const { client, credentials, container, object, size, signal } = request;
  const source = new Source(request.data);
  const segmented = size === 0 || size >= request.largeObjectSize;
  const written: string[] = [];
  try {
    if (!segmented) {
      written.push(object);
      await client.putStream(credentials, {
        container,
        object,
        length: size,
        signal,
        action: `adding object '${object}' to container '${container}'`,
        write: async (sink) => {
          const sent = await pump(source, sink, size, true, size);
          if (sent < size)
            throw new ImageSizeMismatch(`Image data is ${sent} bytes, but ${size} were declared`);
        },
      });
      return size;
    }
    let total = 0;
    for (let index = 1; ; index++) {
      const left = size > 0 ? size - total : request.segmentSize;
      if (size > 0 && left === 0) break;
      // No zero-length segment at the end of an image of unknown size (nor for an empty one).
      if (size === 0 && !(await source.peek())) break;
      const limit = Math.min(request.segmentSize, left);
      const final = size > 0 && limit === left;
      const name = segmentName(object, index);
      written.push(name);
      let sent = 0;
      await client.putStream(credentials, {
        container,
        object: name,
        ...(size > 0 ? { length: limit } : {}),
        signal,
        action: `adding segment '${name}' to container '${container}'`,
        write: async (sink) => {
          sent = await pump(source, sink, limit, final, size);
          if (size > 0 && sent < limit) {
            throw new ImageSizeMismatch(
              `Image data is ${total + sent} bytes, but ${size} were declared`,
            );
          }
        },
      });
      total += sent;
      request.logger.debug(`Wrote segment ${name} (${sent} bytes)`);
    }
    written.push(object);
    await client.call(credentials, {
      method: 'PUT',
      container,
      object,
      headers: { 'x-object-manifest': manifestPrefix(container, object) },
      body: new Uint8Array(0),
      signal,
      action: `adding the manifest of '${object}' to container '${container}'`,
    });
    return total;
  } catch (err) {
    await source.cancel();
    await removeWritten(request, written);
    throw err;
  }
}

/** Deletes what a failed add wrote (not under its signal: it may be the abort that failed it). */
async function removeWritten(request: UploadRequest, names: readonly string[]): Promise<void> {
  const { client, credentials, container, logger } = request;
  for (const name of names) {
    try {
      await client.call(credentials, {
        method: 'DELETE',
        container,
        object: name,
        signal: AbortSignal.timeout(60_000),
        action: `removing '${name}' of a failed add from container '${container}'`,
      });
    } catch (err) {
      if (isStoreError(err, 'NotFound')) continue;
      logger.warn(`Could not remove '${name}' of a failed add from container '${container}'`, {
        error: (err as Error).message,
      });
    }
  }
}
