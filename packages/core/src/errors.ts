/**
 * Typed errors mirroring glance_store's exceptions. Every error carries a stable
 * `code` (the glance_store exception name) that callers and the CLI can match on.
 */

/**
 * The brand every core error class puts on its prototype: the codes of the class
 * and its ancestors, base first. It is a registered symbol, so every copy of core in
 * a process (the ESM and CommonJS builds, a driver's own install) reads the same
 * brand and `instanceof` does not depend on which copy made an error.
 */
const ERROR_BRAND = Symbol.for('@store/core.error');

type Branded = { readonly [ERROR_BRAND]?: unknown };

/** The codes listed by `value`'s brand, or undefined when it carries none. */
function brandOf(value: unknown): readonly string[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const brand = (value as Branded)[ERROR_BRAND];
  return Array.isArray(brand) && brand.every((c) => typeof c === 'string') ? brand : undefined;
}

/** Marks the classes made by defineError, whose one named subclass is the exported class. */
const ERROR_BASE = Symbol('store error base');

function brandClass(cls: abstract new (...args: never[]) => unknown, chain: readonly string[]) {
  Object.defineProperty(cls.prototype, ERROR_BRAND, { value: Object.freeze([...chain]) });
}

/**
 * The code a core class stands for: its own brand's last code, or its base's when it
 * is the exported class over a defineError base. An app's subclass has none.
 */
function classCode(cls: unknown): string | undefined {
  if (typeof cls !== 'function') return undefined;
  if (Object.hasOwn(cls.prototype, ERROR_BRAND)) return brandOf(cls.prototype)?.at(-1);
  const base = Object.getPrototypeOf(cls) as unknown;
  return typeof base === 'function' && Object.hasOwn(base, ERROR_BASE)
    ? classCode(base)
    : undefined;
}

/**
 * Every error code: glance_store's exception names. A union of string literals, so a
 * comparison with a misspelt code does not compile, and `err.code === 'NotFound'` narrows.
 */
export type StoreErrorCode =
  | 'GlanceStoreException'
  | 'BackendException'
  | 'UnsupportedBackend'
  | 'NotFound'
  | 'UnknownHashingAlgo'
  | 'UnknownScheme'
  | 'BadStoreUri'
  | 'Duplicate'
  | 'StorageFull'
  | 'StorageWriteDenied'
  | 'Forbidden'
  | 'Invalid'
  | 'BadStoreConfiguration'
  | 'DriverLoadFailure'
  | 'StoreDeleteNotSupported'
  | 'StoreGetNotSupported'
  | 'StoreRandomGetNotSupported'
  | 'StoreAddDisabled'
  | 'MaxRedirectsExceeded'
  | 'RemoteServiceUnavailable'
  | 'HasSnapshot'
  | 'InUseByStore'
  | 'MissingCredentialError'
  | 'AuthorizationFailure'
  | 'ImageSizeMismatch'
  | 'ImageSizeLimitExceeded'
  | 'OperationAborted'
  | 'ChecksumMismatch';

/** Base class of every error @store raises on purpose. */
export class StoreError extends Error {
  /** Stable machine-readable code, equal to the glance_store exception name. */
  readonly code: StoreErrorCode = 'GlanceStoreException';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }

  /**
   * `err instanceof NotFound` holds for a NotFound made by any copy of core (ESM or
   * CommonJS build, another install): a core class matches the errors whose brand
   * lists its code. Classes defined outside core keep plain prototype checks.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of instanceof
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of instanceof
    const code = classCode(this);
    return code !== undefined && !!brandOf(value)?.includes(code);
  }
}
brandClass(StoreError, ['GlanceStoreException']);

/** A class for `code`, under `parent` as in glance_store's exception tree. */
function defineError<C extends StoreErrorCode>(code: C, parent: typeof StoreError = StoreError) {
  const cls = class extends parent {
    override readonly code: C = code;
  };
  Object.defineProperty(cls, 'name', { value: code });
  Object.defineProperty(cls, ERROR_BASE, { value: true });
  brandClass(cls, [...brandOf(parent.prototype)!, code]);
  return cls;
}

