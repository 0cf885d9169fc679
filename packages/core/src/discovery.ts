/**
 * Driver discovery, as stevedore finds glance_store's entry points: an installed
 * package whose package.json has `{"store": {"drivers": {"<type>": "<module>"}}}`
 * provides those driver types; the module's default export is the definition.
 *
 * Which packages count is decided the way Node resolves the app's own imports, never
 * by scanning folders: the app's declared dependencies, then the dependencies of each
 * reached package that itself depends on @store/core, each resolved through the
 * `node_modules` chain of the package that declares it. Only package.json files are
 * read here; no driver code runs until {@link DriverRegistry.load}.
 */
import { readdir, readFile, realpath } from 'node:fs/promises';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
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

/**
 * Where to look for driver packages. By default only the running app's dependency
 * tree is used; directories are scanned as a whole only when asked for, through
 * {@link DiscoveryOptions.nodeModules} or `STORE_DRIVER_PATH`.
 */
export interface DiscoveryOptions {
  /**
   * The app: files or directories inside the app's package (its nearest
   * package.json, by real path). Defaults to the main module (`process.argv[1]`), or
   * the working directory when there is none (REPL, `node -e`). When a path lies in
   * an installed package (under `node_modules`, as a bin such as `store` does), the
   * project that installed it comes first, then the package itself.
   */
  readonly from?: string | readonly string[];
  /**
   * `node_modules`-style directories whose every package is considered, after the
   * app's dependency tree. Opt-in: nothing is scanned unless listed here or in
   * `STORE_DRIVER_PATH`.
   */
  readonly nodeModules?: readonly string[];
  /**
   * Environment to read `STORE_DRIVER_PATH` from (directories separated by the
   * platform's path delimiter, scanned like {@link nodeModules}). Defaults to
   * `process.env`.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
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

const CORE_PACKAGE = '@store/core';

interface Manifest {
  readonly name?: string;
  readonly version?: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
  readonly store?: { readonly drivers?: Record<string, unknown> };
}

/** A package reached by discovery: its real directory and manifest. */
interface FoundPackage {
  readonly dir: string;
  readonly manifest: Manifest;
}

async function readPackage(dir: string): Promise<FoundPackage | undefined> {
  try {
    const real = await realpath(dir);
    const manifest = JSON.parse(await readFile(join(real, 'package.json'), 'utf8')) as unknown;
    if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest)) return undefined;
    return { dir: real, manifest: manifest as Manifest };
  } catch {
    return undefined;
  }
}

/**
 * The package a file or directory belongs to: the nearest package.json with a name or
 * dependencies (one holding only `"type"`, as builds put in dist/, is passed over).
 */
