/**
 * Failure output: the typed error's code and message on stderr (a JSON document
 * with --json), the stack only with --debug, credentials masked, and the exit
 * code (1 operational, 2 usage).
 */
import { redactUri, StoreError } from '@store/core';
import { EXIT, type ExitCode } from './exit-codes.js';
import type { OutputStream } from './io.js';
import { UsageError } from './usage.js';

/** How to print a failure. */
export interface ReportOptions {
  readonly stderr: OutputStream;
  readonly json: boolean;
  readonly debug: boolean;
  /** Masks credentials of the loaded config (URI credentials are always masked). */
  readonly redact: (text: string) => string;
  /** Set when the run was interrupted: a plain AbortError then reads as OperationAborted. */
  readonly signal?: AbortSignal;
}

/** The stable code printed for `err`. */
export function errorCode(err: unknown, signal?: AbortSignal): string {
  if (err instanceof UsageError || err instanceof StoreError) return err.code;
  if (signal?.aborted) return 'OperationAborted';
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code) ? code : 'Error';
}

function messageOf(err: unknown, signal?: AbortSignal): string {
  if (!(err instanceof StoreError) && !(err instanceof UsageError) && signal?.aborted) {
    const reason = signal.reason instanceof Error ? ` (${signal.reason.message})` : '';
    return `The operation was aborted${reason}`;
  }
  if (err instanceof StoreError && err.code === 'OperationAborted' && signal?.aborted) {
    const reason = signal.reason instanceof Error ? ` (${signal.reason.message})` : '';
    return `${err.message}${reason}`;
  }
  return err instanceof Error ? err.message : String(err);
}

function debugDetails(err: unknown, mask: (text: string) => string): string {
  const lines: string[] = [];
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    lines.push(mask(current.stack ?? `${current.name}: ${current.message}`));
    current = current.cause;
    if (current instanceof Error) lines.push('Caused by:');
  }
  return lines.join('\n');
}

/** Prints `err` and returns the exit code. */
export function reportError(err: unknown, options: ReportOptions): ExitCode {
  const mask = (text: string) => redactUri(options.redact(text));
  const usage = err instanceof UsageError;
  const code = errorCode(err, options.signal);
  const message = mask(messageOf(err, options.signal));
  if (options.json) {
    options.stderr.write(`${JSON.stringify({ error: { code, message } })}\n`);
  } else {
    options.stderr.write(`store: ${code}: ${message}\n`);
    if (usage) {
      const command = (err as UsageError).command;
      options.stderr.write(`Run 'store ${command ? `${command} ` : ''}--help' for usage.\n`);
    }
  }
  if (options.debug && !usage) options.stderr.write(`${debugDetails(err, mask)}\n`);
  return usage ? EXIT.USAGE : EXIT.FAILURE;
}
