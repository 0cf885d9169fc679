/**
 * What every command runs with: the streams, the parsed global flags, the
 * interrupt signal, the logger, and the store opened from the resolved config.
 */

import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type DiscoveryOptions,
  DriverRegistry,
  type Logger,
  MultiStore,
  redactingLogger,
  type StoreConfig,
} from '@store/core';
import { CLI_STRICTNESS, type ConfigSource, resolveConfig } from './config.js';
import type { CliIo, OutputStream } from './io.js';
import { noProgress, type Progress, progressBar } from './progress.js';
import { configRedactor } from './redact.js';

/** A store opened from the resolved configuration. */
export interface OpenedStore {
  readonly store: MultiStore;
  readonly config: StoreConfig;
  readonly source: ConfigSource;
}

/** The values of the options every command accepts. */
export interface GlobalFlags {
  readonly config: string | undefined;
  readonly json: boolean;
  readonly debug: boolean;
}

/**
 * Where drivers are discovered: the dependencies of the project that installed the
 * CLI (when it lies under a project's node_modules) and of the CLI's own package,
 * found from this module's real path, so a global install works through the bin
 * symlink. The working directory is never searched: folders listed in
 * `STORE_DRIVER_PATH` (from `env`) are, on request.
 */
export function cliDiscovery(env: Readonly<Record<string, string | undefined>>): DiscoveryOptions {
  return { from: dirname(fileURLToPath(import.meta.url)), env };
}

/** The per-run context handed to a command. */
export class CommandContext {
  readonly io: CliIo;
  readonly flags: GlobalFlags;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly discovery: DiscoveryOptions;
  /** Masks credentials of the loaded config in printed errors (set once one is loaded). */
  redact: (text: string) => string = (text) => text;
  #opened: OpenedStore | undefined;

  constructor(parts: { io: CliIo; flags: GlobalFlags; signal: AbortSignal; logger: Logger }) {
    this.io = parts.io;
    this.flags = parts.flags;
    this.signal = parts.signal;
    this.logger = parts.logger;
    this.discovery = cliDiscovery(parts.io.env);
  }

  /** Discovers the installed drivers. */
  async registry(logger: Logger = this.logger): Promise<DriverRegistry> {
    return DriverRegistry.discover({ ...this.discovery, logger });
  }

  /**
   * Resolves the config (`--config`, `$STORE_CONFIG`, `./store.conf`, embedded
   * default) and creates the manager; closed by {@link close}.
   */
  async openStore(): Promise<OpenedStore> {
    if (this.#opened) return this.#opened;
    const { config, source } = await resolveConfig({
      flag: this.flags.config,
      env: this.io.env,
      cwd: this.io.cwd,
      logger: this.logger,
    });
    const registry = await this.registry();
    this.redact = await configRedactor(config, registry);
    const store = await MultiStore.create(config, {
      drivers: registry,
      // Warnings about a backend may quote an option next to a credential-looking one.
      logger: redactingLogger(this.logger, (text) => this.redact(text)),
      strict: CLI_STRICTNESS,
    });
    this.#opened = { store, config, source };
    return this.#opened;
  }

  /** Closes the store if one was opened. */
  async close(): Promise<void> {
    await this.#opened?.store.close();
  }

  /** Prints the machine-readable result: one JSON document on `stream` (stdout by default). */
  printJson(value: unknown, stream: OutputStream = this.io.stdout): void {
    stream.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Prints human-readable lines on `stream` (stdout by default). */
  printLines(lines: readonly string[], stream: OutputStream = this.io.stdout): void {
    if (lines.length > 0) stream.write(`${lines.join('\n')}\n`);
  }

  /** A progress bar on stderr when it is a terminal and --json is off; otherwise silent. */
  progress(label: string, total: number | undefined): Progress {
    if (this.flags.json || !this.io.stderr.isTTY) return noProgress;
    return progressBar(this.io.stderr, label, total);
  }
}
