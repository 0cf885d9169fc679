/**
 * @store/cli: the `store` command (bin `store`, dist/cli.js), and the same
 * command line as a function for embedding or testing.
 *
 * @packageDocumentation
 */
export { COMMANDS, type Command, type CommandArgs, type OptionDef } from './commands/index.js';
export {
  type ConfigSource,
  defaultDataDir,
  describeSource,
  EMBEDDED_BACKEND,
  embeddedConfig,
  resolveConfig,
} from './config.js';
export { CommandContext, cliDiscovery, type GlobalFlags, type OpenedStore } from './context.js';
export { EXIT, type ExitCode } from './exit-codes.js';
export { type CliIo, type OutputStream, processIo } from './io.js';
export { errorCode, reportError } from './report.js';
export { cliVersion, runCli } from './run.js';
export { UsageError } from './usage.js';
