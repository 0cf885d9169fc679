/**
 * Masking of credentials: in URIs (userinfo, as S3 and HTTP locations carry keys
 * there, and the credentials of signed URLs' query strings) and of known secret
 * values anywhere in a message, an error (its cause chain and own properties) or
 * a log line's fields.
 *
 * Everything here runs in time linear in the text (hand-written scanners and
 * Knuth-Morris-Pratt search, no backtracking patterns): masking runs on error
 * paths, on text a hostile server or caller chose.
 */

const MASK = '***';
/** How deep nested objects are searched for secrets (cycles end here too). */
const MAX_DEPTH = 8;
/**
 * Masking rounds before giving up on a text that keeps changing: only a secret
 * holding the mask itself (`a***b`) can re-form around it.
 */
const MAX_ROUNDS = 4;
/** How many `@`s inside a location's password are tried as its end (the last always is). */
const MAX_SPLITS = 16;
/** What a text becomes when a secret kept re-forming in it after every round. */
const WITHHELD = '[text withheld: it kept revealing a secret after masking]';

const SLASH = 0x2f;
const QUESTION = 0x3f;
const HASH = 0x23;
const COLON = 0x3a;
const AT = 0x40;

/** JavaScript's `\s`, without a regular expression per character. */
function isSpace(code: number): boolean {
  if (code <= 0x7f) return code === 0x20 || (code >= 0x09 && code <= 0x0d);
  return (
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

/** One URI's userinfo: `user` is [start, colon) or [start, at) without a password. */
interface UserinfoSpan {
  readonly start: number;
  /** Index of the `:` before the password, or -1 for a userinfo without one. */
  readonly colon: number;
  /** Index of the `@` that ends the userinfo. */
  readonly at: number;
}

function isSchemeChar(code: number): boolean {
  return isNameChar(code) || code === 0x2b; // letters, digits, `+`, `-`, `.` (and `_`)
}

/**
 * The userinfo of every `scheme://` in `text`, in order.
 *
 * The user name runs to the first `:`, `/`, `?`, `#` or whitespace. After a `:`
 * the password runs to the LAST `@` before the end of the line or the next URI
 * that starts after whitespace (` s3://`): passwords may hold `/` (glance_store
 * writes S3 secret keys into locations unescaped), whitespace and `@`, so the
 * scanner errs towards masking too much. A userinfo without a password ends at
 * the last `@` before the first `/`, `?`, `#`, `:` or whitespace.
 *
 * With `whole`, `text` is one URI: the password runs to its last `@`, and the user
 * name may hold whitespace too.
 */
function userinfoSpans(text: string, whole: boolean): UserinfoSpan[] {
  const spans: UserinfoSpan[] = [];
  const n = text.length;
  // Every search below resumes where the last one ended (the cursors only move
  // forward, as the scan does): linear overall, however many lines and URIs.
  const next = { '\n': -2, '\r': -2, '@': -2 };
  const nextFrom = (char: '\n' | '\r' | '@', pos: number) => {
    if (next[char] !== -1 && next[char] < pos) next[char] = text.indexOf(char, pos);
    return next[char] < 0 ? n : next[char];
  };
  let uriStart = -2;
  let uriSearch = 0;
  /** Where the next URI starting after whitespace begins, at or after `pos`. */
  const nextUriStart = (pos: number): number => {
    if (uriStart === -1) return n;
    if (uriStart >= pos) return uriStart;
    for (;;) {
      const sep = text.indexOf('://', Math.max(pos, uriSearch));
      if (sep < 0) {
        uriStart = -1;
        return n;
      }
      uriSearch = sep + 1;
      let scheme = sep;
      while (scheme > pos && isSchemeChar(text.charCodeAt(scheme - 1))) scheme--;
      if (scheme < sep && scheme > pos && isSpace(text.charCodeAt(scheme - 1))) {
        uriStart = scheme;
        return scheme;
      }
    }
  };
  let lineEnd = -1;
  let from = 0;
  for (;;) {
    const sep = text.indexOf('://', from);
    if (sep < 0) break;
    const start = sep + 3;
    if (start > lineEnd)
      lineEnd = whole ? n : Math.min(nextFrom('\n', start), nextFrom('\r', start));
    let i = start;
    let lastAt = -1;
    for (; i < lineEnd; i++) {
      const code = text.charCodeAt(i);
      if (code === COLON || code === SLASH || code === QUESTION || code === HASH) break;
      if (!whole && isSpace(code)) break;
      if (code === AT) lastAt = i;
    }
    let passwordEnd = -1;
    if (i < lineEnd && text.charCodeAt(i) === COLON) {
      const regionEnd = whole ? n : Math.min(lineEnd, nextUriStart(start));
      for (let at = nextFrom('@', i + 1); at < regionEnd; at = nextFrom('@', at + 1))
        passwordEnd = at;
    }
    if (passwordEnd > i) {
      spans.push({ start, colon: i, at: passwordEnd });
      from = passwordEnd + 1;
    } else if (lastAt >= start) {
      spans.push({ start, colon: -1, at: lastAt });
      from = lastAt + 1;
    } else {
      from = start;
    }
  }
  return spans;
}

/** Names of query parameters that carry credentials in signed and token URLs. */
function isCredentialParameter(name: string): boolean {
  const lower = name.toLowerCase();
  return (
    lower === 'sig' || // Azure SAS (`sv=…&se=…&sp=…&sig=…`)
    lower.endsWith('_sig') || // Swift temp URLs (`temp_url_sig`)
    lower.endsWith('signature') || // `Signature` (S3 v2), `X-Amz-Signature`, `X-Goog-Signature`
    lower.endsWith('credential') || // `X-Amz-Credential`, `X-Goog-Credential`
    lower.endsWith('token') || // `token`, `access_token`, `X-Amz-Security-Token`
    lower.endsWith('secret') || // `client_secret`
    lower.endsWith('password') ||
    lower === 'passwd' ||
    lower === 'awsaccesskeyid' ||
    lower === 'api_key' ||
    lower === 'apikey'
  );
}

function isNameChar(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) || // 0-9
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    code === 0x5f || // _
    code === 0x2d || // -
    code === 0x2e // .
  );
}

