/**
 * Configuration: glance-style INI files (oslo.config syntax) or hand-written
 * objects, both ending as one plain {@link StoreConfig}.
 */
import { readFile } from 'node:fs/promises';
import { BadStoreConfiguration } from './errors.js';
import { type Logger, silentLogger } from './logger.js';
import { reportUnknownNames, type Strictness } from './names.js';
import { looksSecret } from './option-redaction.js';
import { parseDict, repeatedValues } from './option-values.js';

/**
 * The whole store configuration. Written by hand or produced by {@link loadConfig}.
 */
export interface StoreConfig {
  /** Backend id → driver type, as `[DEFAULT] enabled_backends = fast:file, ceph:rbd`. */
  enabledBackends: Record<string, string>;
  /** Backend used by `add` when none is named, as `[glance_store] default_backend`. */
  defaultBackend?: string;
  /** Options of each backend, keyed by backend id (the INI section of the same name). */
  backends: Record<string, Record<string, unknown>>;
  /**
   * Read from a legacy single-store file (no `enabled_backends`; see
   * {@link configFromIni}): every backend shares [glance_store]'s options, and
   * location metadata carries no `store` id, as glance_store's single-store API.
   */
  singleStore?: boolean;
}

/** One INI file: section name → option name → value (repeated keys become arrays). */
export type IniSections = Record<string, Record<string, string | string[]>>;

/**
 * Parses oslo.config's INI dialect: `[section]`, `key = value` or `key: value`
 * (split at the first of `=` or `:`), `#`/`;` comment lines, indented
 * continuation lines, values optionally wrapped in matching quotes, and repeated
 * keys collected in order (for multi-valued options).
 *
 * @throws BadStoreConfiguration naming the line that could not be parsed.
 */
export function parseIni(text: string, source = 'config'): IniSections {
  // Null-prototype maps: a section or key named `__proto__` or `constructor` is
  // just a name, never a way into Object.prototype.
  const sections: IniSections = Object.create(null);
  let section: string | undefined;
  let lastKey: string | undefined;
  const lines = text.split(/\r?\n/);
  const fail = (n: number, why: string): never => {
    throw new BadStoreConfiguration(`${source}, line ${n + 1}: ${why}`);
  };
  const set = (key: string, value: string, append: boolean) => {
    const target = sections[section!]!;
    const prev = target[key];
    if (prev === undefined || !append) target[key] = value;
    else target[key] = Array.isArray(prev) ? [...prev, value] : [prev, value];
  };
  lines.forEach((rawLine, n) => {
    const line = rawLine.replace(/\s+$/, '');
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) {
      if (trimmed === '') lastKey = undefined;
      return;
    }
    if (/^\s/.test(line) && lastKey && section) {
      // Continuation of the previous value.
      const target = sections[section]!;
      const prev = target[lastKey]!;
      if (Array.isArray(prev)) prev[prev.length - 1] = `${prev[prev.length - 1]}\n${trimmed}`;
      else target[lastKey] = `${prev}\n${trimmed}`;
      return;
    }
    if (trimmed.startsWith('[')) {
      if (!trimmed.endsWith(']'))
        fail(n, `unterminated section header${nameHint(trimmed.slice(1))}`);
      section = trimmed.slice(1, -1).trim();
      if (section === '') fail(n, 'empty section name');
      sections[section] ??= Object.create(null);
      lastKey = undefined;
      return;
    }
    if (!section) fail(n, 'option outside of any section');
    const eq = trimmed.indexOf('=');
    const colon = trimmed.indexOf(':');
    if (eq < 0 && colon < 0)
      fail(
        n,
        `expected 'key = value'${nameHint(trimmed)} (the line is not shown: it may hold a secret)`,
      );
    const at = colon < 0 || (eq >= 0 && eq < colon) ? eq : colon;
    const key = trimmed.slice(0, at).trim();
    if (key === '') fail(n, 'option with an empty name');
    let value = trimmed.slice(at + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]) {
      value = value.slice(1, -1);
    }
    set(key, value, true);
    lastKey = key;
  });
  return sections;
}

// An option or section name: what a malformed line may quote of itself.
const NAME_PREFIX = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}(?=\s)/;

/**
 * `, after 'NAME'` when `line` starts with a name followed by a blank (`secret_key
 * s3cr3t`, a missing `=`), else nothing: a line that is one word may be a value.
 */
function nameHint(line: string): string {
  const name = NAME_PREFIX.exec(line)?.[0];
  return name ? ` after '${name}'` : '';
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.at(-1) : value;
}

