/**
 * The `store` command line: finds the command, parses its arguments with
 * node:util parseArgs, runs it with an interrupt signal, and turns the outcome
 * into output and an exit code.
 */
import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ReaderGone } from './broken-pipe.js';
import { COMMANDS, type Command, type OptionDef } from './commands/index.js';
import { CommandContext, type GlobalFlags } from './context.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { commandHelp, GLOBAL_OPTIONS, mainHelp } from './help.js';
import { listenForInterrupt } from './interrupt.js';
import { type CliIo, processIo } from './io.js';
import { streamLogger } from './logger.js';
import { reportError } from './report.js';
import { UsageError } from './usage.js';

type ParseOptions = NonNullable<ParseArgsConfig['options']>;

function toParseOptions(defs: Readonly<Record<string, OptionDef>>): ParseOptions {
  return Object.fromEntries(
    Object.entries(defs).map(([name, def]) => [
      name,
      def.short ? { type: def.type, short: def.short } : { type: def.type },
    ]),
  );
}

const VERSION_OPTION: ParseOptions = { version: { type: 'boolean' } };

/** Every option of every command: enough to find the command words before the strict parse. */
function allOptions(): ParseOptions {
  const merged: ParseOptions = { ...toParseOptions(GLOBAL_OPTIONS), ...VERSION_OPTION };
  for (const command of COMMANDS) Object.assign(merged, toParseOptions(command.options));
  return merged;
}

/** The CLI package's version, from its package.json beside dist/. */
export function cliVersion(): string {
  try {
    const url = new URL('../package.json', import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

interface Invocation {
  readonly command: Command | undefined;
  readonly words: number;
  readonly help: boolean;
  readonly version: boolean;
}

/** Finds the command from the leading positional words (`add`, `config sample`, `help add`). */
function findCommand(args: readonly string[]): Invocation {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: allOptions(),
    strict: false,
    allowPositionals: true,
  });
  const help = values.help === true;
  const version = values.version === true;
  let [first, second] = positionals;
  let words = 0;
  let asHelp = help;
  if (first === 'help') {
    asHelp = true;
    words = 1;
    [first, second] = positionals.slice(1);
    if (first === undefined) return { command: undefined, words, help: true, version };
  }
  if (first === undefined) return { command: undefined, words, help, version };
  if (first === 'config') {
    if (second === undefined) {
      throw new UsageError("'store config' needs a subcommand: sample");
    }
    const command = COMMANDS.find((c) => c.name === `config ${second}`);
    if (!command) throw new UsageError(`unknown config subcommand '${second}' (known: sample)`);
    return { command, words: words + 2, help: asHelp, version };
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (!command) {
    throw new UsageError(
      `unknown command '${first}' (known: ${COMMANDS.map((c) => c.name).join(', ')})`,
    );
  }
  return { command, words: words + 1, help: asHelp, version };
}

function parseFor(command: Command, args: readonly string[], words: number) {
  try {
    const parsed = parseArgs({
      args: [...args],
      options: { ...toParseOptions(GLOBAL_OPTIONS), ...toParseOptions(command.options) },
      strict: true,
      allowPositionals: true,
    });
    // No option is declared `multiple`, so every value is a string or a boolean.
    const values = parsed.values as Record<string, string | boolean | undefined>;
    return { values, positionals: parsed.positionals.slice(words) };
  } catch (err) {
    throw new UsageError((err as Error).message, command.name);
  }
}

function checkPositionals(command: Command, positionals: readonly string[]): void {
  const { min, max, names } = command.positionals;
  if (positionals.length < min) {
    throw new UsageError(`'store ${command.name}' needs ${names}`, command.name);
  }
  if (positionals.length > max) {
    const extra = positionals.slice(max).join(' ');
    throw new UsageError(`'store ${command.name}': unexpected argument '${extra}'`, command.name);
  }
}

/** Global flags as far as they can be read from an unparsable command line. */
function looseFlags(args: readonly string[]): GlobalFlags {
  return {
    config: undefined,
    json: args.includes('--json'),
    debug: args.includes('--debug'),
  };
}

/**
 * Runs the `store` command line `args` (without `node` and the script) and
 * returns its exit code: 0 ok, 1 operational error, 2 usage error, 141 when
 * the reader of standard output went away.
 */
export async function runCli(args: readonly string[], io: CliIo = processIo()): Promise<ExitCode> {
  let invocation: Invocation;
  let parsed: ReturnType<typeof parseFor>;
  try {
    invocation = findCommand(args);
    if (invocation.version) {
      io.stdout.write(`${cliVersion()}\n`);
      return EXIT.OK;
    }
    if (!invocation.command) {
      const text = mainHelp(COMMANDS, cliVersion());
      if (invocation.help) {
        io.stdout.write(text);
        return EXIT.OK;
      }
      io.stderr.write(text);
      return EXIT.USAGE;
    }
    parsed = parseFor(invocation.command, args, invocation.words);
    if (invocation.help) {
      io.stdout.write(commandHelp(invocation.command));
      return EXIT.OK;
    }
    checkPositionals(invocation.command, parsed.positionals);
  } catch (err) {
    const flags = looseFlags(args);
    return reportError(err, { stderr: io.stderr, ...flags, redact: (t) => t });
  }
  const command = invocation.command;
  const flags: GlobalFlags = {
    config: typeof parsed.values.config === 'string' ? parsed.values.config : undefined,
    json: parsed.values.json === true,
    debug: parsed.values.debug === true,
  };
  const interrupt = listenForInterrupt();
  const ctx = new CommandContext({
    io,
    flags,
    signal: interrupt.signal,
    logger: streamLogger(io.stderr, flags.debug ? 'debug' : 'warn'),
  });
  try {
    await command.run(ctx, { values: parsed.values, positionals: parsed.positionals });
    return EXIT.OK;
  } catch (err) {
    // The output's reader left (`| head`): the read is stopped, nothing to report.
    if (err instanceof ReaderGone) return EXIT.BROKEN_PIPE;
    return reportError(err, {
      stderr: io.stderr,
      json: flags.json,
      debug: flags.debug,
      redact: ctx.redact,
      signal: interrupt.signal,
    });
  } finally {
    await ctx.close().catch(() => undefined);
    interrupt.dispose();
  }
}
