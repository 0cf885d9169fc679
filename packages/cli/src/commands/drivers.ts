/** `store drivers`: the driver packages found beside the CLI, and the disabled ones with why. */
import { capabilityNames, type DriverRegistry, silentLogger } from '@store/core';
import { table } from '../format.js';
import type { Command } from './command.js';

/** One driver type as `store drivers` reports it. */
export interface DriverReport {
  readonly type: string;
  readonly package: string;
  readonly version: string | null;
  readonly status: 'available' | 'disabled';
  readonly reason: string | null;
  readonly description: string | null;
  readonly schemes: readonly string[];
  readonly capabilities: number | null;
}

/** Loads every discovered driver and reports whether it works. */
export async function reportDrivers(registry: DriverRegistry): Promise<DriverReport[]> {
  await registry.loadAll();
  const out: DriverReport[] = [];
  for (const status of registry.status()) {
    const definition = status.disabledReason
      ? undefined
      : await registry.load(status.type).catch(() => undefined);
    out.push({
      type: status.type,
      package: status.source,
      version: status.version ?? null,
      status: definition ? 'available' : 'disabled',
      reason: definition ? null : (status.disabledReason ?? 'failed to load'),
      description: definition?.description ?? null,
      schemes: definition?.schemes ?? [],
      capabilities: definition?.capabilities ?? null,
    });
  }
  return out;
}

export const driversCommand: Command = {
  name: 'drivers',
  summary: 'list the discovered driver packages and versions, and disabled ones with why',
  synopsis: '',
  positionals: { min: 0, max: 0, names: '' },
  options: {},
  description: `Lists the driver types provided by installed packages (those beside the CLI
and in the working directory's node_modules, declared by "store": {"drivers": …}
in their package.json), loading each to see whether it works. Needs no config.

--json prints {"drivers": [{"type", "package", "version", "status":
"available"|"disabled", "reason": TEXT|null, "description": TEXT|null,
"schemes", "capabilities": N|null}]}.`,
  async run(ctx) {
    // The table says why a driver is disabled; the load warnings would repeat it.
    const registry = await ctx.registry(ctx.flags.debug ? ctx.logger : silentLogger);
    const drivers = await reportDrivers(registry);
    if (ctx.flags.json) {
      ctx.printJson({ drivers });
      return;
    }
    if (drivers.length === 0) {
      ctx.printLines(['no driver packages found (install one, e.g. @store/file)']);
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
