/**
 * Mapping of Swift answers and transport failures to @store/core's typed
 * errors. Messages name the action and the HTTP status, never a token, key or
 * user; the cause is a plain error with the service's first line, redacted.
 */
import {
  abortError,
  BackendException,
  Duplicate,
  Forbidden,
  Invalid,
  NotFound,
  RemoteServiceUnavailable,
  StorageFull,
  StoreError,
} from '@store/core';

/** A Swift answer that was not a success; its body's start is kept for the message. */
export class SwiftStatusError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(`HTTP ${status}${detail ? `: ${detail}` : ''}`);
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
]);
const TLS_CODE = /^(CERT_|ERR_TLS_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_)/;

/** The HTTP status of a failure, if Swift answered. */
export function statusOf(err: unknown): number | undefined {
  return err instanceof SwiftStatusError ? err.status : undefined;
}

/** What a failure was about, for the message. */
export interface FailureContext {
  /** e.g. `adding object 'x' to container 'glance'`. */
  readonly action: string;
  readonly signal?: AbortSignal;
  /** Masks secrets (key, tokens) in text taken from the failure. */
  readonly redact: (text: string) => string;
}

/**
 * The typed error for a failed request: 404 → NotFound, 401/403 → Forbidden,
 * 409 → Duplicate, 413 → StorageFull, 416 → Invalid, 5xx or no answer →
 * RemoteServiceUnavailable, abort → OperationAborted, TLS failures and the
 * rest → BackendException. StoreErrors pass through.
 */
export function toStoreError(err: unknown, context: FailureContext): StoreError {
  if (err instanceof StoreError) return err;
  const { action, signal, redact } = context;
  if (signal?.aborted || (err as Error | undefined)?.name === 'AbortError')
    return abortError(signal, action);
  const firstLine = String((err as Error | undefined)?.message ?? err).split('\n', 1)[0]!;
  const cause = new Error(redact(firstLine).slice(0, 300));
  const status = statusOf(err);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (status === 404)
    return new NotFound(`Swift could not find it while ${action} (HTTP 404)`, { cause });
  if (status === 401 || status === 403) {
    return new Forbidden(
      `Swift refused ${action} (HTTP ${status}): check the account's credentials and its access to the container`,
      { cause },
    );
  }
  if (status === 409) return new Duplicate(`Swift already has it: ${action} (HTTP 409)`, { cause });
  if (status === 413)
    return new StorageFull(`Swift has no room for it: ${action} (HTTP 413)`, { cause });
  if (status === 416) return new Invalid(`Invalid range while ${action} (HTTP 416)`, { cause });
  if ((status !== undefined && status >= 500) || (code && NETWORK_CODES.has(code))) {
    return new RemoteServiceUnavailable(
      `Swift unavailable while ${action} (${status !== undefined ? `HTTP ${status}` : (code ?? 'no answer')})`,
      { cause },
    );
  }
  if (code && TLS_CODE.test(code)) {
    return new BackendException(
      `TLS verification of the Swift endpoint failed while ${action} (${code}): set swift_store_cacert`,
      { cause },
    );
  }
  return new BackendException(
    `Swift error while ${action}${status !== undefined ? ` (HTTP ${status})` : code ? ` (${code})` : ''}`,
    { cause },
  );
}
