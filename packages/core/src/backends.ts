/**
 * Backend assembly (glance_store's `create_multi_stores`): the driver registry,
 * option validation and the secrets they reveal, each backend's driver; and the
 * lifecycle of a backend's driver instance on every call.
 */

import { Capability, CapabilitySet } from './capabilities.js';
import type { StoreConfig } from './config.js';
import { DriverRegistry } from './discovery.js';
import type { Driver, DriverContext, DriverDefinition } from './driver.js';
import { BadStoreConfiguration, DriverLoadFailure, UnsupportedBackend } from './errors.js';
import { LocationRegistry } from './location.js';
import { type Logger, redactingLogger, silentLogger } from './logger.js';
import { reportUnknownNames } from './names.js';
import { secretValues } from './option-redaction.js';
import { validateOptions } from './option-values.js';
import { COMMON_OPTIONS, type OptionValues } from './options.js';
import { redactError } from './redaction.js';
import { Secrets } from './secrets.js';
import type { DisabledBackend, MultiStoreOptions } from './store-types.js';

/** One enabled backend, as the manager holds it. */
export interface Backend {
  readonly id: string;
  readonly definition: DriverDefinition;
  readonly context: DriverContext;
  readonly capabilities: CapabilitySet;
  readonly reusable: boolean;
  readonly driver: Driver;
  readonly reserved: boolean;
  /** Why the driver disabled adding (see configureWrites), masked. */
  readonly writeSide: { addDisabledReason?: string };
  /** Whether add's location metadata names the backend (`store`): not in single-store mode. */
  readonly namesItself: boolean;
}

/** What {@link assembleBackends} hands the manager. */
export interface AssembledBackends {
  readonly backends: Map<string, Backend>;
  /** Backends that could not be enabled, reasons masked. */
  readonly disabled: DisabledBackend[];
  /** Backend ids in configuration order (enabled, then reserved). */
  readonly order: readonly string[];
  readonly locations: LocationRegistry<Backend>;
  readonly defaultBackend: string | undefined;
  /** The caller's logger behind the secrets' masking. */
  readonly logger: Logger;
  readonly secrets: Secrets;
  readonly registry: DriverRegistry;
}

/** An enabled or reserved backend's config entry: id, driver type, reserved. */
type Enabled = [id: string, type: string, reserved: boolean];

/** A backend whose driver loaded and whose options are valid, not yet created. */
interface Prepared {
  readonly id: string;
  readonly type: string;
  readonly reserved: boolean;
  readonly definition: DriverDefinition;
  readonly values: OptionValues;
}

/**
 * Loads the drivers named by `config`, validates every backend's options and
 * creates the backends; see {@link MultiStore.create} for what disables a backend
 * and what throws. On failure every driver created so far is closed.
 */
export async function assembleBackends(
  config: StoreConfig,
  options: MultiStoreOptions,
): Promise<AssembledBackends> {
  const secrets = new Secrets();
  const logger = redactingLogger(options.logger ?? silentLogger, secrets.redact);

  const registry =
    options.drivers instanceof DriverRegistry
      ? options.drivers
      : await DriverRegistry.discover({
          ...options.discovery,
          logger,
          definitions: (options.drivers as readonly DriverDefinition[] | undefined) ?? [],
        });

  const enabled: Enabled[] = [
    ...Object.entries(config.enabledBackends ?? {}).map(([id, type]): Enabled => [id, type, false]),
    ...Object.entries(options.reservedStores ?? {}).map(([id, type]): Enabled => [id, type, true]),
  ];
  // A mistyped section would leave its backend on defaults: say so.
  const ids = enabled.map(([id]) => id);
  reportUnknownNames(
    'config',
    Object.keys(config.backends ?? {}).filter((name) => !ids.includes(name)),
    ids,
    { logger, strict: options.strict, noun: 'section', why: '(names no enabled backend)' },
  );
  if (enabled.length === 0) {
    throw new BadStoreConfiguration(
      'No backends are enabled: set [DEFAULT] enabled_backends (e.g. "local:file")',
    );
  }
  const defaultBackend = config.defaultBackend || undefined;
  if (defaultBackend && !enabled.some(([id]) => id === defaultBackend)) {
    throw new BadStoreConfiguration(
      `default_backend '${defaultBackend}' is not one of the enabled backends`,
    );
  }

  const disabled: DisabledBackend[] = [];
  // Every definition loads and every backend's options validate first, so every
  // secret is known before any driver can log or throw.
  const prepared = await prepareBackends(config, options, enabled, {
    registry,
    logger,
    secrets,
    disabled,
  });
  const { redact } = secrets;

  const backends = new Map<string, Backend>();
  const locations = new LocationRegistry<Backend>();
  const closeAll = () => Promise.allSettled([...backends.values()].map((b) => b.driver.close?.()));
  try {
    for (const { id, type, reserved, definition, values } of prepared) {
      const capabilities = new CapabilitySet(definition.capabilities);
      const writeSide: Backend['writeSide'] = {};
      const context: DriverContext = {
        backendId: id,
        type,
        options: values,
        capabilities,
        logger,
        reserved,
        onWritesDisabled: (reason) => {
          writeSide.addDisabledReason = redact(reason);
        },
      };
      let driver: Driver;
      try {
        driver = await definition.create(context);
      } catch (err) {
        if (err instanceof DriverLoadFailure) {
          registry.disable(type, redact(err.message));
          disabled.push({ id, type, reason: err.message });
          logger.warn(`Backend '${id}' is disabled: ${err.message}`);
          continue;
        }
        // glance_store skips a store whose driver fails to initialise.
        if (err instanceof BadStoreConfiguration) {
          disabled.push({ id, type, reason: err.message });
          logger.warn(`Backend '${id}' is disabled: ${err.message}`);
          continue;
        }
        throw err;
      }
      const backend: Backend = {
        id,
        definition,
        context,
        capabilities,
        reusable: capabilities.has(Capability.DRIVER_REUSABLE),
        driver,
        reserved,
        writeSide,
        namesItself: !config.singleStore,
      };
      backends.set(id, backend);
      locations.register(definition.schemes, id, backend);
      logger.debug(
        `Registered backend '${id}' (${type}) for schemes ${definition.schemes.join(', ')}`,
      );
    }
  } catch (err) {
    await closeAll();
    throw redactError(err, redact);
  }
  const unusable = () => disabled.map((d) => `'${d.id}' (${d.reason})`).join('; ');
  if (backends.size === 0 || (defaultBackend && !backends.has(defaultBackend))) {
    await closeAll();
    const what =
      backends.size === 0
        ? 'No backend is usable'
        : `The default backend '${defaultBackend}' is disabled`;
    throw new BadStoreConfiguration(redact(`${what}: ${unusable()}`));
  }
  return {
    backends,
    // Reasons come from driver code and may quote an option: mask secrets.
    disabled: disabled.map((d) => ({ ...d, reason: redact(d.reason) })),
    order: ids,
    locations,
    defaultBackend,
    logger,
    secrets,
    registry,
  };
}

