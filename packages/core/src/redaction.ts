/**
 * Masking of credentials: in URIs (userinfo, as S3 and HTTP locations carry keys
 * there) and of known secret values anywhere in a message.
 */

const MASK = '***';
const URI_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#\s@]*)@/gi;

/** Masks the userinfo of every URI in `text`: `s3://key:secret@host` → `s3://***:***@host`. */
export function redactUri(text: string): string {
  return text.replace(URI_USERINFO, (_match, scheme: string, userinfo: string) =>
    userinfo.includes(':') ? `${scheme}${MASK}:${MASK}@` : `${scheme}${MASK}@`,
  );
}

/**
 * Builds a function that masks URI credentials and every given secret value
 * (and its percent-encoded form, as it appears inside URIs).
 */
export function secretRedactor(secrets: Iterable<string>): (text: string) => string {
  const needles = new Set<string>();
  for (const secret of secrets) {
    if (!secret || secret.length < 4) continue;
    needles.add(secret);
    needles.add(encodeURIComponent(secret));
  }
  const sorted = [...needles].sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = redactUri(text);
    for (const needle of sorted) out = out.split(needle).join(MASK);
    return out;
  };
}

/**
 * Applies `redact` to the message (and stack) of `err` and of every error in its
 * `cause` chain, in place, so nothing thrown to a caller carries a secret.
 */
export function redactError<T>(err: T, redact: (text: string) => string): T {
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    const e = current as Error;
    const message = redact(e.message);
    if (message !== e.message) e.message = message;
    if (e.stack) e.stack = redact(e.stack);
    if (e instanceof AggregateError) for (const inner of e.errors) redactError(inner, redact);
    current = e.cause;
  }
  return err;
}
