/** Every `store` subcommand, in the order help lists them. */
import { addCommand } from './add.js';
import { backendsCommand } from './backends.js';
import type { Command } from './command.js';
import { configSampleCommand } from './config-sample.js';
import { copyCommand } from './copy.js';
import { deleteCommand } from './delete.js';
import { driversCommand } from './drivers.js';
import { gcCommand } from './gc.js';
import { getCommand } from './get.js';
import { sizeCommand } from './size.js';
import { verifyCommand } from './verify.js';

export type { Command, CommandArgs, OptionDef } from './command.js';

/** The commands by name (`config sample` is a two-word name). */
export const COMMANDS: readonly Command[] = [
  addCommand,
  getCommand,
  sizeCommand,
  deleteCommand,
  copyCommand,
  gcCommand,
  backendsCommand,
  driversCommand,
  verifyCommand,
  configSampleCommand,
];
