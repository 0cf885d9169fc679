/**
 * `store config sample [--driver TYPE]`: a commented sample config generated from
 * the installed drivers' option schemas, as oslo-config-generator does for
 * glance_store.
 */
import {
  COMMON_OPTIONS,
  type DriverDefinition,
  type DriverRegistry,
  type OptionSpec,
  renderOptionsSample,
  silentLogger,
} from '@store/core';
import { type Command, stringOption } from './command.js';
import { type DriverReport, reportDrivers } from './drivers.js';

interface SampleDriver {
  readonly report: DriverReport;
  readonly definition: DriverDefinition;
}

function header(drivers: readonly SampleDriver[]): string {
  const types = drivers.map((d) => d.report.type);
  const enabled = types.map((t) => `${t}:${t}`).join(', ') || 'local:file';
  return [
    '# Sample @store configuration, generated from the option schemas of the installed',
    '# drivers. Save it as store.conf (or point --config or $STORE_CONFIG at it), enable',
    '# the backends you need, and name each backend section after its id.',
    '',
    '[DEFAULT]',
    '',
    '# Backends to enable, as comma-separated id:type pairs; each id gets a section',
    '# of its own below, holding its driver options.',
    '# (type: dict)',
    `#enabled_backends = ${enabled}`,
    '',
    '[glance_store]',
    '',
    '# The backend id that add uses when none is named.',
    '# (type: string)',
    `#default_backend = ${types[0] ?? 'local'}`,
    '',
  ].join('\n');
}

function driverSection({ report, definition }: SampleDriver): string {
  const from = `${report.package}${report.version ? ` ${report.version}` : ''}`;
  return [
    `# ---- ${definition.type} driver (${from})${definition.description ? `: ${definition.description}` : ''}`,
    `# Section of a backend enabled as <id>:${definition.type}; named here after the type.`,
    renderOptionsSample(definition.type, definition.options),
  ].join('\n');
}

function optionJson(spec: OptionSpec): Record<string, unknown> {
  return {
    name: spec.name,
    type: spec.type,
    default: spec.default ?? null,
    help: spec.help,
    secret: spec.secret ?? false,
    required: spec.required ?? false,
    ...(spec.min !== undefined ? { min: spec.min } : {}),
    ...(spec.max !== undefined ? { max: spec.max } : {}),
    ...(spec.choices ? { choices: spec.choices } : {}),
  };
}

async function collect(
  registry: DriverRegistry,
  only: string | undefined,
): Promise<{ drivers: SampleDriver[]; disabled: DriverReport[] }> {
  if (only !== undefined) {
    // Throws UnsupportedBackend or DriverLoadFailure naming the type; no other driver is imported.
    const definition = await registry.load(only);
    const report = (await reportDrivers(registry, (type) => type === only)).find(
      (d) => d.type === only,
    )!;
    return { drivers: [{ report, definition }], disabled: [] };
  }
  const drivers: SampleDriver[] = [];
  const disabled: DriverReport[] = [];
  for (const report of await reportDrivers(registry, () => true)) {
    if (report.status !== 'available') {
      disabled.push(report);
      continue;
    }
    drivers.push({ report, definition: await registry.load(report.type) });
  }
  return { drivers, disabled };
}

export const configSampleCommand: Command = {
  name: 'config sample',
  summary: "print a commented sample config generated from the drivers' option schemas",
  synopsis: '[--driver TYPE]',
  positionals: { min: 0, max: 0, names: '' },
  options: {
    driver: {
      type: 'string',
      value: 'TYPE',
      help: 'only this driver type (default: every installed one)',
    },
  },
  description: `Prints a glance-style INI sample: [DEFAULT] enabled_backends, [glance_store]
default_backend, and for each installed driver a section with every option
commented out at its default, with its help, type and limits. Disabled drivers
are listed in a comment. An unknown or disabled --driver exits 1.

Option schemas are code: the sample loads (imports) every driver that
\`store drivers\` lists, or only the one named by --driver.

--json prints {"sample": TEXT, "drivers": [{"type", "package", "version",
"options": [{"name", "type", "default", "help", "secret", "required", "min"?,
"max"?, "choices"?}]}], "disabled": [{"type", "reason"}]}.`,
  async run(ctx, args) {
    const registry = await ctx.registry(ctx.flags.debug ? ctx.logger : silentLogger);
    const { drivers, disabled } = await collect(registry, stringOption(args, 'driver'));
    const parts = [header(drivers), ...drivers.map(driverSection)];
    if (disabled.length > 0) {
      parts.push(
        [
          '# Drivers found but disabled (no section generated):',
          ...disabled.map((d) => `#   ${d.type} (${d.package}): ${d.reason}`),
          '',
        ].join('\n'),
      );
    }
    const sample = parts.join('\n');
    if (ctx.flags.json) {
      ctx.printJson({
        sample,
        drivers: drivers.map(({ report, definition }) => ({
          type: report.type,
          package: report.package,
          version: report.version,
          options: [...COMMON_OPTIONS, ...definition.options].map(optionJson),
        })),
        disabled: disabled.map((d) => ({ type: d.type, reason: d.reason })),
      });
    } else ctx.io.stdout.write(sample);
  },
};
