/**
 * Masking of credentials: in URIs (userinfo, as S3 and HTTP locations carry keys
 * there) and of known secret values anywhere in a message, an error (its cause
 * chain and own properties) or a log line's fields.
 */

const MASK = '***';
// `user:password@`, where the password may hold `/` and `+` unescaped (glance_store writes S3
// secret keys into locations as they are), or a plain `userinfo@` without `/`.
const URI_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#\s@:]*:[^\s@]*|[^/?#\s@]*)@/gi;
/** How deep nested objects are searched for secrets (cycles end here too). */
const MAX_DEPTH = 8;
/** Masking rounds before giving up on a text that keeps changing (none does in practice). */
const MAX_ROUNDS = 8;

/** Masks the userinfo of every URI in `text`: `s3://key:secret@host` → `s3://***:***@host`. */
export function redactUri(text: string): string {
  return text.replace(URI_USERINFO, (_match, scheme: string, userinfo: string) =>
    userinfo.includes(':') ? `${scheme}${MASK}:${MASK}@` : `${scheme}${MASK}@`,
  );
}

/**
 * Builds a function that masks URI credentials and every given secret value
 * (and its percent-encoded form, as it appears inside URIs). Secrets shorter than
 * 4 characters are not masked (they would mask ordinary words).
 */
export function secretRedactor(secrets: Iterable<string>): (text: string) => string {
  const needles = new Set<string>();
  for (const secret of secrets) {
    if (!secret || secret.length < 4) continue;
    needles.add(secret);
    needles.add(encodeURIComponent(secret));
  }
  const sorted = [...needles].sort((a, b) => b.length - a.length);
  const maskSecrets = (text: string) => {
    let out = text;
    // Masking one occurrence can join its neighbours into another (`ab` + secret + `cd`).
    for (let changed = true; changed; ) {
      changed = false;
      for (const needle of sorted) {
        if (!out.includes(needle)) continue;
        out = out.split(needle).join(MASK);
        changed = true;
      }
    }
    return out;
  };
  return (text: string) => {
    let out = text;
    // Masking a secret can bring a URI's userinfo together (`s3://a<secret>b:pw@h`): repeat.
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const next = redactUri(maskSecrets(out));
      if (next === out) break;
      out = next;
    }
    return out;
  };
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * `value` with `redact` applied to every string in it, looking into arrays and
 * plain objects (copied when something changed, never modified) and Errors
 * (their message). Other objects are returned as they are.
 */
export function redactValue(value: unknown, redact: (text: string) => string, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
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
 * The user names and passwords in the userinfo of every URI in `text`, raw and
 * percent-decoded: a driver may quote them without the URI around them.
 */
export function uriCredentials(text: string): string[] {
  const out = new Set<string>();
  for (const match of String(text).matchAll(URI_USERINFO)) {
    const userinfo = match[2]!;
    const colon = userinfo.indexOf(':');
    const parts = colon < 0 ? [userinfo] : [userinfo.slice(0, colon), userinfo.slice(colon + 1)];
    for (const part of parts) {
      out.add(part);
      try {
        out.add(decodeURIComponent(part));
      } catch {
        // Not valid percent-encoding: the raw form is all there is.
      }
    }
  }
  return [...out].filter((part) => part !== '');
}
