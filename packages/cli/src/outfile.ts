/**
 * Writing image bytes out: to a file atomically (a hidden temporary file beside
 * it, renamed into place only once complete, removed on any failure or
 * interrupt) or to stdout as a stream.
 */
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { type Readable, Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '@store/core';
import { partialPath, sweepPartials } from '@store/file';
import { isBrokenPipe, ReaderGone } from './broken-pipe.js';

/** A pass-through that keeps the running byte count and reports it on each chunk. */
class Counter extends Transform {
  bytes = 0;
  constructor(private readonly onBytes: (bytes: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
    this.bytes += chunk.byteLength;
    this.onBytes(this.bytes);
    callback(null, chunk);
  }
}

/**
 * A temporary file beside `path` older than this, whose writer is gone, was
 * left by a `store get --out` that was killed outright: the next write to
 * `path` removes it (as the file driver sweeps its data directories).
 */
const STALE_PARTIAL_MS = 60 * 60 * 1000;

/** Prefix of the temporary names `path` is written under until it is complete. */
function partialPrefix(path: string): string {
  return `.${basename(path)}.store-partial-`;
}

/**
 * Streams `source` into the file `path`, replacing it only once every byte is
 * written; on failure or abort no file, partial or temporary, is left. First
 * removes the stale temporary files of `path` a killed run left (older than an
 * hour, writer not alive).
 * @returns the bytes written.
 */
export async function writeFileAtomically(
  path: string,
  source: Readable,
  signal: AbortSignal,
  onBytes: (bytes: number) => void,
  logger?: Logger,
): Promise<number> {
  const directory = dirname(path);
  const prefix = partialPrefix(path);
  await sweepPartials({
    directory,
    prefix,
    maxAgeMs: STALE_PARTIAL_MS,
    ...(logger ? { logger } : {}),
  });
  const temporary = partialPath(directory, prefix);
  const counted = new Counter(onBytes);
  try {
    await pipeline(source, counted, createWriteStream(temporary, { flags: 'wx' }), { signal });
    await rename(temporary, path);
    return counted.bytes;
  } catch (err) {
    await unlink(temporary).catch(() => undefined);
    throw err;
  }
}

/**
 * Streams `source` to `out` (stdout) with backpressure, leaving `out` open.
 * @throws ReaderGone when `out`'s reader closed it (EPIPE); `source` is destroyed.
 */
export async function writeToStream(
  out: Writable,
  source: Readable,
  signal: AbortSignal,
  onBytes: (bytes: number) => void,
): Promise<number> {
  const counted = new Counter(onBytes);
  let outError: unknown;
  const onOutError = (err: unknown) => {
    outError ??= err;
  };
  out.on('error', onOutError);
  try {
    await pipeline(source, counted, out, { signal, end: false });
  } catch (err) {
    if (isBrokenPipe(outError ?? err)) {
      // Nobody reads any more: later errors of the dead pipe have nowhere to go.
      out.on('error', () => undefined);
      throw new ReaderGone({ cause: outError ?? err });
    }
    throw err;
  } finally {
    out.off('error', onOutError);
  }
  return counted.bytes;
}
