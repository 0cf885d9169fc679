/**
 * Where the CLI's store configuration comes from: `--config FILE`, else
 * `$STORE_CONFIG`, else `./store.conf`, else an embedded default (one file
 * backend `local` in the user's data directory), so `store add` works on a fresh
 * machine with no setup.
 */
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import {
  BadStoreConfiguration,
  type Logger,
  loadConfig,
  type StoreConfig,
  type Strictness,
  silentLogger,
} from '@store/core';

/**
 * How the CLI treats names nothing reads: a likely typo (an option or section
 * name close to a known one) is an error with a "did you mean" hint, since the
 * store would otherwise silently use a default (and write elsewhere); other
 * unknown names (Glance's own options in a glance-api.conf) are warnings.
 */
export const CLI_STRICTNESS: Strictness = 'typos';

/** The id of the embedded default's only backend. */
export const EMBEDDED_BACKEND = 'local';

/** Where a configuration came from. */
export type ConfigSource =
  | { readonly kind: 'option' | 'environment' | 'working-directory'; readonly path: string }
  | { readonly kind: 'embedded'; readonly dataDir: string };

/**
 * The data directory of the embedded default: `$STORE_DATA_DIR`, else
 * `$XDG_DATA_HOME/store`, else `~/.local/share/store`.
 */
export function defaultDataDir(env: Readonly<Record<string, string | undefined>>): string {
  if (env.STORE_DATA_DIR) return resolve(env.STORE_DATA_DIR);
  const xdg = env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : undefined;
  return join(xdg ?? join(homedir(), '.local', 'share'), 'store');
}

/** The embedded default: one file backend `local` storing images in `<dataDir>/local`. */
export function embeddedConfig(dataDir: string): StoreConfig {
  return {
    enabledBackends: { [EMBEDDED_BACKEND]: 'file' },
    defaultBackend: EMBEDDED_BACKEND,
    backends: {
      [EMBEDDED_BACKEND]: {
        filesystem_store_datadir: join(dataDir, EMBEDDED_BACKEND),
        store_description: 'Embedded default: images in the user data directory',
      },
    },
  };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Finds and loads the configuration.
 * @throws BadStoreConfiguration when the named file cannot be read or parsed, or
 * has a likely typo in an option or section name ({@link CLI_STRICTNESS}).
 */
export async function resolveConfig(options: {
  readonly flag: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Gets the warnings about unknown names. */
  readonly logger?: Logger;
}): Promise<{ config: StoreConfig; source: ConfigSource }> {
  const { flag, env, cwd, logger = silentLogger } = options;
  if (flag === '') throw new BadStoreConfiguration('--config needs a file name');
  const named: ConfigSource | undefined =
    flag !== undefined
      ? { kind: 'option', path: resolve(cwd, flag) }
      : env.STORE_CONFIG
        ? { kind: 'environment', path: resolve(cwd, env.STORE_CONFIG) }
        : (await isFile(join(cwd, 'store.conf')))
          ? { kind: 'working-directory', path: join(cwd, 'store.conf') }
          : undefined;
  if (!named) {
    const dataDir = defaultDataDir(env);
    return { config: embeddedConfig(dataDir), source: { kind: 'embedded', dataDir } };
  }
  return {
    config: await loadConfig(named.path, { logger, strict: CLI_STRICTNESS }),
    source: named,
  };
}

/** One line naming where the configuration came from. */
export function describeSource(source: ConfigSource): string {
  switch (source.kind) {
    case 'embedded':
      return `embedded default (data directory ${source.dataDir})`;
    case 'option':
      return `${source.path} (--config)`;
    case 'environment':
      return `${source.path} ($STORE_CONFIG)`;
    case 'working-directory':
      return `${source.path} (working directory)`;
  }
}
