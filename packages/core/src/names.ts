/**
 * Names in a configuration that nothing reads: a mistyped option or section name
 * would otherwise fall back to a default silently (images written to
 * /var/lib/glance/images instead of the intended directory). They are reported
 * through the logger, with the closest known name as a hint, or refused when strict.
 */
import { BadStoreConfiguration } from './errors.js';
import type { Logger } from './logger.js';

/**
 * How unknown option and section names are treated: `false` (the default, as
 * oslo.config) logs a warning; `'typos'` refuses a name close to a known one
 * (a "did you mean" hint) and warns about the rest, which suits a glance-api.conf
 * full of Glance's own options; `true` refuses every unknown name.
 */
export type Strictness = boolean | 'typos';

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(
        d[(i - 1) * cols + j]! + 1,
        d[i * cols + j - 1]! + 1,
        d[(i - 1) * cols + j - 1]! + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[(i - 2) * cols + j - 2]! + 1);
      d[i * cols + j] = best;
    }
  }
  return d[rows * cols - 1]!;
}

/** Names longer than this are not compared (the table is quadratic in the name). */
const MAX_COMPARED = 128;

/**
 * The known name `name` is most likely a typo of: equal ignoring case, `-`/`_`,
 * or within 1 edit (2 for names of 6 characters or more). Undefined when none is.
 */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const normal = (text: string) => text.toLowerCase().replaceAll('-', '_');
  const wanted = normal(name);
  if (wanted.length > MAX_COMPARED) return undefined;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    if (candidate === name || candidate.length > MAX_COMPARED) continue;
    const distance = editDistance(wanted, normal(candidate));
    const tolerance = Math.min(wanted.length, candidate.length) >= 6 ? 2 : 1;
    if (distance <= tolerance && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * Reports `names` that nothing reads: one warning naming them all, each with its
 * "did you mean" hint, or BadStoreConfiguration under `strict` (for `'typos'`,
 * only when some name has a hint).
 *
 * @param what where the names are, e.g. `glance-api.conf [DEFAULT]`
 */
export function reportUnknownNames(
  what: string,
  names: readonly string[],
  known: readonly string[],
  how: {
    readonly logger: Logger;
    readonly strict: Strictness | undefined;
    /** `option` or `section`: the messages say "unknown option 'x'", "unknown section [x]". */
    readonly noun: 'option' | 'section';
    /** Why a section is unknown, after its name. */
    readonly why?: string;
  },
): void {
  if (names.length === 0) return;
  const show = (name: string) => (how.noun === 'section' ? `[${name}]` : `'${name}'`);
  const listed = (items: readonly { text: string }[]) =>
    `${how.noun}${items.length > 1 ? 's' : ''} ${items.map((item) => item.text).join(', ')}${how.why ? ` ${how.why}` : ''}`;
  const hinted = names.map((name) => {
    const guess = closestName(name, known);
    const text = guess ? `${show(name)} (did you mean ${show(guess)}?)` : show(name);
    return { text, typo: guess !== undefined };
  });
  const refused =
    how.strict === true ? hinted : how.strict === 'typos' ? hinted.filter((h) => h.typo) : [];
  if (refused.length > 0) throw new BadStoreConfiguration(`${what}: unknown ${listed(refused)}`);
  how.logger.warn(`${what}: ignoring unknown ${listed(hinted)}`);
}
