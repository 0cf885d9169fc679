/**
 * Mapping of Azure SDK failures to @store/core's typed errors. The SDK's errors
 * carry the request (URL with any SAS token, signed headers), so they are never
 * passed on as a cause: the cause is a plain error with the service's one-line
 * message, scrubbed of URL queries and known secrets.
 */
import {
  abortError,
  BackendException,
  Duplicate,
  Forbidden,
  Invalid,
  NotFound,
  RemoteServiceUnavailable,
  StoreError,
} from '@store/core';

/** Error codes of a connection that never got an HTTP answer. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'REQUEST_SEND_ERROR',
]);
const TLS_CODE = /^(CERT_|ERR_TLS_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_)/;

/** What a failed SDK call looks like (RestError, AbortError or a Node error). */
interface SdkFailure {
  readonly name?: string;
  readonly message?: string;
  readonly code?: string;
  readonly statusCode?: number;
  readonly details?: { readonly errorCode?: string };
}

/** The Azure error code of a failure (`BlobNotFound`, `AuthorizationFailure`, …), if any. */
export function azureErrorCode(err: unknown): string | undefined {
  const failure = err as SdkFailure | undefined;
  return failure?.details?.errorCode ?? failure?.code;
}

/** The HTTP status of a failure, if the service answered. */
export function httpStatus(err: unknown): number | undefined {
  return (err as SdkFailure | undefined)?.statusCode;
}

/** True for a failure caused by an AbortSignal. */
export function isAbortFailure(err: unknown): boolean {
  return (err as SdkFailure | undefined)?.name === 'AbortError';
}

/** True when the service answered that a conditional create found the blob there. */
function isAlreadyExists(err: unknown): boolean {
  const code = azureErrorCode(err);
  return (
    code === 'BlobAlreadyExists' ||
    (httpStatus(err) === 412 && (code === undefined || code === 'ConditionNotMet'))
  );
}

/** Where a failure happened, for the message. */
export interface FailureContext {
  /** What was being done, e.g. `reading blob 'x' in container 'c'`. */
  readonly action: string;
  readonly signal?: AbortSignal;
  /** Turns text into text safe to show (masks secrets). */
  readonly redact: (text: string) => string;
}

/** Masks the query of every URL (where SAS tokens travel). */
function stripQueries(text: string): string {
  return text.replace(/(\bhttps?:\/\/[^\s?#'"]*)\?[^\s'"]*/gi, '$1?***');
}

function summary(err: unknown): string {
  const status = httpStatus(err);
  const code = azureErrorCode(err);
  return [status !== undefined ? `HTTP ${status}` : undefined, code].filter(Boolean).join(' ');
}

/**
 * The typed error for a failed SDK call: 404 → NotFound, 401/403 → Forbidden,
 * an existing blob → Duplicate, no answer or 5xx (after the SDK's retries) →
 * RemoteServiceUnavailable, an abort → OperationAborted, anything else →
 * BackendException. StoreErrors pass through unchanged.
 */
export function toStoreError(err: unknown, context: FailureContext): StoreError {
  if (err instanceof StoreError) return err;
  const { action, signal, redact } = context;
  if (signal?.aborted || isAbortFailure(err)) return abortError(signal, action);
  const failure = (err ?? {}) as SdkFailure;
  const firstLine = String(failure.message ?? err).split('\n', 1)[0]!;
  const cause = new Error(redact(stripQueries(firstLine)));
  const status = failure.statusCode;
  const code = azureErrorCode(err);
  const tag = summary(err);
  if (status === 404) return new NotFound(`Not found while ${action} (${tag})`, { cause });
  if (status === 401 || status === 403) {
    return new Forbidden(
      `Azure refused ${action} (${tag}): check the account key, SAS token or their permissions`,
      { cause },
    );
  }
  if (isAlreadyExists(err)) return new Duplicate(`Blob already exists: ${action}`, { cause });
  if (status === 416) return new Invalid(`Invalid range while ${action} (${tag})`, { cause });
  if ((status !== undefined && status >= 500) || (code && NETWORK_CODES.has(code))) {
    return new RemoteServiceUnavailable(
      `Azure Blob service unavailable while ${action} (${tag || 'no answer'}), after retries`,
      { cause },
    );
  }
  if (code && TLS_CODE.test(code)) {
    return new BackendException(
      `TLS verification of the Azure endpoint failed while ${action} (${code}): set azure_store_ca_certificates_file`,
      { cause },
    );
  }
  return new BackendException(`Azure error while ${action}${tag ? ` (${tag})` : ''}`, { cause });
}
