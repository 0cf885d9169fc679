/** Help text: the command list and each command's usage. */
import type { Command, OptionDef } from './commands/index.js';

/** Options every command accepts. */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionDef>> = {
  config: {
    type: 'string',
    value: 'FILE',
    help: 'config file (default: $STORE_CONFIG, else ./store.conf, else the embedded default)',
  },
  json: { type: 'boolean', help: 'print one JSON document (shape in the command help)' },
  debug: { type: 'boolean', help: 'log debug lines and print stack traces of errors' },
  help: { type: 'boolean', short: 'h', help: 'show help' },
};

function optionLines(options: Readonly<Record<string, OptionDef>>): string[] {
  const rows = Object.entries(options).map(([name, def]) => [
    `${def.short ? `-${def.short}, ` : ''}--${name}${def.value ? ` ${def.value}` : ''}`,
    def.help,
  ]);
  const width = Math.max(...rows.map(([left]) => left!.length));
  return rows.map(([left, right]) => `  ${left!.padEnd(width)}  ${right}`);
}

/** `store --help`. */
export function mainHelp(commands: readonly Command[], version: string): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `store ${version}: add, get, copy and inspect images in any @store backend`,
    '',
    'Usage: store <command> [arguments] [--config FILE] [--json] [--debug]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options of every command:',
    ...optionLines({
      ...GLOBAL_OPTIONS,
      version: { type: 'boolean', help: 'print the version' },
    }),
    '',
    'Config: --config FILE, else $STORE_CONFIG, else ./store.conf, else the embedded',
    'default: one file backend "local" under $STORE_DATA_DIR (default',
    '~/.local/share/store). Exit codes: 0 ok, 1 operational error, 2 usage error,',
    '141 the reader of standard output went away (as cat under SIGPIPE).',
    "Run 'store <command> --help' for a command's arguments and --json shape.",
    '',
  ].join('\n');
}

/** `store <command> --help`. */
export function commandHelp(command: Command): string {
  return [
    `Usage: store ${command.name}${command.synopsis ? ` ${command.synopsis}` : ''}`,
    '',
    `${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}.`,
    '',
    command.description,
    '',
    ...(Object.keys(command.options).length > 0
      ? ['Options:', ...optionLines(command.options), '']
      : []),
    'Options of every command:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
  ].join('\n');
}
