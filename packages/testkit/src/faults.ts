/**
 * Fault injection for tests against a private server: an add whose source kills
 * the server part-way, so a test can check how the add fails and what is left.
 */
import type { MultiStore } from '@store/core';
import { patternBytes } from './data.js';

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
}

/** How the add ended. */
export interface KilledAdd {
  /** What the add rejected with (undefined if it succeeded). */
  readonly failure: unknown;
  /** Milliseconds from the kill to the add's end. */
  readonly failedAfterMs: number;
}

/**
 * Adds `imageId` from a source of 1 MiB pattern chunks that kills the server
 * once `killAtBytes` are sent, and reports how the add ended and how soon after
 * the kill.
 */
export async function addKillingServer(
  store: MultiStore,
  options: KillingAddOptions,
): Promise<KilledAdd> {
  const { imageId, totalBytes, killAtBytes, kill } = options;
  let killedAt = 0;
  const killing: Promise<void>[] = [];
  async function* source() {
    for (let sent = 0; sent < totalBytes; sent += MiB) {
      if (sent === killAtBytes) {
        killedAt = Date.now();
        killing.push(kill());
      }
      yield patternBytes(MiB, sent / MiB);
    }
  }
  const failure = await store.add(imageId, source(), totalBytes).then(
    () => undefined,
    (err: unknown) => err,
  );
  const failedAfterMs = Date.now() - killedAt;
  await Promise.all(killing);
  return { failure, failedAfterMs };
}
