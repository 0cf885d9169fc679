import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DriverRegistry, type OptionSpec } from '@store/core';
import { describe, expect, it } from 'vitest';
import { peer } from './peer.js';

interface GlanceOption {
  name: string;
  type: string;
  default: unknown;
  secret: boolean;
  min: number | null;
  max: number | null;
  choices: string[] | null;
}

/** min, max and choices of an option, in one comparable shape. */
function bounds(option: {
  min?: number | null;
  max?: number | null;
  choices?: readonly (string | number)[] | null;
}) {
  return {
    min: option.min ?? null,
    max: option.max ?? null,
    choices: option.choices ? option.choices.map(String).sort() : null,
  };
}

const TYPES: Record<string, OptionSpec['type']> = {
  StrOpt: 'string',
  IntOpt: 'int',
  BoolOpt: 'bool',
  MultiStrOpt: 'multistring',
  DictOpt: 'dict',
  ListOpt: 'list',
  FloatOpt: 'float',
  PortOpt: 'int',
};

/** Options we deliberately treat differently, with the reason (documented in docs/glance-compatibility.md). */
const deviations: Record<string, Record<string, Record<string, string>>> = JSON.parse(
  readFileSync(join(__dirname, '..', 'option-deviations.json'), 'utf8'),
);

describe('option parity with glance_store, from its own option listing', async () => {
  const glance = (await peer(['options'])) as unknown as Record<string, GlanceOption[]>;
  const registry = await DriverRegistry.discover({ from: join(__dirname, '..') });
  const ours = registry.types().filter((type) => type in glance);

  it('compares every driver of ours that glance_store also has', () => {
    expect(ours).toContain('file');
  });

  for (const type of ours) {
    it(`${type}: every glance_store option has the same name, type, default and secrecy, or a documented reason`, async () => {
      const definition = await registry.load(type);
      const specs = new Map(definition.options.map((o) => [o.name, o]));
      for (const theirs of glance[type]!) {
        const why = deviations[type]?.[theirs.name] ?? {};
        const mine = specs.get(theirs.name);
        if (why.unsupported) continue;
        expect(mine, `${type}: option ${theirs.name} is missing`).toBeDefined();
        expect(mine!.type, `${type}.${theirs.name} type`).toBe(TYPES[theirs.type]);
        if (!why.default) {
          const theirDefault = theirs.default ?? undefined;
          const mineDefault = mine!.default;
          const emptyDict =
            theirs.type === 'DictOpt' &&
            JSON.stringify(theirDefault) === '{}' &&
            mineDefault === undefined;
          if (!emptyDict)
            expect(mineDefault, `${type}.${theirs.name} default`).toEqual(theirDefault);
        }
        expect(!!mine!.secret, `${type}.${theirs.name} secret`).toBe(theirs.secret);
        // Bounds both ways: a limit either library adds is listed with its reason.
        if (why.bounds)
          expect(bounds(mine!), `${type}.${theirs.name}: listed bounds deviation`).not.toEqual(
            bounds(theirs),
          );
        else
          expect(bounds(mine!), `${type}.${theirs.name} bounds (min, max, choices)`).toEqual(
            bounds(theirs),
          );
      }
    });
  }
});
