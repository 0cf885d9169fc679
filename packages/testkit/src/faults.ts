/**
 * Fault injection for tests against a private server: an add whose source kills
 * the server part-way, so a test can check how the add fails and what is left.
 */
import type { MultiStore } from '@store/core';
import { patternBytes } from './data.js';
import { countRequests } from './requests.js';

const MiB = 1024 * 1024;

/** What {@link addKillingServer} does. */
export interface KillingAddOptions {
  readonly imageId: string;
  /** Bytes the source offers in all (whole MiB). */
  readonly totalBytes: number;
  /** The source calls `kill` before sending the MiB that starts here. */
  readonly killAtBytes: number;
  /** Stops the server (e.g. SIGKILL); awaited before this returns. */
  readonly kill: () => Promise<void>;
  /**
   * The server's port (on 127.0.0.1), for an HTTP server: the requests the add
   * sends it from the kill on are counted ({@link KilledAdd.requestsAfterKill}).
   */
  readonly port?: number;
}

/** How the add ended. */
export interface KilledAdd {
  /** What the add rejected with (undefined if it succeeded). */
  readonly failure: unknown;
  /** Milliseconds from the kill to the add's end: for the log, never an assertion. */
  readonly failedAfterMs: number;
  /**
   * Requests sent to the server from the kill to the add's end, each try of a
   * retried one included (with `port`; 0 without): bounded by the driver's
   * requests in flight × its configured tries, when its retries are bounded.
   */
  readonly requestsAfterKill: number;
}

/**
 * Adds `imageId` from a source of 1 MiB pattern chunks that kills the server
 * once `killAtBytes` are sent, and reports how the add ended, how many requests
 * it sent the dead server, and how soon after the kill.
 */
export async function addKillingServer(
  store: MultiStore,
  options: KillingAddOptions,
): Promise<KilledAdd> {
  const { imageId, totalBytes, killAtBytes, kill, port } = options;
  const requests = port === undefined ? undefined : countRequests({ port });
  let killedAt = 0;
  let requestsAtKill = 0;
  const killing: Promise<void>[] = [];
  async function* source() {
    for (let sent = 0; sent < totalBytes; sent += MiB) {
      if (sent === killAtBytes) {
        killedAt = Date.now();
        requestsAtKill = requests?.count ?? 0;
        killing.push(kill());
      }
      yield patternBytes(MiB, sent / MiB);
    }
  }
  const failure = await store
    .add(imageId, source(), totalBytes)
    .then(
      () => undefined,
      (err: unknown) => err,
    )
    .finally(() => requests?.close());
  const failedAfterMs = Date.now() - killedAt;
  const requestsAfterKill = (requests?.count ?? 0) - requestsAtKill;
  await Promise.all(killing);
  return { failure, failedAfterMs, requestsAfterKill };
}

/**
 * The error `promise` rejects with, for a test to assert on its code and
 * message; throws when the promise fulfils instead.
 */
export async function failure(promise: Promise<unknown>): Promise<Error & { code: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code: string };
  }
  throw new Error('expected the call to fail, but it succeeded');
}
