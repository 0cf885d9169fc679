/** Usage errors: a command line the CLI cannot run (exit code 2). */

/** A bad command line: unknown command or option, missing or malformed argument. */
export class UsageError extends Error {
  /** Stable code printed with the message, alongside the store errors' codes. */
  readonly code = 'UsageError';

  /**
   * @param command the command whose usage to point at, if known.
   */
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Parses a non-negative integer option value (`--size`, `--offset`, `--length`). */
export function parseCount(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`--${option} must be a non-negative integer, got '${value}'`);
  }
  return Number(value);
}
