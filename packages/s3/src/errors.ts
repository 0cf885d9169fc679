/**
 * Maps what the AWS SDK throws to @store/core's typed errors. The SDK's error is
 * never kept as the cause: service errors can carry request details (the access
 * key id of a SignatureDoesNotMatch, for one). The cause is a plain Error with the
 * error's name and a redacted message.
 */
import {
  abortError,
  BackendException,
  Forbidden,
  NotFound,
  RemoteServiceUnavailable,
  StoreError,
} from '@store/core';

/** What the SDK's errors may carry. */
interface SdkErrorLike {
  name?: string;
  message?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

/** Network failures that mean the endpoint did not answer. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'TimeoutError',
  'RequestTimeout',
]);

const FORBIDDEN_CODES = new Set([
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AllAccessDisabled',
]);

const NOT_FOUND_CODES = new Set(['NoSuchKey', 'NoSuchBucket', 'NotFound', 'NoSuchUpload']);

/** The S3 error code (NoSuchKey, AccessDenied, …) or network error code of `err`. */
export function s3ErrorCode(err: unknown): string {
  const e = err as SdkErrorLike | undefined;
  return String(e?.Code ?? e?.code ?? e?.name ?? 'Error');
}

/** The HTTP status of an S3 error response, if there was one. */
export function s3Status(err: unknown): number | undefined {
  return (err as SdkErrorLike | undefined)?.$metadata?.httpStatusCode;
}

/** True when the error is S3's 404 (missing key or bucket). */
export function isS3NotFound(err: unknown): boolean {
  return s3Status(err) === 404 || NOT_FOUND_CODES.has(s3ErrorCode(err));
}

/** What {@link toStoreError} needs to word its message. */
export interface FailureContext {
  /** What was being done, e.g. `GET of s3://***:***@host/bucket/key`. */
  readonly action: string;
  /** The host, for "did not answer" messages. */
  readonly host: string;
  readonly signal?: AbortSignal | undefined;
  /** Masks every credential in a text. */
  readonly redact: (text: string) => string;
}

/**
 * Translates an SDK failure into a typed error: NotFound (404), Forbidden (403 and
 * bad credentials), RemoteServiceUnavailable (no answer or 5xx after the SDK's
 * retries), OperationAborted (signal), BackendException (anything else).
 * StoreErrors pass through unchanged.
 */
export function toStoreError(err: unknown, context: FailureContext): StoreError {
  if (err instanceof StoreError) return err;
  if (context.signal?.aborted) return abortError(context.signal, context.action);
  const code = s3ErrorCode(err);
  const status = s3Status(err);
  const rawMessage = (err as SdkErrorLike | undefined)?.message ?? String(err);
  const detail = context.redact(
    rawMessage === code || rawMessage === 'UnknownError' ? '' : rawMessage,
  );
  const cause = new Error(`${code}${detail ? `: ${detail}` : ''}`);
  cause.name = code;
  const what = `${code}${status ? ` (HTTP ${status})` : ''}${detail ? `: ${detail}` : ''}`;
  if (code === 'AbortError') return abortError(context.signal, context.action);
  if (status === 404 || NOT_FOUND_CODES.has(code))
    return new NotFound(`S3 ${context.action} failed: not found (${what})`, { cause });
  if (status === 403 || status === 401 || FORBIDDEN_CODES.has(code))
    return new Forbidden(`S3 ${context.action} was refused: ${what}`, { cause });
  const attempts = (err as SdkErrorLike | undefined)?.$metadata?.attempts;
  const tries = attempts && attempts > 1 ? ` after ${attempts} attempts` : '';
  if (UNREACHABLE_CODES.has(code) || (status === undefined && /socket|connect/i.test(rawMessage)))
    return new RemoteServiceUnavailable(
      `S3 endpoint ${context.host} did not answer the ${context.action}${tries}: ${what}`,
      { cause },
    );
  if (status !== undefined && status >= 500)
    return new RemoteServiceUnavailable(
      `S3 endpoint ${context.host} failed the ${context.action}${tries}: ${what}`,
      { cause },
    );
  return new BackendException(`S3 ${context.action} failed: ${what}`, { cause });
}
