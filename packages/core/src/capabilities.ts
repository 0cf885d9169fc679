/**
 * Capabilities: glance_store's bitmask, with the same flag names and values, so a
 * capability value stored by Glance means the same thing here.
 */
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

/**
 * The names that describe `mask`, largest composite flags first and without
 * repeating bits already covered (e.g. 79 → READ_RANDOM, WRITE_ACCESS, DRIVER_REUSABLE).
 */
export function capabilityNames(mask: number): CapabilityName[] {
  if (mask === 0) return ['NONE'];
  if (mask === Capability.ALL) return ['ALL'];
  const names: CapabilityName[] = [];
  let covered = 0;
  const flags = (Object.entries(Capability) as [CapabilityName, number][])
    .filter(([name, value]) => value !== 0 && name !== 'ALL')
    .sort((a, b) => popcount(b[1]) - popcount(a[1]) || b[1] - a[1]);
  for (const [name, value] of flags) {
    if (hasCapability(mask, value) && (value & ~covered) !== 0) {
      names.push(name);
      covered |= value;
    }
  }
  return names;
}

function popcount(n: number): number {
  let count = 0;
  for (let v = n; v; v &= v - 1) count++;
  return count;
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

  /** The current bitmask. */
  get mask(): number {
    return this.#mask;
  }

  /** True when every bit of `required` is present. */
  has(required: number): boolean {
    return hasCapability(this.#mask, required);
  }

  /** Replaces the bitmask. */
  set(mask: number): void {
    this.#mask = mask;
  }

  /** Adds the bits of `flags`. */
  add(flags: number): void {
    this.#mask |= flags;
  }

  /** Removes the bits of `flags`. */
  remove(flags: number): void {
    this.#mask &= ~flags;
  }

  /** Human-readable flag names. */
  names(): CapabilityName[] {
    return capabilityNames(this.#mask);
  }
}