/** Quotes a first value line that parseIni would otherwise trim or unquote. */
function quoteIfNeeded(line: string): string {
  const quoted =
    line.length >= 2 && (line[0] === '"' || line[0] === "'") && line.at(-1) === line[0];
  return quoted || line !== line.trim() ? `"${line}"` : line;
}

/**
 * Renders sections as INI text that {@link parseIni} reads back to the same
 * sections: repeated keys for lists, indented continuation lines for multi-line
 * values, quotes around values with outer blanks or quotes.
 *
 * @throws BadStoreConfiguration for what the dialect cannot express (a key with
 * `=` or `:`, a continuation line that is blank, indented or a comment).
 */
export function formatIni(sections: IniSections): string {
  const out: string[] = [];
  const bad = (why: string): never => {
    throw new BadStoreConfiguration(`Cannot write INI: ${why}`);
  };
  for (const [name, options] of Object.entries(sections)) {
    if (name !== name.trim() || name === '' || name.includes('\n'))
      bad(`section name '${name}' cannot be written`);
    out.push(`[${name}]`);
    for (const [key, value] of Object.entries(options)) {
      if (key !== key.trim() || key === '' || /[=:\n]/.test(key) || /^[#;[]/.test(key))
        bad(`option name '${key}' cannot be written`);
      for (const item of Array.isArray(value) ? value : [value]) {
        const [first = '', ...rest] = item.split('\n');
        out.push(`${key} = ${quoteIfNeeded(first)}`);
        for (const line of rest) {
          if (line === '' || line !== line.trim() || /^[#;]/.test(line))
            bad(`the value of '${key}' has a continuation line that cannot be written`);
          out.push(`    ${line}`);
        }
      }
    }
    out.push('');
  }
  return out.join('\n');
}

/** How names nothing reads are reported; see {@link Strictness}. */
export interface ConfigOptions {
  /** Gets the warnings about unknown names. Default: silent. */
  readonly logger?: Logger;
  /** Refuse unknown names instead of warning (`'typos'`: only likely typos). */
  readonly strict?: Strictness;
}

/** The options @store reads from [DEFAULT] and [glance_store]. */
const GLOBAL_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  DEFAULT: ['enabled_backends'],
  glance_store: ['default_backend'],
};
/** glance_store's single-store options (backend.py), with their defaults. */
const SINGLE_STORE_OPTIONS = ['stores', 'default_store'];
const DEFAULT_STORES = 'file, http';
const DEFAULT_STORE = 'file';
/** glance_store's store entry points (setup.cfg) → @store driver type. */
const STORE_ENTRY_TYPES: Readonly<Record<string, string>> = {
  file: 'file',
  filesystem: 'file',
  http: 'http',
  https: 'http',
  swift: 'swift',
  rbd: 'rbd',
  s3: 's3',
  cinder: 'cinder',
  vmware: 'vmware',
};
/** default_store's choices (schemes) → the driver type that owns them. */
const DEFAULT_STORE_TYPES: Readonly<Record<string, string>> = {
  file: 'file',
  filesystem: 'file',
  http: 'http',
  https: 'http',
  swift: 'swift',
  'swift+http': 'swift',
  'swift+https': 'swift',
  'swift+config': 'swift',
  rbd: 'rbd',
  cinder: 'cinder',
  vsphere: 'vmware',
  s3: 's3',
};

/**
 * glance_store's single-store mode (backend.py, used when `enabled_backends` is
 * not set): `[glance_store] stores` (default `file, http`) names the drivers, each
 * becoming a backend whose id is its driver type; `default_store` (a scheme,
 * default `file`) picks the default backend; every backend reads its options from
 * [glance_store].
 */
function singleStoreConfig(
  read: (key: string) => string | undefined,
  options: Record<string, unknown>,
  source: string,
): StoreConfig {
  const enabledBackends: Record<string, string> = Object.create(null);
  for (const entry of (read('stores') ?? DEFAULT_STORES).split(',')) {
    const name = entry.trim();
    if (name === '') continue;
    const type = Object.hasOwn(STORE_ENTRY_TYPES, name) ? STORE_ENTRY_TYPES[name]! : name;
    enabledBackends[type] = type;
  }
  const defaultStore = read('default_store') ?? DEFAULT_STORE;
  if (!Object.hasOwn(DEFAULT_STORE_TYPES, defaultStore)) {
    throw new BadStoreConfiguration(
      `${source}: [glance_store] default_store must be one of ${Object.keys(DEFAULT_STORE_TYPES).join(', ')}, got '${defaultStore}'`,
    );
  }
  const backends: StoreConfig['backends'] = Object.create(null);
  for (const id of Object.keys(enabledBackends)) backends[id] = { ...options };
  return {
    enabledBackends,
    defaultBackend: DEFAULT_STORE_TYPES[defaultStore]!,
    backends,
    singleStore: true,
  };
}
/** glance_store's reserved stores (staging and tasks) are configured in sections named so. */
const RESERVED_PREFIX = 'os_glance_';

// oslo.config's string.Template: `$name` / `${name}` with this identifier, case-insensitive
// (oslo_config/cfg.py, ConfigOpts.Template.idpattern; Python's Template uses re.IGNORECASE).
const IDENTIFIER = /^[_a-z][._a-z0-9]*/i;

/**
 * oslo.config's `$name` interpolation (cfg.py `_substitute` and `StrSubWrapper`):
 * `$name` or `${name}` is the value of option `name` in the same section, else in
 * [DEFAULT]; `${group.name}` names the section; `$$` (or `\$`) is a literal `$`.
 * A `$` that starts no name is kept as it is (Template.safe_substitute). Referenced
 * values are interpolated in turn. oslo.config also finds the defaults of
 * registered options that are not set; here only names set in the file exist.
 */
class Interpolator {
  readonly #sections: IniSections;
  readonly #source: string;
  readonly #resolving = new Set<string>();
  /** Every `section\0key` a value referred to: such keys are read, not unknown. */
  readonly referenced = new Set<string>();

  constructor(sections: IniSections, source: string) {
    this.#sections = sections;
    this.#source = source;
  }

  value(section: string, key: string, value: string): string {
    if (!value.includes('$')) return value;
    const text = value.includes('\\$') ? value.replaceAll('\\$', '$$$$') : value;
    let out = '';
    let at = 0;
    for (let dollar = text.indexOf('$'); dollar >= 0; dollar = text.indexOf('$', at)) {
      out += text.slice(at, dollar);
      const next = text[dollar + 1];
      let name: string | undefined;
      let end = dollar + 1;
      if (next === '$') {
        out += '$';
        at = dollar + 2;
        continue;
      }
      if (next === '{') {
        const close = text.indexOf('}', dollar + 2);
        const inner = close < 0 ? '' : text.slice(dollar + 2, close);
        if (IDENTIFIER.exec(inner)?.[0] === inner && inner !== '') {
          name = inner;
          end = close + 1;
        }
      } else {
        name = IDENTIFIER.exec(text.slice(dollar + 1))?.[0];
        if (name) end = dollar + 1 + name.length;
      }
      if (name === undefined) {
        out += '$';
        at = dollar + 1;
        continue;
      }
      out += this.#lookup(section, key, name);
      at = end;
    }
    return out + text.slice(at);
  }

  #lookup(section: string, key: string, name: string): string {
    const dot = name.indexOf('.');
    const places: [string, string][] =
      dot > 0 ? [[name.slice(0, dot), name.slice(dot + 1)]] : [[section, name]];
    places.push(['DEFAULT', name]);
    for (const [group, option] of places) {
      const found = single(this.#sections[group]?.[option]);
      if (found === undefined) continue;
      const id = `${group}\0${option}`;
      this.referenced.add(id);
      if (this.#resolving.has(id)) this.#fail(section, key, `refers to itself through '$${name}'`);
      this.#resolving.add(id);
      try {
        return this.value(group, option, found);
      } finally {
        this.#resolving.delete(id);
      }
    }
    // A value may be a secret holding a `$`: then its text after the `$` is not shown.
    const shown = looksSecret(key) ? 'a name' : `'$${name}'`;
    return this.#fail(
      section,
      key,
      `uses ${shown}, which is set neither in [${section}] nor in [DEFAULT] (write '$$' for a literal '$')`,
    );
  }

  #fail(section: string, key: string, why: string): never {
    throw new BadStoreConfiguration(`${this.#source}: [${section}] ${key} ${why}`);
  }
}

/**
 * Turns parsed INI sections into a {@link StoreConfig}, as oslo.config reads them:
 * `$name` interpolation (see {@link Interpolator}), the last value of a repeated key
 * for single-valued options (every value for multi-valued ones), repeated sections
 * merged (by {@link parseIni}). Every section other than DEFAULT and glance_store is
 * kept as backend options; sections of backends that are not enabled are kept too,
 * since reserved stores are configured the same way (the manager warns about those
 * that name no backend). Options of [DEFAULT] and [glance_store] that @store does
 * not read are reported through `options.logger` (or refused, see `strict`).
 *
 * @throws BadStoreConfiguration for a malformed `enabled_backends`, an undefined
 * or looping `$name`, or (strict) an unknown option.
 */
export function configFromIni(
  sections: IniSections,
  source = 'config',
  options: ConfigOptions = {},
): StoreConfig {
  const interpolator = new Interpolator(sections, source);
  const read = (section: string, key: string) => {
    const value = single(sections[section]?.[key]);
    return value === undefined ? undefined : interpolator.value(section, key, value);
  };
  /** Warns about (or refuses) names of [DEFAULT] or [glance_store] that @store does not read. */
  const reportUnknownGlobals = (section: string) => {
    const known = GLOBAL_OPTIONS[section] ?? [];
    const unknown = Object.keys(sections[section] ?? {}).filter(
      (key) => !known.includes(key) && !interpolator.referenced.has(`${section}\0${key}`),
    );
    reportUnknownNames(`${source} [${section}]`, unknown, known, {
      logger: options.logger ?? silentLogger,
      strict: options.strict,
      noun: 'option',
    });
  };
  const enabled = read('DEFAULT', 'enabled_backends');
  if (enabled === undefined) {
    const shared: Record<string, unknown> = Object.create(null);
    for (const [key, value] of Object.entries(sections.glance_store ?? {})) {
      if (SINGLE_STORE_OPTIONS.includes(key) || GLOBAL_OPTIONS.glance_store!.includes(key))
        continue;
      const items = (Array.isArray(value) ? value : [value]).map((item) =>
        interpolator.value('glance_store', key, item),
      );
      shared[key] = Array.isArray(value) ? repeatedValues(items) : items[0];
    }
    // [glance_store] holds every driver's options in this mode, but [DEFAULT] still holds
    // only names @store reads: a misspelt `enabled_backends` would silently select it.
    reportUnknownGlobals('DEFAULT');
    return singleStoreConfig((key) => read('glance_store', key), shared, source);
  }
  const enabledBackends = parseDict(enabled, (why) => {
    throw new BadStoreConfiguration(`${source}: [DEFAULT] enabled_backends ${why}`);
  });
  const backends: StoreConfig['backends'] = Object.create(null);
  for (const [name, values] of Object.entries(sections)) {
    if (Object.hasOwn(GLOBAL_OPTIONS, name)) continue;
    // Only sections that can be read as a store get interpolated: another section
    // ([database], [keystone_authtoken] of a glance-api.conf) may use names of its own.
    const used = Object.hasOwn(enabledBackends, name) || name.startsWith(RESERVED_PREFIX);
    const out: Record<string, unknown> = Object.create(null);
    for (const [key, value] of Object.entries(values)) {
      const items = (Array.isArray(value) ? value : [value]).map((item) =>
        used ? interpolator.value(name, key, item) : item,
      );
      out[key] = Array.isArray(value) ? repeatedValues(items) : items[0];
    }
    backends[name] = out;
  }
  const defaultBackend = read('glance_store', 'default_backend');
  for (const section of Object.keys(GLOBAL_OPTIONS)) reportUnknownGlobals(section);
  return { enabledBackends, ...(defaultBackend ? { defaultBackend } : {}), backends };
}

/** Parses INI text into a {@link StoreConfig} (see {@link configFromIni}). */
export function parseConfig(
  text: string,
  source = 'config',
  options: ConfigOptions = {},
): StoreConfig {
  return configFromIni(parseIni(text, source), source, options);
}

/**
 * Reads a glance-style INI config. The argument is a file path, or INI text when
 * it spans several lines or starts with `[`.
 *
 * @throws BadStoreConfiguration when the file cannot be read or parsed.
 */
export async function loadConfig(
  pathOrText: string,
  options: ConfigOptions = {},
): Promise<StoreConfig> {
  if (pathOrText.includes('\n') || pathOrText.trimStart().startsWith('[')) {
    return parseConfig(pathOrText, 'config', options);
  }
  let text: string;
  try {
    text = await readFile(pathOrText, 'utf8');
  } catch (err) {
    throw new BadStoreConfiguration(
      `Cannot read config file ${pathOrText}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return parseConfig(text, pathOrText, options);
}