/** A generic failure inside a backend. */
export class BackendException extends defineError('BackendException') {}
/** The configuration names a backend type with no driver. */
export class UnsupportedBackend extends defineError('UnsupportedBackend') {}
/** The image (or backend object) does not exist. */
export class NotFound extends defineError('NotFound') {}
/** The hashing algorithm asked for is not offered by this Node.js build. */
export class UnknownHashingAlgo extends defineError('UnknownHashingAlgo') {}
/** No backend is registered for the URI scheme or backend id. */
export class UnknownScheme extends defineError('UnknownScheme') {}
/** A location URI could not be parsed. */
export class BadStoreUri extends defineError('BadStoreUri') {}
/** An image with the same id already exists in the backend. */
export class Duplicate extends defineError('Duplicate') {}
/** The backend has no room left for the image. */
export class StorageFull extends defineError('StorageFull') {}
/** The backend refused the write for lack of permission. */
export class StorageWriteDenied extends defineError('StorageWriteDenied') {}
/** The remote service refused the request (401/403 or equivalent). */
export class Forbidden extends defineError('Forbidden') {}
/** The request was invalid for this backend. */
export class Invalid extends defineError('Invalid') {}
/** A backend's configuration is missing, of the wrong type or out of range. */
export class BadStoreConfiguration extends defineError('BadStoreConfiguration') {}
/** A driver package could not be loaded; its backends are disabled. */
export class DriverLoadFailure extends defineError('DriverLoadFailure') {}
/** The backend cannot delete (it lacks WRITE_ACCESS). */
export class StoreDeleteNotSupported extends defineError('StoreDeleteNotSupported') {}
/** The backend cannot read (it lacks READ_ACCESS). */
export class StoreGetNotSupported extends defineError('StoreGetNotSupported') {}
/** The backend cannot read from an offset or a bounded chunk (a StoreGetNotSupported, as in glance_store). */
export class StoreRandomGetNotSupported extends defineError(
  'StoreRandomGetNotSupported',
  StoreGetNotSupported,
) {}
/** The backend cannot write (it lacks WRITE_ACCESS). */
export class StoreAddDisabled extends defineError('StoreAddDisabled') {}
/** A redirect chain was longer than the driver allows. */
export class MaxRedirectsExceeded extends defineError('MaxRedirectsExceeded') {}
/** The remote service did not answer, or answered with a server error, after retries. */
export class RemoteServiceUnavailable extends defineError('RemoteServiceUnavailable') {}
/** The image has snapshots that prevent the operation. */
export class HasSnapshot extends defineError('HasSnapshot') {}
/** The image is in use (clones, watchers) and was left intact. */
export class InUseByStore extends defineError('InUseByStore') {}
/** Credentials needed by the backend are missing. */
export class MissingCredentialError extends defineError('MissingCredentialError') {}
/** The authentication failed. */
export class AuthorizationFailure extends defineError('AuthorizationFailure') {}
/** Data shorter or longer than the declared size (not in glance_store, which trusts the caller). */
export class ImageSizeMismatch extends defineError('ImageSizeMismatch') {}
/** Data larger than the configured image size cap. */
export class ImageSizeLimitExceeded extends defineError('ImageSizeLimitExceeded') {}
/** The operation was aborted through its AbortSignal. */
export class OperationAborted extends defineError('OperationAborted') {}
/** Data read back did not match the multihash recorded for it. */
export class ChecksumMismatch extends defineError('ChecksumMismatch') {}

/** True when `err` is a {@link StoreError} with the given code. */
export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}

/** Builds the error to throw when `signal` has fired, keeping its reason as the cause. */
export function abortError(signal: AbortSignal | undefined, what = 'operation'): OperationAborted {
  return new OperationAborted(`The ${what} was aborted`, { cause: signal?.reason });
}

/** Throws {@link OperationAborted} if `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what?: string): void {
  if (signal?.aborted) throw abortError(signal, what);
}
