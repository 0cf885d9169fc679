/**
 * Mapping of HTTP answers and socket failures to @store's typed errors, and
 * which of them are worth another attempt.
 *
 * Module-level state, on purpose: the retryable marks are a WeakSet of error
 * objects. A mark belongs to one error and is collected with it, so nothing is
 * shared between requests or stores; a property on the error instead would show
 * in every log and serialisation of it.
 */
import {
  abortError,
  BackendException,
  BadStoreUri,
  Forbidden,
  NotFound,
  RemoteServiceUnavailable,
  StoreError,
} from '@store/core';

const retryable = new WeakSet<Error>();

/** Marks `err` as transient: the request may be repeated. */
export function markRetryable<E extends Error>(err: E): E {
  retryable.add(err);
  return err;
}

/** True when `err` was marked transient. */
export function isRetryable(err: unknown): boolean {
  return err instanceof Error && retryable.has(err);
}

/**
 * The error for a final (non-redirect) status of 400 or more. 404 and 410 are
 * NotFound and 401/403/407 Forbidden; 429 and 5xx are RemoteServiceUnavailable
 * and retryable; other 4xx are BadStoreUri, as glance_store raises for them.
 */
export function statusError(status: number, shown: string, verb: string): StoreError {
  const what = `${verb} ${shown} answered HTTP ${status}`;
  if (status === 404 || status === 410)
    return new NotFound(`HTTP datastore could not find image at URI: ${what}`);
  if (status === 401 || status === 403 || status === 407)
    return new Forbidden(`Access to the image was refused: ${what}`);
  if (status === 429 || status >= 500)
    return markRetryable(new RemoteServiceUnavailable(`Remote server is unavailable: ${what}`));
  return new BadStoreUri(`The HTTP URL is not usable: ${what}`);
}

// Failures that may pass: refused or reset connections, timeouts, DNS hiccups.
const TRANSIENT = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
]);

function isTlsFailure(code: string): boolean {
  // 'CERT' covers CERT_*, *_CERT_* and UNABLE_TO_GET_ISSUER_CERT_LOCALLY.
  return (
    code.startsWith('ERR_TLS') ||
    code.startsWith('ERR_SSL') ||
    code.includes('CERT') ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    code === 'HOSTNAME_MISMATCH'
  );
}

/** Where a failure happened, for the message. */
export interface FailureContext {
  /** The URL with credentials masked. */
  readonly shown: string;
  readonly signal: AbortSignal;
}

/**
 * Maps a failure of the connection or of the request (before or while the body
 * is read) to a typed error; typed errors and aborts pass through as such.
 */
export function toStoreError(err: unknown, context: FailureContext): StoreError {
  const { shown, signal } = context;
  if (signal.aborted) return abortError(signal, `request to ${shown}`);
  if (err instanceof StoreError) return err;
  const code = String((err as NodeJS.ErrnoException)?.code ?? '');
  const message = (err as Error)?.message ?? String(err);
  if (isTlsFailure(code)) {
    return new RemoteServiceUnavailable(
      `TLS verification of ${shown} failed (${code}: ${message}); trust its CA with https_ca_certificates_file`,
      { cause: err },
    );
  }
  if (code.startsWith('HPE_')) {
    return new BackendException(`${shown} sent an invalid HTTP response (${code})`, {
      cause: err,
    });
  }
  if (code === 'ENOTFOUND') {
    return new RemoteServiceUnavailable(`The host of ${shown} could not be resolved`, {
      cause: err,
    });
  }
  const out = new RemoteServiceUnavailable(
    `Remote server where the image is present is unavailable: ${shown}: ${message}${code && !message.includes(code) ? ` (${code})` : ''}`,
    { cause: err },
  );
  return TRANSIENT.has(code) ? markRetryable(out) : out;
}

/** A timeout error carrying the code toStoreError treats as transient. */
export function timeoutError(what: string, seconds: number): Error {
  return Object.assign(new Error(`${what} timed out after ${seconds} s`), { code: 'ETIMEDOUT' });
}
