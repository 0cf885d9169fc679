/**
 * Configuration: glance-style INI files (oslo.config syntax) or hand-written
 * objects, both ending as one plain {@link StoreConfig}.
 */
import { readFile } from 'node:fs/promises';
import { BadStoreConfiguration } from './errors.js';
import { parseDict } from './options.js';

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
      if (!trimmed.endsWith(']')) fail(n, `unterminated section header '${trimmed}'`);
      section = trimmed.slice(1, -1).trim();
      if (section === '') fail(n, 'empty section name');
      sections[section] ??= Object.create(null);
      lastKey = undefined;
      return;
    }
    if (!section) fail(n, 'option outside of any section');
    const eq = trimmed.indexOf('=');
    const colon = trimmed.indexOf(':');
    if (eq < 0 && colon < 0) fail(n, `expected 'key = value', got '${trimmed.slice(0, 40)}'`);
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

/**
 * Turns parsed INI sections into a {@link StoreConfig}. Every section other than
 * DEFAULT and glance_store is kept as backend options; sections of backends that
 * are not enabled are kept too, since reserved stores are configured the same way.
 */
export function configFromIni(sections: IniSections, source = 'config'): StoreConfig {
  const enabled = single(sections.DEFAULT?.enabled_backends) ?? '';
  const enabledBackends = parseDict(enabled, (why) => {
    throw new BadStoreConfiguration(`${source}: [DEFAULT] enabled_backends ${why}`);
  });
  const backends: StoreConfig['backends'] = Object.create(null);
  for (const [name, options] of Object.entries(sections)) {
    if (name === 'DEFAULT' || name === 'glance_store') continue;
    backends[name] = Object.assign(Object.create(null), options);
  }
  const defaultBackend = single(sections.glance_store?.default_backend);
  return { enabledBackends, ...(defaultBackend ? { defaultBackend } : {}), backends };
}

/** Parses INI text into a {@link StoreConfig}. */
export function parseConfig(text: string, source = 'config'): StoreConfig {
  return configFromIni(parseIni(text, source), source);
}

/**
 * Reads a glance-style INI config. The argument is a file path, or INI text when
 * it spans several lines or starts with `[`.
 *
 * @throws BadStoreConfiguration when the file cannot be read or parsed.
 */
export async function loadConfig(pathOrText: string): Promise<StoreConfig> {
  if (pathOrText.includes('\n') || pathOrText.trimStart().startsWith('[')) {
    return parseConfig(pathOrText);
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
  return parseConfig(text, pathOrText);
}
