/** The CLI's logger: the library's warnings (and debug lines with --debug) on stderr. */
import type { LogFields, Logger } from '@store/core';
import type { OutputStream } from './io.js';

type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * A logger writing `store: <level>: message {fields}` lines to `stream`, from
 * `threshold` up. The manager has already masked secrets in what it logs.
 */
export function streamLogger(stream: OutputStream, threshold: Level): Logger {
  const write = (level: Level) => (message: string, fields?: LogFields) => {
    if (RANK[level] < RANK[threshold]) return;
    const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
    stream.write(`store: ${level}: ${message}${extra}\n`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}