/** Ends a query value: `&`, `#`, whitespace, quotes and angle brackets. */
function endsValue(code: number): boolean {
  return (
    code === 0x26 ||
    code === HASH ||
    code === 0x22 ||
    code === 0x27 ||
    code === 0x3c ||
    code === 0x3e ||
    code === 0x60 ||
    isSpace(code)
  );
}

/** [start, end) of every credential query value (`?sig=VALUE`, `&X-Amz-Signature=VALUE`). */
function credentialParameterSpans(text: string): [number, number][] {
  const spans: [number, number][] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const code = text.charCodeAt(i);
    if (code !== QUESTION && code !== 0x26 && code !== 0x3b) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n && isNameChar(text.charCodeAt(j))) j++;
    if (
      j < n &&
      j > i + 1 &&
      text.charCodeAt(j) === 0x3d &&
      isCredentialParameter(text.slice(i + 1, j))
    ) {
      let end = j + 1;
      while (end < n && !endsValue(text.charCodeAt(end))) end++;
      if (end > j + 1) spans.push([j + 1, end]);
      i = end;
    } else i = j;
  }
  return spans;
}

/**
 * Masks the credentials of every URI in `text`: the userinfo
 * (`s3://key:secret@host` → `s3://***:***@host`) and the values of signed-URL
 * query parameters (`?X-Amz-Signature=…`, `&sig=…`, `?token=…` → `=***`).
 * Linear in the length of `text`.
 */
export function redactUri(text: string): string {
  const cuts: [number, number, string][] = [];
  for (const { start, colon, at } of userinfoSpans(text, false))
    cuts.push([start, at, colon < 0 ? MASK : `${MASK}:${MASK}`]);
  let out = applyCuts(text, cuts);
  const params = credentialParameterSpans(out);
  if (params.length > 0)
    out = applyCuts(
      out,
      params.map(([s, e]) => [s, e, MASK]),
    );
  return out;
}

