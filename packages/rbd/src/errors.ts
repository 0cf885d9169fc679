/**
 * Maps librados/librbd failures (an errno and the call that returned it) to
 * @store/core's typed errors, naming what was being done.
 */
import { constants } from 'node:os';
import {
  BackendException,
  Duplicate,
  Forbidden,
  HasSnapshot,
  InUseByStore,
  NotFound,
  RemoteServiceUnavailable,
  StorageFull,
  type StoreError,
} from '@store/core';
import { RbdCallError } from './binding.js';

const E = constants.errno;
/** Not in Node's errno table on every platform; Linux's value. */
const ESHUTDOWN = 108;

/** The errno of a failed librados/librbd call, or undefined for other errors. */
export function errnoOf(err: unknown): number | undefined {
  return err instanceof RbdCallError ? err.errno : undefined;
}

/**
 * The typed error for a failure while doing `action` (e.g. "writing image abc").
 * Errors that are already StoreErrors (aborts, size mismatches) pass through.
 */
export function toStoreError(err: unknown, action: string): Error {
  if (!(err instanceof RbdCallError)) return err as Error;
  const detail = `${action}: ${err.message}`;
  const options = { cause: err };
  let mapped: StoreError;
  switch (err.errno) {
    case E.ENOENT:
      mapped = new NotFound(detail, options);
      break;
    case E.EEXIST:
      mapped = new Duplicate(detail, options);
      break;
    case E.ENOSPC:
    case E.EDQUOT:
      mapped = new StorageFull(detail, options);
      break;
    case E.EACCES:
    case E.EPERM:
      mapped = new Forbidden(detail, options);
      break;
    case E.EBUSY:
      mapped = new InUseByStore(detail, options);
      break;
    case E.ENOTEMPTY:
      mapped = new HasSnapshot(detail, options);
      break;
    case E.ETIMEDOUT:
    case E.ECONNREFUSED:
    case E.EHOSTUNREACH:
    case ESHUTDOWN:
    case E.ENOTCONN:
      mapped = new RemoteServiceUnavailable(detail, options);
      break;
    default:
      mapped = new BackendException(detail, options);
  }
  return mapped;
}
