/**
 * The one rule for image ids, shared by every driver: the manager applies it
 * before any driver sees an id, and drivers call it themselves so that they are
 * safe when used without the manager (or with an older one).
 */
import { Invalid } from './errors.js';

/** Longest image id, in UTF-8 bytes (S3's key limit; Glance's ids are 36-byte UUIDs). */
export const MAX_IMAGE_ID_BYTES = 1024;

/**
 * Characters that are never part of an id: C0 and C1 controls and DEL (`\p{Cc}`),
 * lone surrogates (`\p{Cs}` only matches unpaired halves under the `u` flag),
 * line and paragraph separators, and the bidi marks, embeddings, overrides and
 * isolates that make printed text read differently from its bytes.
 */
const FORBIDDEN = /[\p{Cc}\p{Cs}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** What {@link quoteImageId} escapes: the forbidden characters and the backslash itself. */
const ESCAPED = new RegExp(`${FORBIDDEN.source}|\\\\`, 'gu');

/** How much of a refused id an error message quotes. */
const QUOTED_CHARS = 64;

/** `U+XXXX` of the code point (or lone surrogate) at the start of `text`. */
function codePointName(text: string): string {
  return `U+${(text.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * The id as a message may quote it: at most {@link QUOTED_CHARS} characters,
 * with every forbidden character and backslash escaped (`\u001b`), so a refused
 * id can neither break a log line nor reorder the text around it.
 */
export function quoteImageId(imageId: string): string {
  const head = imageId.length > QUOTED_CHARS ? `${imageId.slice(0, QUOTED_CHARS)}…` : imageId;
  const escaped = head.replace(ESCAPED, (ch) =>
    ch === '\\' ? '\\\\' : `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
  return `'${escaped}'`;
}

/**
 * What is wrong with `imageId` as an image id, or undefined when it is usable in
 * every driver. Refused: anything but a string; the empty string, `.` and `..`;
 * `/`, `\` (path separators in some backend's namespace); ids longer than
 * {@link MAX_IMAGE_ID_BYTES} UTF-8 bytes; ids that are not well-formed Unicode
 * (a lone surrogate would become U+FFFD in UTF-8 and alias another id); and
 * control, line-separator and bidi-control characters (NUL included).
 * Everything else, including non-ASCII letters, spaces and punctuation, is left
 * to the driver, which may refuse more for its own location format.
 */
export function imageIdProblem(imageId: unknown): string | undefined {
  if (typeof imageId !== 'string') return `must be a string, got ${typeof imageId}`;
  if (imageId === '') return 'is empty';
  if (imageId === '.' || imageId === '..') return 'is a relative path name (. or ..)';
  if (imageId.includes('/') || imageId.includes('\\'))
    return 'contains a path separator (/ or \\), which would escape the namespace';
  const forbidden = FORBIDDEN.exec(imageId);
  if (forbidden) {
    const ch = forbidden[0];
    const where = `${codePointName(ch)}, at index ${forbidden.index}`;
    if (/\p{Cs}/u.test(ch)) return `contains a lone surrogate, ${where} (not well-formed Unicode)`;
    const what = /\p{Cc}/u.test(ch)
      ? 'a control character'
      : 'a line separator or bidi control character';
    return `contains ${what}, ${where}`;
  }
  if (Buffer.byteLength(imageId) > MAX_IMAGE_ID_BYTES)
    return `is longer than ${MAX_IMAGE_ID_BYTES} bytes in UTF-8`;
  return undefined;
}

/**
 * Refuses ids that {@link imageIdProblem} finds fault with. Drivers call it at
 * the top of `add`, before their own, narrower checks.
 * @throws Invalid naming what is wrong, quoting the id with control characters escaped.
 */
export function checkImageId(imageId: unknown): asserts imageId is string {
  const problem = imageIdProblem(imageId);
  if (problem === undefined) return;
  const quoted = typeof imageId === 'string' ? ` ${quoteImageId(imageId)}` : '';
  throw new Invalid(`The image id${quoted} ${problem}`);
}
