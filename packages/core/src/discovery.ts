/**
 * Driver discovery, as stevedore finds glance_store's entry points: any installed
 * package whose package.json has `{"store": {"drivers": {"<type>": "<module>"}}}`
 * provides those driver types; the module's default export is the definition.
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { brandPrototype, isBrandedInstance } from './brand.js';
import { type DriverDefinition, defineDriver, isDriverDefinition } from './driver.js';
import { DriverLoadFailure, UnsupportedBackend } from './errors.js';
import { type Logger, silentLogger } from './logger.js';

/** A driver type found in an installed package's metadata. */
export interface DiscoveredDriver {
  readonly type: string;
  readonly packageName: string;
  readonly version: string;
  /** Absolute path of the module whose default export is the definition. */
  readonly modulePath: string;
}

/** Where to look for driver packages. */
export interface DiscoveryOptions {
  /**
   * Directories to start from; each one and its ancestors' `node_modules` are
   * searched. Defaults to the working directory and the running script's directory.
   */
  readonly paths?: readonly string[];
  /** Extra `node_modules`-style directories searched as they are. */
  readonly nodeModules?: readonly string[];
}

/** The state of one driver type in a registry. */
export interface DriverStatus {
  readonly type: string;
  /** `registered` (by code), or the package it came from. */
  readonly source: string;
  readonly version?: string;
  /** Set once a load failed: why the driver is disabled. */
  readonly disabledReason?: string;
}

function ancestorsNodeModules(start: string): string[] {
  const out: string[] = [];
  let dir = resolve(start);
  for (;;) {
    out.push(join(dir, 'node_modules'));
    const parent = dirname(dir);
    if (parent === dir) return out;
    dir = parent;
  }
}

async function listPackageDirs(nodeModules: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(nodeModules);
  } catch {
    return [];
  }
  const dirs: string[] = [];
  for (const entry of entries) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      const scoped = await readdir(join(nodeModules, entry)).catch(() => [] as string[]);
      for (const name of scoped) dirs.push(join(nodeModules, entry, name));
    } else dirs.push(join(nodeModules, entry));
  }
  return dirs;
}

/**
 * Scans installed packages for driver metadata. Packages are read in search
 * order; the first package to claim a type wins.
 */
export async function discoverDrivers(
  options: DiscoveryOptions = {},
  logger: Logger = silentLogger,
): Promise<DiscoveredDriver[]> {
  const starts = options.paths ?? [
    process.cwd(),
    ...(process.argv[1] ? [dirname(process.argv[1])] : []),
  ];
  const roots = [
    ...new Set([...(options.nodeModules ?? []), ...starts.flatMap(ancestorsNodeModules)]),
  ];
  const found = new Map<string, DiscoveredDriver>();
  const seenPackages = new Set<string>();
  for (const root of roots) {
    for (const dir of await listPackageDirs(root)) {
      let manifest: {
        name?: string;
        version?: string;
        store?: { drivers?: Record<string, string> };
      };
      try {
        manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
      } catch {
        continue;
      }
      const drivers = manifest.store?.drivers;
      if (!drivers || typeof drivers !== 'object') continue;
      const packageName = manifest.name ?? dir;
      if (seenPackages.has(packageName)) continue;
      seenPackages.add(packageName);
      for (const [type, modulePath] of Object.entries(drivers)) {
        if (typeof modulePath !== 'string') continue;
        if (found.has(type)) {
          logger.warn(
            `Driver type '${type}' from ${packageName} ignored: already provided by ${found.get(type)!.packageName}`,
          );
          continue;
        }
        found.set(type, {
          type,
          packageName,
          version: manifest.version ?? '0.0.0',
          modulePath: resolve(dir, modulePath),
        });
      }
    }
  }
  return [...found.values()];
}

const DRIVER_REGISTRY_BRAND = Symbol.for('@store/core.DriverRegistry');

interface RegistryEntry {
  source: string;
  version?: string;
  definition?: DriverDefinition;
  discovered?: DiscoveredDriver;
  disabledReason?: string;
}

/**
 * The driver types one manager can use: definitions registered by code (bundled
 * apps) plus those discovered in installed packages. Per instance, no global state.
 */
