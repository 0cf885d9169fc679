/**
 * The reader of standard output went away (`store get … | head -c 10`). `cat`
 * is killed by SIGPIPE then and the shell reports 128 + 13 = 141, silently;
 * Node ignores SIGPIPE and sees EPIPE instead, so the CLI stops the read,
 * prints nothing and exits 141 the same way.
 */

/** Thrown when a write to the output failed because its reader closed it. */
export class ReaderGone extends Error {
  constructor(options?: ErrorOptions) {
    super('The reader of the output closed it', options);
    this.name = 'ReaderGone';
  }
}

/** Whether `err` is a write's EPIPE (the other end of a pipe or socket closed). */
export function isBrokenPipe(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'EPIPE';
}
