/**
 * Writing image bytes out: to a file atomically (a hidden temporary file beside
 * it, renamed into place only once complete, removed on any failure or
 * interrupt) or to stdout as a stream. The bytes come through a get's pipeTo,
 * which reuses its buffers once each write completed.
 */
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { finished, Writable } from 'node:stream';
import type { GetResult, Logger } from '@store/core';
import { partialPath, sweepPartials } from '@store/file';
import { isBrokenPipe, ReaderGone } from './broken-pipe.js';

/** Where the bytes come from: a get's {@link GetResult.pipeTo}. */
export type SendBytes = GetResult['pipeTo'];

/**
 * A writable in front of `out` that reports the running byte count. Each write
 * completes only once `out`'s did, so a buffer pipeTo lends is reused only when
 * `out` is done with it. Ending it ends `out` and waits until `out` closed,
 * unless `endOut` is false (stdout stays open).
 */
class Counter extends Writable {
  bytes = 0;
  constructor(
    private readonly out: Writable,
    private readonly onBytes: (bytes: number) => void,
    private readonly endOut: boolean,
  ) {
    super();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error) => void) {
    this.out.write(chunk, (err) => {
      if (err) return callback(err);
      this.bytes += chunk.byteLength;
      this.onBytes(this.bytes);
      callback();
    });
  }
  override _final(callback: (err?: Error | null) => void) {
    if (!this.endOut) return callback();
    finished(this.out, (err) => callback(err));
    this.out.end();
  }
  override _destroy(err: Error | null, callback: (err?: Error | null) => void) {
    if (this.endOut) this.out.destroy();
    callback(err);
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
 * Sends the bytes into the file `path`, replacing it only once every byte is
 * written; on failure or abort (the get's signal) no file, partial or temporary, is left. First
 * removes the stale temporary files of `path` a killed run left (older than an
 * hour, writer not alive).
 * @returns the bytes written.
 */
export async function writeFileAtomically(
  path: string,
  send: SendBytes,
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
  try {
    const counted = new Counter(createWriteStream(temporary, { flags: 'wx' }), onBytes, true);
    const bytes = await send(counted);
    await rename(temporary, path);
    return bytes;
  } catch (err) {
    await unlink(temporary).catch(() => undefined);
    throw err;
  }
}

/**
 * Sends the bytes to `out` (stdout) with backpressure, leaving `out` open.
 * @throws ReaderGone when `out`'s reader closed it (EPIPE); the get's source is let go.
 */
export async function writeToStream(
  out: Writable,
  send: SendBytes,
  onBytes: (bytes: number) => void,
): Promise<number> {
  const counted = new Counter(out, onBytes, false);
  // Its failure is `out`'s, handled below; a late one has nowhere else to go.
  counted.on('error', () => undefined);
  let outError: unknown;
  const onOutError = (err: unknown) => {
    outError ??= err;
  };
  out.on('error', onOutError);
  try {
    await send(counted, { end: false });
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
