#!/usr/bin/env node
/** The `store` bin: runs the command line and exits with its code. */
import { isBrokenPipe } from './broken-pipe.js';
import { EXIT } from './exit-codes.js';
import { runCli } from './run.js';

// A reader that leaves (`store backends | head -1`) must not crash the command
// with an unhandled EPIPE: it ends as `cat` does under SIGPIPE (exit 141, silent).
let readerGone = false;
process.stdout.on('error', (err) => {
  if (!isBrokenPipe(err)) throw err;
  readerGone = true;
});

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code === EXIT.OK && readerGone ? EXIT.BROKEN_PIPE : code;
  },
  (err: unknown) => {
    // runCli reports every failure itself; reaching here is a bug in the CLI.
    process.stderr.write(`store: internal error: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
