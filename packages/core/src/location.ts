/**
 * Locations: the URI a driver returns from add and parses back on get, and the
 * per-manager registry from URI scheme to the backends that handle it.
 */
import { BadStoreUri, UnknownScheme } from './errors.js';

/**
 * A parsed location. Drivers extend it with their own fields (bucket, pool, …);
 * `uri` is the canonical string form, stable under parse → format → parse.
 */
export interface StoreLocation {
  /** The URI scheme, lower-case, e.g. `file`, `rbd`, `s3+https`. */
  readonly scheme: string;
  /** The full location URI, exactly as stored in a Glance database. */
  readonly uri: string;
}

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;

/**
 * The longest location URI accepted, in UTF-16 code units: 16 KiB. glance_store's
 * locations are short (Glance's API caps a location URL at 255 characters); this
 * bound leaves room for a PATH_MAX file path percent-encoded in full (3 × 4,096)
 * and keeps every parser and masker that looks at a location cheap.
 */
export const MAX_LOCATION_LENGTH = 16 * 1024;

/**
 * The lower-cased scheme of `uri`.
 * @throws BadStoreUri when `uri` has no scheme or is longer than
 * {@link MAX_LOCATION_LENGTH}.
 */
export function schemeOf(uri: string): string {
  if (typeof uri === 'string' && uri.length > MAX_LOCATION_LENGTH)
    throw new BadStoreUri(
      `Location URI is ${uri.length} characters long, over the limit of ${MAX_LOCATION_LENGTH} (MAX_LOCATION_LENGTH)`,
    );
  const match = typeof uri === 'string' ? SCHEME.exec(uri) : null;
  if (!match) throw new BadStoreUri(`Location has no URI scheme: '${String(uri).slice(0, 80)}'`);
  return match[1]!.toLowerCase();
}

/** One backend's entry for a scheme. */
export interface SchemeEntry<B> {
  readonly backendId: string;
  readonly backend: B;
}

/**
 * Scheme → backend id → backend. One per manager instance (glance_store keeps
 * this map in a module global; we don't).
 */
export class LocationRegistry<B> {
  readonly #map = new Map<string, Map<string, B>>();

  /** Registers `backend` under every scheme it handles. */
  register(schemes: readonly string[], backendId: string, backend: B): void {
    for (const raw of schemes) {
      const scheme = raw.toLowerCase();
      const byBackend = this.#map.get(scheme) ?? new Map<string, B>();
      this.#map.set(scheme, byBackend);
      byBackend.set(backendId, backend);
    }
  }

  /** All registered schemes. */
  schemes(): string[] {
    return [...this.#map.keys()];
  }

  /**
   * The backends that handle the scheme of `uri`, in registration order.
   * @throws UnknownScheme when none does.
   */
  backendsFor(uri: string): SchemeEntry<B>[] {
    const scheme = schemeOf(uri);
    const byBackend = this.#map.get(scheme);
    if (!byBackend || byBackend.size === 0) {
      throw new UnknownScheme(`No backend is configured for the '${scheme}' scheme`);
    }
    return [...byBackend].map(([backendId, backend]) => ({ backendId, backend }));
  }

  /**
   * The backend `backendId` if it handles the scheme of `uri`.
   * @throws UnknownScheme when it does not.
   */
  backendFor(uri: string, backendId: string): B {
    const scheme = schemeOf(uri);
    const backend = this.#map.get(scheme)?.get(backendId);
    if (!backend) {
      throw new UnknownScheme(`Backend '${backendId}' does not handle the '${scheme}' scheme`);
    }
    return backend;
  }
}