export class DriverRegistry {
  readonly #entries = new Map<string, RegistryEntry>();
  readonly #logger: Logger;

  constructor({ logger = silentLogger }: { logger?: Logger } = {}) {
    this.#logger = logger;
  }

  /** True for a DriverRegistry made by any copy of core in the process. */
  static [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of instanceof
    return isBrandedInstance(this, value, DRIVER_REGISTRY_BRAND);
  }

  /**
   * A registry holding every driver found by {@link discoverDrivers}, plus
   * `definitions` registered explicitly (those take precedence).
   */
  static async discover(
    options: DiscoveryOptions & { logger?: Logger; definitions?: readonly DriverDefinition[] } = {},
  ): Promise<DriverRegistry> {
    const registry = new DriverRegistry(options.logger ? { logger: options.logger } : {});
    for (const def of options.definitions ?? []) registry.register(def);
    for (const found of await discoverDrivers(options, options.logger))
      registry.addDiscovered(found);
    return registry;
  }

  /** Adds a driver definition explicitly; it replaces a discovered one of the same type. */
  register(definition: DriverDefinition): this {
    defineDriver(definition);
    this.#entries.set(definition.type, { source: 'registered', definition });
    return this;
  }

  /** Adds a discovered package's driver unless the type is already known. */
  addDiscovered(found: DiscoveredDriver): this {
    if (!this.#entries.has(found.type)) {
      this.#entries.set(found.type, {
        source: found.packageName,
        version: found.version,
        discovered: found,
      });
    }
    return this;
  }

  /** The known driver types. */
  types(): string[] {
    return [...this.#entries.keys()].sort();
  }

  /** Every known driver type with where it came from and, if it failed to load, why. */
  status(): DriverStatus[] {
    return this.types().map((type) => {
      const e = this.#entries.get(type)!;
      return {
        type,
        source: e.source,
        ...(e.version ? { version: e.version } : {}),
        ...(e.disabledReason ? { disabledReason: e.disabledReason } : {}),
      };
    });
  }

  /** Loads every known driver, so {@link status} reports which ones are disabled. */
  async loadAll(): Promise<void> {
    for (const type of this.types()) await this.load(type).catch(() => undefined);
  }

  /**
   * The definition of `type`, importing its package on first use.
   * @throws UnsupportedBackend when no package provides the type.
   * @throws DriverLoadFailure when the package failed to load (the reason is kept).
   */
  async load(type: string): Promise<DriverDefinition> {
    const entry = this.#entries.get(type);
    if (!entry) {
      throw new UnsupportedBackend(
        `No driver for backend type '${type}': install a package that provides it (e.g. @store/${type}) or register one`,
      );
    }
    if (entry.disabledReason)
      throw new DriverLoadFailure(`Driver '${type}' is disabled: ${entry.disabledReason}`);
    if (entry.definition) return entry.definition;
    const found = entry.discovered!;
    try {
      const mod = (await import(pathToFileURL(found.modulePath).href)) as Record<string, unknown>;
      const candidate = [
        mod.default,
        (mod.default as Record<string, unknown> | undefined)?.default,
        mod,
      ].find(isDriverDefinition);
      if (!candidate)
        throw new Error(`${found.modulePath} has no driver definition as its default export`);
      if (candidate.type !== type) {
        throw new Error(
          `${found.modulePath} defines driver type '${candidate.type}', not '${type}'`,
        );
      }
      entry.definition = defineDriver(candidate);
      return entry.definition;
    } catch (err) {
      entry.disabledReason = `${found.packageName}: ${(err as Error).message}`;
      this.#logger.warn(`Failed to load driver '${type}'; it will be disabled`, {
        reason: entry.disabledReason,
      });
      throw new DriverLoadFailure(`Driver '${type}' is disabled: ${entry.disabledReason}`, {
        cause: err,
      });
    }
  }

  /** Marks a driver disabled after its definition refused to create an instance. */
  disable(type: string, reason: string): void {
    const entry = this.#entries.get(type);
    if (entry) entry.disabledReason = reason;
  }
}
brandPrototype(DriverRegistry, DRIVER_REGISTRY_BRAND);