/**
 * Loads each enabled backend's driver definition and validates its options,
 * adding its secret values to `secrets`. A backend whose type is unknown or whose
 * driver fails to load goes to `disabled`.
 */
async function prepareBackends(
  config: StoreConfig,
  options: MultiStoreOptions,
  enabled: readonly Enabled[],
  into: {
    registry: DriverRegistry;
    logger: Logger;
    secrets: Secrets;
    disabled: DisabledBackend[];
  },
): Promise<Prepared[]> {
  const { registry, logger, secrets, disabled } = into;
  const prepared: Prepared[] = [];
  for (const [id, type, reserved] of enabled) {
    if (!id || typeof type !== 'string' || !type) {
      throw new BadStoreConfiguration(`Backend '${id}' has no driver type in enabled_backends`);
    }
    let definition: DriverDefinition;
    try {
      definition = await registry.load(type);
    } catch (err) {
      if (err instanceof UnsupportedBackend) {
        const reason = `unknown backend type '${type}'. ${err.message}`;
        disabled.push({ id, type, reason });
        logger.warn(`Backend '${id}' is disabled: ${reason}`);
        continue;
      }
      if (err instanceof DriverLoadFailure) {
        disabled.push({ id, type, reason: err.message });
        logger.warn(`Backend '${id}' is disabled: ${err.message}`);
        continue;
      }
      throw err;
    }
    // Own properties only: a backend named `constructor` must not find Object's.
    const raw = config.backends && Object.hasOwn(config.backends, id) ? config.backends[id] : {};
    let checked: ReturnType<typeof validateOptions>;
    try {
      checked = validateOptions(id, definition.options, raw ?? {}, { reserved });
    } catch (err) {
      // A non-secret option may still hold a URI with credentials.
      throw redactError(err, secrets.redact);
    }
    const { values, unknown } = checked;
    // In single-store mode every backend gets all of [glance_store]: other drivers' options too.
    if (!config.singleStore) {
      reportUnknownNames(
        `Backend '${id}'`,
        unknown,
        [...COMMON_OPTIONS, ...definition.options].map((spec) => spec.name),
        { logger, strict: options.strict, noun: 'option' },
      );
    }
    secrets.add(secretValues(definition.options, values));
    prepared.push({ id, type, reserved, definition, values });
  }
  return prepared;
}

/**
 * A backend's driver for one call: the backend's own when it is reusable,
 * otherwise a fresh instance (glance_store re-creates a non-reusable store per
 * use) that `release` closes. `release` never rejects.
 */
export interface DriverLease {
  readonly driver: Driver;
  /** Closes a fresh instance; undefined for the backend's shared driver. */
  readonly release: (() => Promise<void>) | undefined;
}

/** Takes a driver of `backend` for one call; see {@link DriverLease}. */
export async function leaseDriver(backend: Backend): Promise<DriverLease> {
  if (backend.reusable) return { driver: backend.driver, release: undefined };
  const driver = await backend.definition.create(backend.context);
  return {
    driver,
    release: async () => {
      await driver.close?.().catch(() => undefined);
    },
  };
}

/** Runs `work` on a driver of `backend`, releasing a fresh instance after it. */
export async function withDriver<T>(
  backend: Backend,
  work: (driver: Driver) => Promise<T>,
): Promise<T> {
  const { driver, release } = await leaseDriver(backend);
  try {
    return await work(driver);
  } finally {
    await release?.();
  }
}
