/**
 * Config files read as oslo.config reads them: `$name` interpolation, repeated keys
 * and sections, and names nothing reads reported (warned, or refused when strict).
 * The oslo.config side of the same cases is checked against oslo.config itself in
 * tools/glance-peer/test/config.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  BadStoreConfiguration,
  Capability,
  defineDriver,
  type Logger,
  MultiStore,
  parseConfig,
  type StoreLocation,
} from '../src/index.js';

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = () => {};
  return { warnings, debug: noop, info: noop, error: noop, warn: (m) => warnings.push(m) };
}

/** A driver that only holds its options, so a test can read what the manager gave it. */
const holder = defineDriver({
  type: 'holder',
  schemes: ['holder'],
  capabilities: Capability.READ_ACCESS,
  options: [
    { name: 'holder_dir', type: 'string', default: '/var/lib/glance/images', help: 'A dir.' },
    { name: 'holder_count', type: 'int', default: 1, help: 'A number.' },
    { name: 'holder_list', type: 'list', help: 'A list.' },
    { name: 'holder_many', type: 'multistring', help: 'Values.' },
  ],
  create: () => ({
    parseLocation: (uri: string): StoreLocation => ({ scheme: 'holder', uri }),
    async get() {
      throw new Error('not used');
    },
    async getSize() {
      return 0;
    },
  }),
});

async function open(text: string, strict?: boolean | 'typos') {
  const logger = recordingLogger();
  const store = await MultiStore.create(parseConfig(text, 'test.conf', { logger, strict }), {
    drivers: [holder],
    logger,
    ...(strict !== undefined ? { strict } : {}),
  });
  return { store, warnings: logger.warnings };
}

describe('$name interpolation (oslo_config/cfg.py _substitute)', () => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: oslo.config's ${name}, not a template
  it('substitutes $name, ${name} and ${group.name}, same section first, then [DEFAULT]', () => {
    const config = parseConfig(`
[DEFAULT]
enabled_backends = fast:holder
state_path = /srv/glance
flavour = default-flavour

[fast]
flavour = fast-flavour
holder_dir = $state_path/images
holder_list = \${state_path}/a, $flavour, \${DEFAULT.flavour}, \${fast.holder_dir}/b
`);
    expect(config.backends.fast).toMatchObject({
      holder_dir: '/srv/glance/images',
      holder_list: '/srv/glance/a, fast-flavour, default-flavour, /srv/glance/images/b',
    });
  });

  it("keeps $$ and \\$ as a literal '$', and a '$' that starts no name as it is", () => {
    const config = parseConfig(`
[DEFAULT]
enabled_backends = fast:holder
[fast]
holder_dir = /a$$b/c\\$d/$1/\${ x}/$/end$
`);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: oslo.config's ${name}, not a template
    expect(config.backends.fast!.holder_dir).toBe('/a$b/c$d/$1/${ x}/$/end$');
  });

  it('refuses an undefined name, naming it, and never a secret-looking option value', () => {
    const undefinedName = () =>
      parseConfig(
        '[DEFAULT]\nenabled_backends = fast:holder\n[fast]\nholder_dir = $state_path/x\n',
      );
    expect(undefinedName).toThrow(BadStoreConfiguration);
    expect(undefinedName).toThrow(
      "[fast] holder_dir uses '$state_path', which is set neither in [fast] nor in [DEFAULT]",
    );
    const secret = () =>
      parseConfig('[DEFAULT]\nenabled_backends = s:holder\n[s]\nholder_password = pa$sw0rd\n');
    expect(secret).toThrow(BadStoreConfiguration);
    expect(secret).not.toThrow(/sw0rd/);
  });

  it('refuses a loop', () => {
    expect(() =>
      parseConfig(
        '[DEFAULT]\nenabled_backends = f:holder\na = $b\nb = x$a\n[f]\nholder_dir = $a\n',
      ),
    ).toThrow(/refers to itself/);
  });

  it('leaves sections that name no store alone (they may use names of their own)', () => {
    const config = parseConfig(
      '[DEFAULT]\nenabled_backends = f:holder\n[database]\nconnection = mysql://$user@h/db\n',
    );
    expect(config.backends.database!.connection).toBe('mysql://$user@h/db');
  });
});

