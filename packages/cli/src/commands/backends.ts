/** `store backends`: the configured backends, their drivers and capabilities. */
import { describeSource } from '../config.js';
import { table } from '../format.js';
import type { Command } from './command.js';

export const backendsCommand: Command = {
  name: 'backends',
  summary: 'list the configured backends: ids, driver types, capabilities, default, reserved',
  synopsis: '',
  positionals: { min: 0, max: 0, names: '' },
  options: {},
  description: `Lists the backends of the configuration in use; those that read but cannot add
(their write side failed to configure, e.g. an unwritable data directory), with
the reason; and those disabled (unknown type, driver that could not load or
refused its configuration), with the reason.

--json prints {"config": {"kind", "path"?, "dataDir"?}, "default": ID|null,
"backends": [{"id", "type", "description": TEXT|null, "schemes", "capabilities",
"capabilityNames", "default", "reserved", "options", "addDisabled"?: REASON}],
"disabled": [{"id", "type", "reason"}]} (secret option values are shown as ***).`,
  async run(ctx) {
    const { store, source } = await ctx.openStore();
    const backends = store.backends;
    if (ctx.flags.json) {
      ctx.printJson({
        config: source,
        default: store.defaultBackend ?? null,
        backends: backends.map((b) => ({
          id: b.id,
          type: b.type,
          description: b.description ?? null,
          schemes: b.schemes,
          capabilities: b.capabilities,
          capabilityNames: b.capabilityNames,
          default: b.isDefault,
          reserved: b.reserved,
          options: b.options,
          ...(b.addDisabledReason !== undefined
            ? { addDisabled: ctx.redact(b.addDisabledReason) }
            : {}),
        })),
        // Reasons may quote an option beside a credential-looking one core does not know.
        disabled: store.disabledBackends.map((d) => ({ ...d, reason: ctx.redact(d.reason) })),
      });
      return;
    }
    const lines = [`config: ${describeSource(source)}`, ''];
    lines.push(
      ...table(
        ['ID', 'TYPE', 'DEFAULT', 'RESERVED', 'CAPABILITIES', 'DESCRIPTION'],
        backends.map((b) => [
          b.id,
          b.type,
          b.isDefault ? 'yes' : 'no',
          b.reserved ? 'yes' : 'no',
          `${b.capabilityNames.join(', ')} (${b.capabilities})`,
          b.description ?? '',
        ]),
      ),
    );
    const addDisabled = backends.filter((b) => b.addDisabledReason !== undefined);
    if (addDisabled.length > 0) {
      lines.push('', 'adding disabled (still reading):');
      for (const b of addDisabled)
        lines.push(`  ${b.id} (${b.type}): ${ctx.redact(b.addDisabledReason!)}`);
    }
    if (store.disabledBackends.length > 0) {
      lines.push('', 'disabled:');
      for (const d of store.disabledBackends)
        lines.push(`  ${d.id} (${d.type}): ${ctx.redact(d.reason)}`);
    }
    ctx.printLines(lines);
  },
};
