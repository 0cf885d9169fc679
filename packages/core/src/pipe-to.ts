/**
 * Sending a get's bytes to a writable ({@link GetResult.pipeTo}): an HTTP
 * response, a file, standard output. The driver reads into a few buffers that
 * are lent to the writable and reused once the write that carried them has
 * completed (its callback), so a long image costs no fresh memory per chunk and
 * no page faults, without the caller having to know when a chunk may be reused.
 */
import { finished, type Readable, type Writable } from 'node:stream';
import { LentBuffers } from './chunk-buffers.js';
import { Invalid } from './errors.js';

/** Options of {@link GetResult.pipeTo}. */
export interface PipeToOptions {
  /**
   * End the destination after the last byte (default true). False leaves it
   * open, as for standard output; on a failure it is then not destroyed either.
   */
  readonly end?: boolean;
}

/**
 * The largest fresh buffer a get reads into. A consumer that keeps its chunks
 * (plain `for await`, pipeline) needs new memory per chunk, whose page faults
 * cost the same per byte at 256 KiB and at 1 MiB (tools/bench/get-chunks.mjs);
 * 1 MiB reads cross to the thread pool and through the stream a quarter as often.
 */
export const FRESH_READ_BYTES = 1024 * 1024;

/** Writes handed to the destination and not called back yet, at most, whatever it buffers. */
const MAX_WRITES_IN_FLIGHT = 4;

/**
 * The buffers one get lends to the writable of {@link pipeImageTo}. Until
 * `lend()` is called (plain reads of the stream) every chunk is new memory of
 * at most {@link FRESH_READ_BYTES}, owned by whoever receives it.
 */
export function pipeBuffers(): LentBuffers {
  return new LentBuffers({ maxBytes: 16 << 20, freshUntilLent: FRESH_READ_BYTES });
}

/**
 * A writable that hands each chunk on before it is done with the bytes (a
 * Transform: its write completes once the chunk is queued for its reader).
 * Recognised by shape: the app may use another copy of the stream classes.
 */
function passesChunksOn(destination: Writable): boolean {
  return typeof (destination as Partial<{ _transform: unknown }>)._transform === 'function';
}

/**
 * Writes `stream` (a get's stream nobody has read from) to `destination` with
 * backpressure: the stream pauses while the destination asks for a drain or
 * {@link MAX_WRITES_IN_FLIGHT} writes are not called back yet. `lent`'s buffers
 * go back to the get once their write completed. On any failure the stream is
 * destroyed (the source and per-get resources are let go) and, unless `end` is
 * false, so is the destination.
 * @returns the bytes written, once the destination finished (or, with `end`
 * false, once every write was called back).
 */
export function pipeImageTo(
  stream: Readable,
  destination: Writable,
  lent: LentBuffers | undefined,
  options: PipeToOptions = {},
): Promise<number> {
  if (stream.readableDidRead || stream.readableFlowing !== null || stream.destroyed) {
    return Promise.reject(new Invalid('pipeTo needs a get stream nobody has read from'));
  }
  const end = options.end ?? true;
  const lending = lent && !passesChunksOn(destination) ? lent : undefined;
  lending?.lend();
  return new Promise<number>((resolve, reject) => {
    let bytes = 0;
    let inFlight = 0;
    let needsDrain = false;
    let sourceEnded = false;
    let settled = false;

    const settle = (err: unknown) => {
      if (settled) return;
      settled = true;
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onStreamError);
      // A failure still on its way (an abort racing the writable's close) has nowhere to go.
      stream.on('error', () => undefined);
      destination.off('drain', onDrain);
      stopWatching();
      if (err === undefined) return resolve(bytes);
      stream.destroy();
      if (end) destination.destroy();
      reject(err);
    };
    const resumeIfReady = () => {
      if (settled) return;
      if (sourceEnded) {
        if (!end && inFlight === 0) settle(undefined);
        return;
      }
      if (!needsDrain && inFlight < MAX_WRITES_IN_FLIGHT) stream.resume();
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.byteLength;
      inFlight += 1;
      const more = destination.write(chunk, (err) => {
        inFlight -= 1;
        // A failed write may still hold the chunk: its buffer is not reused.
        if (err) return settle(err);
        lending?.giveBack(chunk);
        resumeIfReady();
      });
      if (!more) needsDrain = true;
      if (!more || inFlight >= MAX_WRITES_IN_FLIGHT) stream.pause();
    };
    const onDrain = () => {
      needsDrain = false;
      resumeIfReady();
    };
    const onEnd = () => {
      sourceEnded = true;
      if (end) destination.end();
      else resumeIfReady();
    };
    const onStreamError = (err: Error) => settle(err);
    // The destination's failure or premature close (a client that went away), or its finish.
    const stopWatching = finished(destination, { readable: false }, (err) => {
      if (err) settle(err);
      else if (end) settle(undefined);
    });

    stream.on('error', onStreamError);
    stream.on('end', onEnd);
    destination.on('drain', onDrain);
    stream.on('data', onData);
  });
}
