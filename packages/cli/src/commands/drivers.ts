/**
 * `store drivers`: the driver packages found from package.json metadata, without
 * running their code; with --check, each is loaded to tell available from disabled.
 */
import { capabilityNames, type DriverRegistry, silentLogger } from '@store/core';
import { table } from '../format.js';
import type { Command } from './command.js';

/** One driver type as `store drivers` reports it. */
export interface DriverReport {
  readonly type: string;
  readonly package: string;
  readonly version: string | null;
  /** `found` from metadata only; `available` or `disabled` once loaded (--check). */
  readonly status: 'found' | 'available' | 'disabled';
  readonly reason: string | null;
  readonly description: string | null;
  readonly schemes: readonly string[];
  readonly capabilities: number | null;
}

/**
 * Reports the registry's drivers from their metadata; only the types in `load`
 * are imported (their code runs) to learn whether they work and what they offer.
 */
export async function reportDrivers(
  registry: DriverRegistry,
  load: (type: string) => boolean = () => false,
): Promise<DriverReport[]> {
  const out: DriverReport[] = [];
  for (const { type } of registry.status()) {
    const definition = load(type) ? await registry.load(type).catch(() => undefined) : undefined;
    // Read after loading: a failed load records why.
    const status = registry.status().find((s) => s.type === type)!;
    const loaded = load(type);
    out.push({
      type,
      package: status.source,
      version: status.version ?? null,
      status: !loaded ? 'found' : definition ? 'available' : 'disabled',
      reason: !loaded || definition ? null : (status.disabledReason ?? 'failed to load'),
      description: definition?.description ?? null,
      schemes: definition?.schemes ?? [],
      capabilities: definition?.capabilities ?? null,
    });
  }
  return out;
}

export const driversCommand: Command = {
  name: 'drivers',
  summary:
    'list the discovered driver packages and versions (--check: load them, show disabled ones)',
  synopsis: '[--check]',
  positionals: { min: 0, max: 0, names: '' },
  options: {
    check: {
      type: 'boolean',
      help: 'load each driver (runs its code) to show whether it works and what it offers',
    },
  },
  description: `Lists the driver types that installed packages declare by "store": {"drivers": …}
in their package.json: the dependencies of the project that installed the CLI and
of the CLI itself, plus packages in the folders listed in $STORE_DRIVER_PATH. The
working directory is not searched. Listing reads metadata only and runs no driver
code; --check loads each driver to see whether it works. Needs no config.

--json prints {"drivers": [{"type", "package", "version", "status":
"found"|"available"|"disabled", "reason": TEXT|null, "description": TEXT|null,
"schemes", "capabilities": N|null}]}; description, schemes and capabilities
are known with --check only.`,
  async run(ctx, args) {
    const check = args.values.check === true;
    // With --check the table says why a driver is disabled; load warnings would repeat it.
    const registry = await ctx.registry(ctx.flags.debug || !check ? ctx.logger : silentLogger);
    const drivers = await reportDrivers(registry, () => check);
    if (ctx.flags.json) {
      ctx.printJson({ drivers });
      return;
    }
    if (drivers.length === 0) {
      ctx.printLines(['no driver packages found (install one, e.g. @store/file)']);
      return;
    }
    if (!check) {
      ctx.printLines(
        table(
          ['TYPE', 'PACKAGE', 'VERSION'],
          drivers.map((d) => [d.type, d.package, d.version ?? '']),
        ),
      );
      return;
    }
    ctx.printLines(
      table(
        ['TYPE', 'PACKAGE', 'VERSION', 'STATUS', 'DETAILS'],
        drivers.map((d) => [
          d.type,
          d.package,
          d.version ?? '',
          d.status,
          d.status === 'available'
            ? `${d.description ?? ''} [schemes: ${d.schemes.join(', ')}; capabilities: ${capabilityNames(d.capabilities ?? 0).join(', ')}]`.trim()
            : (d.reason ?? ''),
        ]),
      ),
    );
  },
};
