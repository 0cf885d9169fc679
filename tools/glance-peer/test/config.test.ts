/**
 * @store reads a config file as oslo.config itself does: `$name` interpolation,
 * `$$`, a repeated key's last value, repeated sections merged, every value of a
 * multi-valued option. The same file goes through oslo.config (Debian's
 * python3-oslo.config, via oslo_values.py) and through @store's parseConfig.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BadStoreConfiguration, parseConfig } from '@store/core';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = join(__dirname, '..', 'oslo_values.py');
const dir = mkdtempSync(join(tmpdir(), 'oslo-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Kind = 'str' | 'list' | 'multistr';

/** What oslo.config reads for each `group.name` (registered with its kind). */
async function oslo(text: string, names: Record<string, Kind>): Promise<Record<string, unknown>> {
  const path = join(dir, `${Object.keys(names).join('-').slice(0, 40)}.conf`);
  writeFileSync(path, text);
  const args = Object.entries(names).map(([name, kind]) => `${name}:${kind}`);
  try {
    const { stdout } = await promisify(execFile)('/usr/bin/python3', [SCRIPT, path, ...args]);
    return JSON.parse(stdout);
  } catch (err) {
    const stdout = (err as { stdout?: string }).stdout ?? '';
    if (stdout.startsWith('{')) return JSON.parse(stdout);
    throw err;
  }
}

/** What @store reads for the same names, typed the same way. */
function store(text: string, names: Record<string, Kind>): Record<string, unknown> {
  const backends = [...new Set(Object.keys(names).map((n) => n.split('.')[0]!))].filter(
    (g) => g !== 'DEFAULT',
  );
  // Backend sections are read (and interpolated) when enabled_backends names them.
  const config = parseConfig(
    `[DEFAULT]\nenabled_backends = ${backends.map((b) => `${b}:file`).join(', ')}\n${text}`,
  );
  const out: Record<string, unknown> = {};
  for (const [name, kind] of Object.entries(names)) {
    const [group, option] = name.split('.') as [string, string];
    const raw = config.backends[group]![option] as string | string[];
    const values = Array.isArray(raw) ? raw : [raw];
    out[name] =
      kind === 'multistr'
        ? values
        : kind === 'list'
          ? values
              .at(-1)!
              .split(',')
              .map((s) => s.trim())
          : values.at(-1);
  }
  return out;
}

describe('config files as oslo.config reads them', () => {
  it('interpolates $name, its braced form, dotted group names, $$ and \\$ the same way', async () => {
    const text = [
      '[DEFAULT]',
      'state_path = /srv/glance',
      'flavour = default-flavour',
      '[fast]',
      'flavour = fast-flavour',
      'dir = $state_path/images',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: oslo.config's ${name}, not a template
      'items = ${state_path}/a, $flavour, ${fast.dir}/b',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: oslo.config's ${name}, not a template
      'esc = /a$$b/c\\$d/$1/${ x}/$/end$',
      '',
    ].join('\n');
    const names: Record<string, Kind> = {
      'DEFAULT.state_path': 'str',
      'DEFAULT.flavour': 'str',
      'fast.flavour': 'str',
      'fast.dir': 'str',
      'fast.items': 'list',
      'fast.esc': 'str',
    };
    const expected = await oslo(text, names);
    expect(expected['fast.dir']).toBe('/srv/glance/images');
    const ours = store(text, { 'fast.dir': 'str', 'fast.items': 'list', 'fast.esc': 'str' });
    for (const name of ['fast.dir', 'fast.items', 'fast.esc'])
      expect(ours[name], name).toEqual(expected[name]);
  });

  it('takes the last value of a repeated key and merges repeated sections; multi-valued keeps all', async () => {
    const text = '[fast]\none = first\nmany = one\n[fast]\none = second\nmany = two\n';
    const names: Record<string, Kind> = { 'fast.one': 'str', 'fast.many': 'multistr' };
    const expected = await oslo(text, names);
    expect(expected).toEqual({ 'fast.one': 'second', 'fast.many': ['one', 'two'] });
    expect(store(text, names)).toEqual(expected);
  });

  it('fails on an undefined name and on a loop, as oslo.config does', async () => {
    const cases: [string, string][] = [
      ['[fast]\ndir = $nope/x\n', 'NoSuchOptError'],
      // oslo.config recurses until Python gives up; @store names the loop.
      ['[fast]\ndir = $a\n[DEFAULT]\na = $b\nb = x$a\n', 'RecursionError'],
    ];
    for (const [text, error] of cases) {
      const names: Record<string, Kind> = {
        'fast.dir': 'str',
        'DEFAULT.a': 'str',
        'DEFAULT.b': 'str',
      };
      expect((await oslo(text, names)).error, text).toBe(error);
      expect(() => store(text, { 'fast.dir': 'str' }), text).toThrow(BadStoreConfiguration);
    }
  });
});
