/**
 * Reading objects: ranged GETs of `window` bytes each, with up to `depth` of them
 * open at once and read in order. The requests ahead are paused by TCP flow
 * control, so they cost no memory here, but radosgw (or S3) has their data ready
 * when the reader gets to them: one stream per window is what lets a single get
 * go as fast as `aws s3 cp`'s parallel ranged downloads.
 */
import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BackendException } from '@store/core';
import { linkedController } from './abort.js';
import { s3Status } from './errors.js';
import { IF_FREE, type SocketBudget, SocketBusy } from './sockets.js';

/** What and how to read. */
export interface ReadRequest {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** First byte. */
  readonly offset: number;
  /** Bytes wanted from `offset`; undefined = to the end. */
  readonly length: number | undefined;
  /** Bytes per ranged GET. */
  readonly window: number;
  /** Ranged GETs open at once. */
  readonly depth: number;
  /** The socket budget of the client's pool. */
  readonly budget: SocketBudget;
  readonly signal: AbortSignal;
}

/** An opened read: its size and its bytes, pulled on demand. */
export interface OpenedRead {
  readonly size: number;
  readonly chunks: AsyncGenerator<Uint8Array>;
  /** Frees every socket the read holds; for a stream given up before or while read. */
  readonly close: () => void;
}

/** The object's total size from a `Content-Range: bytes a-b/total` header. */
function totalFrom(contentRange: string | undefined): number | undefined {
  const match = /\/(\d+)\s*$/.exec(contentRange ?? '');
  return match ? Number(match[1]) : undefined;
}

/**
 * Opens a read with its first ranged GET (which also tells the object's size and
 * ETag); later windows are fetched with `If-Match` on that ETag, so an object
 * replaced mid-read fails the read instead of mixing two versions.
 * @returns undefined when the range starts at or past the end (HTTP 416).
 */
export async function openRead(request: ReadRequest): Promise<OpenedRead | undefined> {
  const { client, bucket, key, offset, window, budget, signal } = request;
  const wantedEnd =
    request.length === undefined ? Number.POSITIVE_INFINITY : offset + request.length;
  const firstEnd = Math.min(wantedEnd, offset + window);
  let first: Awaited<ReturnType<typeof getRange>>;
  try {
    first = await getRange(client, bucket, key, offset, firstEnd, undefined, signal);
  } catch (err) {
    if (s3Status(err) === 416) return undefined;
    throw err;
  }
  const total = totalFrom(first.ContentRange);
  if (total === undefined) {
    // The server ignored the Range header and sent the whole object.
    first.body.destroy();
    throw new BackendException(`The S3 server ignored the Range header of a read of ${key}`);
  }
  const stop = Math.min(wantedEnd, total);
  const etag = first.ETag;
  const depth = Math.max(1, request.depth);

  const { controller, unlink } = linkedController(signal);
  /** Windows requested ahead of the one being read, in order. */
  const ahead: { from: number; body: Promise<Readable> }[] = [];
  let next = firstEnd;
  let closed = false;
  const open = (ifFree: boolean) => {
    const from = next;
    next = Math.min(stop, from + window);
    const body = getRange(client, bucket, key, from, next, etag, controller.signal, ifFree).then(
      (response) => response.body,
    );
    body.catch(() => {}); // Awaited in turn; a failure surfaces there.
    ahead.push({ from, body });
  };
  /** Drops the windows ahead: their bodies are destroyed, which frees their sockets. */
  const dropAhead = () => {
    for (const { body } of ahead.splice(0))
      body.then(
        (b) => b.destroy(),
        () => {},
      );
  };
  // Also called when the stream is destroyed before its first chunk was asked for: a
  // generator never started never runs its `finally`, and the first body would keep
  // its socket (and its token) until the socket timeout.
  const close = () => {
    if (closed) return;
    closed = true;
    controller.abort();
    unlink();
    first.body.destroy();
    dropAhead();
  };

  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      let body: Readable | undefined = first.body;
      while (body) {
        // Read-ahead only with sockets free now: a read never holds a socket while it
        // waits for another, so concurrent reads cannot starve one another for good.
        while (ahead.length < depth - 1 && next < stop && budget.free > 0) open(true);
        // One chunk at a time: each socket is read only as fast as the caller reads.
        for await (const chunk of body) yield chunk as Uint8Array;
        // This window's socket is free again; the next one may wait for its turn.
        if (ahead.length === 0 && next < stop) open(false);
        const window = ahead.shift();
        body = undefined;
        if (!window) break;
        try {
          body = await window.body;
        } catch (err) {
          if (!(err instanceof SocketBusy)) throw err;
          // No socket was free when it was asked for ahead: ask again from this window
          // on, waiting this time, holding none.
          dropAhead();
          next = window.from;
          open(false);
          body = await (ahead.shift() as (typeof ahead)[number]).body;
        }
      }
    } finally {
      close();
    }
  }
  return { size: Math.max(0, stop - offset), chunks: chunks(), close };
}

/** One ranged GET of bytes [from, to). */
async function getRange(
  client: S3Client,
  bucket: string,
  key: string,
  from: number,
  to: number,
  ifMatch: string | undefined,
  signal: AbortSignal,
  ifFree = false,
) {
  const last = Number.isFinite(to) ? `${to - 1}` : '';
  const options: { abortSignal: AbortSignal; [IF_FREE]?: boolean } = { abortSignal: signal };
  if (ifFree) options[IF_FREE] = true;
  const response = await client.send(
    new GetObjectCommand({
      Bucket: bucket,
      Key: key,
      Range: `bytes=${from}-${last}`,
      ...(ifMatch ? { IfMatch: ifMatch } : {}),
    }),
    options,
  );
  const body = response.Body as Readable | undefined;
  if (!body) throw new BackendException(`The S3 server sent no body for a read of ${key}`);
  return { body, ContentRange: response.ContentRange, ETag: response.ETag };
}