/** `text` with each [start, end) (in order, not overlapping) replaced. */
function applyCuts(text: string, cuts: readonly (readonly [number, number, string])[]): string {
  if (cuts.length === 0) return text;
  const parts: string[] = [];
  let at = 0;
  for (const [start, end, replacement] of cuts) {
    parts.push(text.slice(at, start), replacement);
    at = end;
  }
  parts.push(text.slice(at));
  return parts.join('');
}

/** Knuth-Morris-Pratt failure table of `needle`. */
function failureTable(needle: string): Int32Array {
  const table = new Int32Array(needle.length);
  for (let i = 1, k = 0; i < needle.length; i++) {
    while (k > 0 && needle.charCodeAt(i) !== needle.charCodeAt(k)) k = table[k - 1]!;
    if (needle.charCodeAt(i) === needle.charCodeAt(k)) k++;
    table[i] = k;
  }
  return table;
}

interface Needle {
  readonly text: string;
  readonly table: Int32Array;
}

/**
 * Marks in `covered` every position of every occurrence of the needle in `text`,
 * overlapping ones included, in O(text + needle).
 */
function markOccurrences(text: string, needle: Needle, covered: Int32Array): boolean {
  const { text: pattern, table } = needle;
  const m = pattern.length;
  let found = false;
  for (let i = 0, k = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    while (k > 0 && code !== pattern.charCodeAt(k)) k = table[k - 1]!;
    if (code === pattern.charCodeAt(k)) k++;
    if (k === m) {
      found = true;
      // Difference array: +1 at the start, -1 past the end.
      covered[i - m + 1]!++;
      covered[i + 1]!--;
      k = table[k - 1]!;
    }
  }
  return found;
}

/** `text` with every run covered by an occurrence of a needle replaced by one mask. */
function maskNeedles(text: string, needles: readonly Needle[]): string {
  if (needles.length === 0 || text.length === 0) return text;
  const covered = new Int32Array(text.length + 1);
  let found = false;
  for (const needle of needles)
    if (needle.text.length <= text.length && markOccurrences(text, needle, covered)) found = true;
  if (!found) return text;
  const cuts: [number, number, string][] = [];
  let depth = 0;
  let runStart = -1;
  for (let i = 0; i <= text.length; i++) {
    depth += covered[i]!;
    if (depth > 0 && runStart < 0) runStart = i;
    else if (depth === 0 && runStart >= 0) {
      cuts.push([runStart, i, MASK]);
      runStart = -1;
    }
  }
  return applyCuts(text, cuts);
}

/**
 * Builds a function that masks URI credentials and every given secret value
 * (and its percent-encoded form, as it appears inside URIs). Secrets shorter than
 * 4 characters are not masked (they would mask ordinary words). Linear in the
 * length of the text for a given set of secrets.
 */
export function secretRedactor(secrets: Iterable<string>): (text: string) => string {
  const texts = new Set<string>();
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret.length < 4) continue;
    texts.add(secret);
    try {
      texts.add(encodeURIComponent(secret));
    } catch {
      // A lone surrogate has no percent-encoded form: the raw one is all there is.
    }
  }
  const needles = [...texts].map((text) => ({ text, table: failureTable(text) }));
  return (text: string) => {
    let out = text;
    // Masking a secret can bring a URI's userinfo together (`s3://a<secret>b:pw@h`),
    // and a secret holding the mask can re-form around it: repeat until nothing changes.
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const next = redactUri(maskNeedles(out, needles));
      if (next === out) return out;
      out = next;
    }
    return maskNeedles(out, needles) === out ? out : WITHHELD;
  };
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * `value` with `redact` applied to every string (and number) in it, looking into arrays and
 * plain objects (copied when something changed, never modified) and Errors
 * (their message). Other objects are returned as they are.
 */
