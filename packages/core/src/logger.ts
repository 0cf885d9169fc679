import { redactValue } from './redaction.js';

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/**
 * The logger @store writes to. Any object with these four methods works (pino,
 * winston and console all fit with a thin adapter). The default is silent.
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const noop = () => {};

/** A logger that drops everything: the default, so a library never prints on its own. */
export const silentLogger: Logger = Object.freeze({
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
});

/**
 * Wraps `logger` so every message and every string in the fields (nested ones
 * included) passes through `redact` first.
 * The manager wraps the caller's logger with the secrets of every backend.
 */
export function redactingLogger(logger: Logger, redact: (text: string) => string): Logger {
  const clean = (fields?: LogFields): LogFields | undefined => {
    if (!fields) return fields;
    const out: LogFields = {};
    for (const [key, value] of Object.entries(fields)) {
      // An Error becomes its message; nested objects are searched too.
      out[key] = value instanceof Error ? redact(value.message) : redactValue(value, redact);
    }
    return out;
  };
  return {
    debug: (m, f) => logger.debug(redact(m), clean(f)),
    info: (m, f) => logger.info(redact(m), clean(f)),
    warn: (m, f) => logger.warn(redact(m), clean(f)),
    error: (m, f) => logger.error(redact(m), clean(f)),
  };
}
