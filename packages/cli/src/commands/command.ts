/** The shape of one `store` subcommand. */
import type { CommandContext } from '../context.js';

/** An option of a command, as node:util parseArgs takes it. */
export interface OptionDef {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** Placeholder shown in help (`ID`, `FILE`, `N`). */
  readonly value?: string;
  readonly help: string;
}

/** Parsed arguments of one command. */
export interface CommandArgs {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

/** One subcommand: its usage, options and what it does. */
export interface Command {
  /** `add`, or `config sample` for a two-word command. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Arguments after the name, as shown in usage (`<location> [--out FILE]`). */
  readonly synopsis: string;
  /** A paragraph for `store <command> --help`, including the --json shape. */
  readonly description: string;
  readonly options: Readonly<Record<string, OptionDef>>;
  /** Positional arguments accepted. */
  readonly positionals: { readonly min: number; readonly max: number; readonly names: string };
  run(ctx: CommandContext, args: CommandArgs): Promise<void>;
}

/** The string value of option `name`, if given. */
export function stringOption(args: CommandArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
}
