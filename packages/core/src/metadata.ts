/**
 * Location metadata checks: a driver may return only objects, arrays and strings,
 * as glance_store's `check_location_metadata` enforces, so it survives a round
 * trip through Glance's database.
 */
import { BackendException } from './errors.js';

/**
 * @throws BackendException naming the first key whose value has another type.
 */
export function checkLocationMetadata(value: unknown, key = ''): void {
  if (typeof value === 'string') return;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) checkLocationMetadata(item, `${key}[${i}]`);
    return;
  }
  if (
    value !== null &&
    typeof value === 'object' &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    for (const [k, v] of Object.entries(value)) checkLocationMetadata(v, key ? `${key}.${k}` : k);
    return;
  }
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  throw new BackendException(
    `The image metadata key '${key}' has an invalid type of ${type}: only objects, arrays and strings are supported`,
  );
}