async function owningPackage(path: string): Promise<FoundPackage | undefined> {
  let dir = path;
  for (;;) {
    const found = await readPackage(dir);
    if (found && (found.manifest.name !== undefined || declared(found.manifest, true).length > 0))
      return found;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Resolves `name` from package `from` as Node does: `node_modules` of it and each ancestor. */
async function resolvePackage(name: string, from: string): Promise<FoundPackage | undefined> {
  let dir = from;
  for (;;) {
    if (basename(dir) !== 'node_modules') {
      const found = await readPackage(join(dir, 'node_modules', ...name.split('/')));
      if (found) return found;
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Where to start from a path given as the app: its own package and, first, when it
 * lies under `node_modules` (an installed bin such as `store`, or a library the app
 * embeds), the project that installed it (above the outermost `node_modules`).
 */
async function appPackages(path: string): Promise<FoundPackage[]> {
  let real = resolve(path);
  try {
    real = await realpath(real);
  } catch {
    // A path that does not exist yet still names where the app lives.
  }
  const segments = real.split(/[\\/]/);
  const outermost = segments.indexOf('node_modules');
  // The installing project holds its package.json right there; no looking further up.
  const project =
    outermost > 0 ? await readPackage(segments.slice(0, outermost).join('/') || '/') : undefined;
  const own = await owningPackage(real);
  return [project, own].filter((p): p is FoundPackage => p !== undefined);
}

function declared(manifest: Manifest, withDev: boolean): string[] {
  const names = [
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.optionalDependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
    ...(withDev ? Object.keys(manifest.devDependencies ?? {}) : []),
  ];
  return [...new Set(names)];
}

function dependsOnCore(manifest: Manifest): boolean {
  return declared(manifest, false).includes(CORE_PACKAGE);
}

async function listPackageDirs(nodeModules: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(nodeModules);
  } catch {
    return [];
  }
  const dirs: string[] = [];
  for (const entry of entries.sort()) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      const scoped = await readdir(join(nodeModules, entry)).catch(() => [] as string[]);
      for (const name of scoped.sort()) dirs.push(join(nodeModules, entry, name));
    } else dirs.push(join(nodeModules, entry));
  }
  return dirs;
}

/**
 * The packages to read driver metadata from, in precedence order: the apps' own
 * dependencies (dev ones too, for a checkout), breadth first through the packages
 * that depend on @store/core, then the opted-in `node_modules` directories.
 */
async function candidatePackages(options: DiscoveryOptions): Promise<FoundPackage[]> {
  // The main module is where Node resolves the app's imports from; the REPL and
  // `node -e` resolve from the working directory.
  const given =
    options.from === undefined ? [process.argv[1] || process.cwd()] : [options.from].flat();
  const apps = (await Promise.all(given.map(appPackages))).flat();
  const seen = new Set<string>();
  const out: FoundPackage[] = [];
  const queue: { pkg: FoundPackage; root: boolean }[] = [];
  for (const app of apps) {
    if (!seen.has(app.dir)) {
      seen.add(app.dir);
      out.push(app);
      queue.push({ pkg: app, root: true });
    }
  }
  for (let i = 0; i < queue.length; i++) {
    const { pkg, root } = queue[i]!;
    for (const name of declared(pkg.manifest, root)) {
      const dep = await resolvePackage(name, pkg.dir);
      if (!dep || seen.has(dep.dir)) continue;
      seen.add(dep.dir);
      out.push(dep);
      if (dependsOnCore(dep.manifest)) queue.push({ pkg: dep, root: false });
    }
  }
  const env = options.env ?? process.env;
  const extra = [
    ...(options.nodeModules ?? []),
    ...(env.STORE_DRIVER_PATH ?? '').split(delimiter).filter(Boolean),
  ];
  for (const dir of extra) {
    for (const packageDir of await listPackageDirs(resolve(dir))) {
      const found = await readPackage(packageDir);
      if (found && !seen.has(found.dir)) {
        seen.add(found.dir);
        out.push(found);
      }
    }
  }
  return out;
}

/**
 * Lists the driver types the app's installed packages declare, from their
 * package.json metadata only: no driver code is imported. When two packages claim
 * one type, the first in precedence order (the app's own dependencies first) wins
 * and a warning names both.
 */
export async function discoverDrivers(
  options: DiscoveryOptions = {},
  logger: Logger = silentLogger,
): Promise<DiscoveredDriver[]> {
  const found = new Map<string, DiscoveredDriver & { dir: string }>();
  for (const { dir, manifest } of await candidatePackages(options)) {
    const drivers = manifest.store?.drivers;
    if (!drivers || typeof drivers !== 'object') continue;
    const packageName = manifest.name ?? dir;
    const version = manifest.version ?? '0.0.0';
    for (const [type, modulePath] of Object.entries(drivers)) {
      if (typeof modulePath !== 'string') continue;
      const first = found.get(type);
      if (first) {
        logger.warn(
          `Driver type '${type}' is claimed by two packages: ${first.packageName}@${first.version} (${first.dir}), used, and ${packageName}@${version} (${dir}), ignored`,
        );
        continue;
      }
      found.set(type, { type, packageName, version, modulePath: resolve(dir, modulePath), dir });
    }
  }
  return [...found.values()].map(({ dir: _dir, ...driver }) => driver);
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
