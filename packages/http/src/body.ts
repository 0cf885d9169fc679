/**
 * Streaming a response body to the reader: pulled on demand (the socket pauses
 * while the reader does), with a skipped prefix and a length limit for range
 * reads from servers that ignore Range, an idle timeout while the reader waits,
 * and an error (never a short image) when the connection ends early.
 */
import type { IncomingMessage } from 'node:http';
import { BackendException, RemoteServiceUnavailable } from '@store/core';
import type { ServerDeadline } from './deadline.js';
import { timeoutError, toStoreError } from './errors.js';

/** Which part of the body the reader gets. */
export interface BodyPlan {
  /** Bytes to drop from the start (the offset, when the server sent everything). */
  readonly skip: number;
  /** Most bytes to deliver after the skipped prefix; undefined = to the end. */
  readonly limit?: number;
  /** The server promised `limit` bytes (a 206 answer): fewer is an error. */
  readonly exact?: boolean;
}

/** Context for messages and timeouts. */
export interface BodyContext {
  /** The URL, credentials masked. */
  readonly shown: string;
  readonly readTimeoutMs: number;
  /** The read's total time limit, shared with the request that gave the response. */
  readonly deadline: ServerDeadline;
  readonly signal: AbortSignal;
}

/**
 * The Content-Length of `response`, or undefined when absent or not a number.
 * @throws BackendException for a length above Number.MAX_SAFE_INTEGER, which a
 * number cannot hold exactly (`shown` names the URL).
 */
export function contentLength(response: IncomingMessage, shown: string): number | undefined {
  const raw = response.headers['content-length'];
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  const length = Number(raw);
  if (!Number.isSafeInteger(length)) {
    throw new BackendException(
      `${shown} sent Content-Length ${raw.slice(0, 40)}, larger than a size can be (Number.MAX_SAFE_INTEGER, ${Number.MAX_SAFE_INTEGER} bytes)`,
    );
  }
  return length;
}

async function* chunksOf(
  response: IncomingMessage,
  plan: BodyPlan,
  context: BodyContext,
): AsyncGenerator<Uint8Array> {
  const expected = contentLength(response, context.shown);
  const iterator = response[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let received = 0;
  let delivered = 0;
  let skip = plan.skip;
  try {
    while (plan.limit === undefined || delivered < plan.limit) {
      // The idle timer runs only while the reader waits for us, so a slow reader
      // (backpressure) never trips it.
      const timer = setTimeout(
        () =>
          response.destroy(
            timeoutError(`Reading the body of ${context.shown}`, context.readTimeoutMs / 1000),
          ),
        context.readTimeoutMs,
      );
      let step: IteratorResult<Buffer>;
      try {
        step = await context.deadline.during(
          iterator.next(),
          `Reading the body of ${context.shown}`,
          (err) => response.destroy(err),
        );
      } catch (err) {
        throw toStoreError(err, context);
      } finally {
        clearTimeout(timer);
      }
      if (step.done) break;
      let chunk: Buffer = step.value;
      received += chunk.byteLength;
      if (skip > 0) {
        if (chunk.byteLength <= skip) {
          skip -= chunk.byteLength;
          continue;
        }
        chunk = chunk.subarray(skip);
        skip = 0;
      }
      if (plan.limit !== undefined && delivered + chunk.byteLength > plan.limit)
        chunk = chunk.subarray(0, plan.limit - delivered);
      delivered += chunk.byteLength;
      yield chunk;
    }
    if (plan.limit !== undefined && delivered >= plan.limit) return;
    const promised = plan.exact ? plan.skip + (plan.limit ?? 0) : expected;
    if ((promised !== undefined && received < promised) || !response.complete) {
      throw new RemoteServiceUnavailable(
        `The connection to ${context.shown} ended after ${received}${promised === undefined ? '' : ` of ${promised}`} bytes of the body`,
      );
    }
  } finally {
    // An unfinished body cannot go back to the pool: drop the connection.
    if (!response.complete) response.destroy();
  }
}

/**
 * The body of `response` as a read for the manager: its chunks, pulled on
 * demand, and the door that closes an unfinished response, even one whose
 * chunks were never asked for.
 */
export function bodyRead(
  response: IncomingMessage,
  plan: BodyPlan,
  context: BodyContext,
): { stream: AsyncGenerator<Uint8Array>; close: () => void } {
  return {
    stream: chunksOf(response, plan, context),
    close: () => {
      if (!response.complete) response.destroy();
    },
  };
}
