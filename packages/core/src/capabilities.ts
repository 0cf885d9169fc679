/**
 * Capabilities: glance_store's bitmask, with the same flag names and values, so a
 * capability value stored by Glance means the same thing here.
 */
import { brandPrototype, isBrandedInstance } from './brand.js';

const CAPABILITY_SET_BRAND = Symbol.for('@store/core.CapabilitySet');
export const Capability = {
  NONE: 0,
  READ_ACCESS: 1,
  READ_OFFSET: 3,
  READ_CHUNK: 5,
  READ_RANDOM: 7,
  WRITE_ACCESS: 8,
  WRITE_OFFSET: 24,
  WRITE_CHUNK: 40,
  WRITE_RANDOM: 56,
  RW_ACCESS: 9,
  RW_OFFSET: 27,
  RW_CHUNK: 45,
  RW_RANDOM: 63,
  DRIVER_REUSABLE: 64,
  ALL: 255,
} as const;

/** Name of a capability flag. */
export type CapabilityName = keyof typeof Capability;

/** True when every bit of `required` is set in `mask`. */
export function hasCapability(mask: number, required: number): boolean {
  return (mask & required) === required;
}

const READ_NAMES: Record<number, string> = { 1: 'ACCESS', 3: 'OFFSET', 5: 'CHUNK', 7: 'RANDOM' };
const WRITE_NAMES: Record<number, string> = {
  8: 'ACCESS',
  24: 'OFFSET',
  40: 'CHUNK',
  56: 'RANDOM',
};

/**
 * The flag names that describe `mask`: its read part, its write part (joined as
 * RW_* when they match) and DRIVER_REUSABLE, e.g. 79 → READ_RANDOM, WRITE_ACCESS,
 * DRIVER_REUSABLE and 9 → RW_ACCESS.
 */
export function capabilityNames(mask: number): CapabilityName[] {
  if (mask === Capability.NONE) return ['NONE'];
  if (mask === Capability.ALL) return ['ALL'];
  const read = READ_NAMES[mask & Capability.READ_RANDOM];
  const write = WRITE_NAMES[mask & Capability.WRITE_RANDOM];
  const names: string[] = [];
  if (read && read === write) names.push(`RW_${read}`);
  else {
    if (read) names.push(`READ_${read}`);
    if (write) names.push(`WRITE_${write}`);
  }
  if (mask & Capability.DRIVER_REUSABLE) names.push('DRIVER_REUSABLE');
  return names as CapabilityName[];
}

/**
 * The live capabilities of one backend. A driver may change them at run time (for
 * example dropping WRITE_ACCESS when its directory turns read-only), as
 * glance_store's `update_capabilities` does; the manager reads them on every call.
 */
export class CapabilitySet {
  #mask: number;

  constructor(mask: number) {
    this.#mask = mask;
  }

  /** True for a CapabilitySet made by any copy of core in the process. */
  static [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of instanceof
    return isBrandedInstance(this, value, CAPABILITY_SET_BRAND);
  }

  /** The current bitmask. */
  get mask(): number {
    return this.#mask;
  }

  /** True when every bit of `required` is present. */
  has(required: number): boolean {
    return hasCapability(this.#mask, required);
  }

  /** Adds the bits of `flags`. */
  add(flags: number): void {
    this.#mask |= flags;
  }

  /** Removes the bits of `flags`. */
  remove(flags: number): void {
    this.#mask &= ~flags;
  }
}
brandPrototype(CapabilitySet, CAPABILITY_SET_BRAND);