export function redactValue(value: unknown, redact: (text: string) => string, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (typeof value === 'number' || typeof value === 'bigint') {
    // A secret number (a PIN option) would be printed by any logger.
    const text = String(value);
    const clean = redact(text);
    return clean === text ? value : clean;
  }
  if (value === null || typeof value !== 'object' || depth >= MAX_DEPTH) return value;
  if (value instanceof Error) return redact(`${value.name}: ${value.message}`);
  if (Array.isArray(value)) {
    const out = value.map((item) => redactValue(item, redact, depth + 1));
    return out.some((item, i) => item !== value[i]) ? out : value;
  }
  if (!isPlainObject(value)) return value;
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const clean = redactValue(item, redact, depth + 1);
    if (clean !== item) changed = true;
    Object.defineProperty(out, key, { value: clean, enumerable: true, writable: true });
  }
  return changed ? out : value;
}

function replaceProperty(target: object, key: string, value: unknown): void {
  try {
    const descriptor = Object.getOwnPropertyDescriptor(target, key);
    Object.defineProperty(target, key, { ...descriptor, value });
  } catch {
    // A frozen or non-configurable property: nothing we can do but leave it.
  }
}

function redactErrorInPlace(
  err: Error,
  redact: (text: string) => string,
  seen: Set<unknown>,
  depth: number,
): void {
  if (seen.has(err) || depth >= MAX_DEPTH) return;
  seen.add(err);
  const message = redact(err.message);
  if (message !== err.message) err.message = message;
  if (err.stack) err.stack = redact(err.stack);
  if (err instanceof AggregateError)
    for (const inner of err.errors)
      if (inner instanceof Error) redactErrorInPlace(inner, redact, seen, depth + 1);
  // Own properties such as a failed request's `url` or `headers`.
  for (const key of Object.keys(err)) {
    if (key === 'message' || key === 'stack' || key === 'cause' || key === 'errors') continue;
    const value = (err as unknown as Record<string, unknown>)[key];
    if (value instanceof Error) redactErrorInPlace(value, redact, seen, depth + 1);
    else {
      const clean = redactValue(value, redact);
      if (clean !== value) replaceProperty(err, key, clean);
    }
  }
  const { cause } = err;
  if (cause instanceof Error) redactErrorInPlace(cause, redact, seen, depth + 1);
  else if (cause !== undefined) {
    const clean = redactValue(cause, redact);
    if (clean !== cause) replaceProperty(err, 'cause', clean);
  }
}

/**
 * Applies `redact` to the message, stack and own properties of `err` and of
 * every error in its `cause` chain (and an AggregateError's `errors`), in place,
 * so nothing thrown to a caller carries a secret.
 */
export function redactError<T>(err: T, redact: (text: string) => string): T {
  if (err instanceof Error) redactErrorInPlace(err, redact, new Set(), 0);
  return err;
}

/**
 * The credentials in `uri` (one location URI), raw and percent-decoded: its user
 * name and password, and the values of signed-URL query parameters. A driver may
 * quote them without the URI around them. A password with a raw `@` is given both
 * up to each of its first {@link MAX_SPLITS} `@`s and up to the last, as
 * any of them may end it.
 */
export function uriCredentials(uri: string): string[] {
  const text = String(uri);
  const out = new Set<string>();
  const add = (part: string) => {
    out.add(part);
    try {
      out.add(decodeURIComponent(part));
    } catch {
      // Not valid percent-encoding: the raw form is all there is.
    }
  };
  for (const { start, colon, at } of userinfoSpans(text, true)) {
    if (colon < 0) {
      add(text.slice(start, at));
      continue;
    }
    add(text.slice(start, colon));
    add(text.slice(colon + 1, at));
    // Each earlier `@` may end the password too (the rest then belongs to the path).
    for (let n = 0, inner = text.indexOf('@', colon + 1); inner < at && n < MAX_SPLITS; n++) {
      add(text.slice(colon + 1, inner));
      inner = text.indexOf('@', inner + 1);
    }
  }
  for (const [start, end] of credentialParameterSpans(text)) add(text.slice(start, end));
  return [...out].filter((part) => part !== '');
}
