// @ts-check
/**
 * The mix of image sizes: weighted ranges, parsed from `weight:min-max` entries
 * (sizes with k/m suffixes, e.g. `4:1-4k,3:64k-256k,2:1m-2m,1:4m-9m`).
 */

/** @typedef {{ weight: number, min: number, max: number }} SizeRange */

export const DEFAULT_SIZES = '4:0-4k,3:64k-256k,2:1m-2m,1:4m-9m';

/** @param {string} text */
function bytes(text) {
  const match = /^(\d+)([km]?)$/i.exec(text.trim());
  if (!match) throw new Error(`soak: bad size '${text}' (use e.g. 512, 64k, 8m)`);
  const [, digits = '', suffix = ''] = match;
  const unit = { '': 1, k: 1024, m: 1024 * 1024 }[suffix.toLowerCase()] ?? 1;
  return Number(digits) * unit;
}

/**
 * @param {string} spec
 * @returns {SizeRange[]}
 */
export function parseSizes(spec) {
  const ranges = spec.split(',').map((entry) => {
    const match = /^\s*(\d+)\s*:\s*([^-]+)-(.+)$/.exec(entry);
    if (!match) throw new Error(`soak: bad size range '${entry}' (use weight:min-max)`);
    const [, weight = '', min = '', max = ''] = match;
    const range = { weight: Number(weight), min: bytes(min), max: bytes(max) };
    if (range.weight <= 0 || range.min > range.max)
      throw new Error(`soak: bad size range '${entry}'`);
    return range;
  });
  if (ranges.length === 0) throw new Error('soak: no sizes');
  return ranges;
}

/**
 * A size drawn from the mix.
 * @param {SizeRange[]} ranges
 * @param {() => number} random in [0, 1)
 */
export function drawSize(ranges, random) {
  const total = ranges.reduce((sum, r) => sum + r.weight, 0);
  let pick = random() * total;
  for (const range of ranges) {
    pick -= range.weight;
    if (pick < 0) return range.min + Math.floor(random() * (range.max - range.min + 1));
  }
  const last = /** @type {SizeRange} */ (ranges.at(-1));
  return last.max;
}
