/** The exit codes of the `store` command. */
export const EXIT = {
  /** The command did what was asked. */
  OK: 0,
  /** An operational error: a typed store error, a bad config, an I/O failure, an interrupt. */
  FAILURE: 1,
  /** A usage error: unknown command or option, missing or malformed argument. */
  USAGE: 2,
  /**
   * The reader of standard output went away (EPIPE): nothing is printed, as
   * `cat` killed by SIGPIPE, whose status the shell reports as 128 + 13.
   */
  BROKEN_PIPE: 141,
} as const;

/** One of {@link EXIT}'s values. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
