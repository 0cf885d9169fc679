/**
 * The manager's side of orphans (what a backend holds that no add completed,
 * see {@link Orphan}): one backend's listing and removal through its driver's
 * optional pair, with the manager's argument checks, driver lease and error
 * typing. `store gc` is built on it.
 */
import { type Backend, leaseDriver } from './backends.js';
import type { Orphan } from './driver.js';
import { Invalid, type StoreError } from './errors.js';

/** Options of MultiStore's `orphans`. */
export interface OrphanOptions {
  /** Only orphans at least this many milliseconds old (see ListOrphansRequest); default 0, all. */
  readonly olderThan?: number;
  readonly signal?: AbortSignal;
}

/** Turns any failure into the manager's redacted StoreError. */
type Normalize = (err: unknown) => StoreError;

/** True when the backend's driver can list its orphans. */
export function collectsOrphans(backend: Backend): boolean {
  return typeof backend.driver.listOrphans === 'function';
}

/** The backend's orphans (none when its driver cannot tell). */
export async function* backendOrphans(
  backend: Backend,
  options: OrphanOptions,
  signal: AbortSignal,
  normalize: Normalize,
): AsyncGenerator<Orphan> {
  const olderThan = options.olderThan ?? 0;
  if (typeof olderThan !== 'number' || !Number.isFinite(olderThan) || olderThan < 0)
    throw new Invalid(
      `olderThan must be a number of milliseconds, 0 or more: ${String(olderThan)}`,
    );
  if (!collectsOrphans(backend)) return;
  let lease: Awaited<ReturnType<typeof leaseDriver>> | undefined;
  try {
    lease = await leaseDriver(backend);
    const listing = lease.driver.listOrphans?.({ olderThan, signal });
    if (!listing) return;
    for await (const orphan of listing) yield orphan;
  } catch (err) {
    throw normalize(err);
  } finally {
    await lease?.release?.();
  }
}

/** Removes one orphan of the backend's that {@link backendOrphans} yielded. */
export async function removeBackendOrphan(
  backend: Backend,
  orphan: Orphan,
  request: { signal: AbortSignal; context?: unknown },
  normalize: Normalize,
): Promise<void> {
  if (!orphan || typeof orphan.kind !== 'string' || typeof orphan.id !== 'string')
    throw new Invalid('removeOrphan needs an orphan that orphans() yielded');
  let lease: Awaited<ReturnType<typeof leaseDriver>> | undefined;
  try {
    lease = await leaseDriver(backend);
    if (!lease.driver.removeOrphan)
      throw new Invalid(
        `Backend '${backend.id}' has no orphans to remove: its driver cannot list them`,
      );
    await lease.driver.removeOrphan(orphan, request);
  } catch (err) {
    throw normalize(err);
  } finally {
    await lease?.release?.();
  }
}
