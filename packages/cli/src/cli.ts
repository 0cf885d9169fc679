#!/usr/bin/env node
/** The `store` bin: runs the command line and exits with its code. */
import { runCli } from './run.js';

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // runCli reports every failure itself; reaching here is a bug in the CLI.
    process.stderr.write(`store: internal error: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