describe('repeated keys and sections, as oslo.config', () => {
  it('takes the last value of a single-valued option, every value of a multistring one', async () => {
    const { store, warnings } = await open(`
[DEFAULT]
enabled_backends = fast:holder
[fast]
holder_dir = /first
holder_many = one
holder_count = 5
[fast]
holder_dir = /second
holder_many = two
holder_list = a, b
holder_list = c
`);
    expect(store.backend('fast').options).toMatchObject({
      holder_dir: '/second',
      holder_count: 5,
      holder_list: ['c'],
      holder_many: ['one', 'two'],
    });
    expect(warnings).toEqual([]);
    await store.close();
  });

  it('takes the last enabled_backends and default_backend', () => {
    const config = parseConfig(`
[DEFAULT]
enabled_backends = a:holder
enabled_backends = b:holder
[glance_store]
default_backend = a
default_backend = b
`);
    expect(config.enabledBackends).toEqual({ b: 'holder' });
    expect(config.defaultBackend).toBe('b');
  });

  it('still refuses an array for a string option in a hand-written config', async () => {
    await expect(
      MultiStore.create(
        { enabledBackends: { f: 'holder' }, backends: { f: { holder_dir: ['/a', '/b'] } } },
        { drivers: [holder] },
      ),
    ).rejects.toThrow("option 'holder_dir' must be a string");
  });
});

describe('names nothing reads', () => {
  const TYPOS = `
[DEFAULT]
enabled_backends = fast:holder
enabled_backend = slow:holder
bind_port = 9292
state_path = /srv
[glance_store]
default_backend = fast
default_backnd = fast
[fats]
holder_dir = /srv/images
[fast]
holder_dri = $state_path/images
[database]
connection = sqlite://
`;

  it('are warned about by default, each with a "did you mean" hint', async () => {
    const { store, warnings } = await open(TYPOS);
    expect(warnings).toEqual([
      "test.conf [DEFAULT]: ignoring unknown options 'enabled_backend' (did you mean 'enabled_backends'?), 'bind_port'",
      "test.conf [glance_store]: ignoring unknown option 'default_backnd' (did you mean 'default_backend'?)",
      'config: ignoring unknown sections [fats] (did you mean [fast]?), [database] (names no enabled backend)',
      "Backend 'fast': ignoring unknown option 'holder_dri' (did you mean 'holder_dir'?)",
    ]);
    // The typo leaves the backend on its default: why the warning matters.
    expect(store.backend('fast').options.holder_dir).toBe('/var/lib/glance/images');
    await store.close();
  });

  it("are refused when strict, and under 'typos' only the likely typos are", async () => {
    await expect(open(TYPOS, true)).rejects.toThrow(
      "test.conf [DEFAULT]: unknown options 'enabled_backend' (did you mean 'enabled_backends'?), 'bind_port'",
    );
    await expect(open(TYPOS, 'typos')).rejects.toThrow(
      "test.conf [DEFAULT]: unknown option 'enabled_backend' (did you mean 'enabled_backends'?)",
    );
    // One typo at a time, each refused with its hint; names far from any known one pass.
    const sectionTypo = TYPOS.replace('enabled_backend =', '# ').replace('default_backnd', '#');
    await expect(open(sectionTypo, 'typos')).rejects.toThrow(
      'config: unknown section [fats] (did you mean [fast]?) (names no enabled backend)',
    );
    const optionTypo = sectionTypo.replace('[fats]', '[other]');
    await expect(open(optionTypo, 'typos')).rejects.toThrow(
      "Backend 'fast': unknown option 'holder_dri' (did you mean 'holder_dir'?)",
    );
    const { store, warnings } = await open(optionTypo.replace('holder_dri', 'holder_dir'), 'typos');
    expect(warnings).toHaveLength(2); // bind_port; [other] and [database]
    await store.close();
  });
});

describe('parse errors', () => {
  it('name the line and the key, never the value (a missing = may leave a secret alone)', () => {
    const missingEquals = () =>
      parseConfig('[DEFAULT]\nenabled_backends = s:holder\n[s]\ns3_store_secret_key hunter2-XYZ\n');
    expect(missingEquals).toThrow(BadStoreConfiguration);
    expect(missingEquals).toThrow("line 4: expected 'key = value' after 's3_store_secret_key'");
    expect(missingEquals).not.toThrow(/hunter2/);
    const loneValue = () => parseConfig('[s]\nhunter2-XYZ\n');
    expect(loneValue).toThrow("line 2: expected 'key = value' (the line is not shown");
    expect(loneValue).not.toThrow(/hunter2/);
    expect(() => parseConfig('[s\n')).toThrow('line 1: unterminated section header');
  });
});
