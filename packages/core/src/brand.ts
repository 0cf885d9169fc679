/**
 * Brands that let `instanceof` recognise objects made by another copy of core in the
 * same process: the ESM and CommonJS builds are two copies, and a driver linked from
 * a folder resolves a third. Brands are registered symbols (`Symbol.for`), which every
 * copy shares; the errors' brand, which also encodes the class chain, is in errors.ts.
 */

/** Puts `brand` on `cls`'s prototype, so its instances carry it. */
export function brandPrototype(
  cls: abstract new (...args: never[]) => unknown,
  brand: symbol,
): void {
  Object.defineProperty(cls.prototype, brand, { value: true });
}

/**
 * `value instanceof cls` for a branded class: true for its own instances and for
 * objects carrying `brand` (made by another copy). A subclass defined elsewhere has
 * no brand of its own and keeps the plain prototype check.
 */
export function isBrandedInstance(cls: unknown, value: unknown, brand: symbol): boolean {
  if (typeof cls !== 'function') return false;
  if (Function.prototype[Symbol.hasInstance].call(cls, value)) return true;
  return (
    Object.hasOwn(cls.prototype, brand) &&
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[brand] === true
  );
}
