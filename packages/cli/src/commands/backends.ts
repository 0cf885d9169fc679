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
  description: `Lists the backends of the configuration in use, and those disabled because
their driver could not load, with the reason.

--json prints {"config": {"kind", "path"?, "dataDir"?}, "default": ID|null,
"backends": [{"id", "type", "description": TEXT|null, "schemes", "capabilities",
"capabilityNames", "default", "reserved", "options"}], "disabled": [{"id",
"type", "reason"}]} (secret option values are shown as ***).`,
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
        })),
        disabled: store.disabledBackends,
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
    if (store.disabledBackends.length > 0) {
      lines.push('', 'disabled:');
      for (const d of store.disabledBackends) lines.push(`  ${d.id} (${d.type}): ${d.reason}`);
    }
    ctx.printLines(lines);
  },
};
