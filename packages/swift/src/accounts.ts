/**
 * Account references: glance_store's `swift_store_config_file` sections (or the
 * single reference built from swift_store_user/key/auth_address), each naming
 * an auth endpoint and the credentials for it.
 */
import { readFile } from 'node:fs/promises';
import { BadStoreConfiguration, type Logger, parseIni } from '@store/core';
import type { SwiftOptions } from './options.js';

/** One account reference: where and as whom to authenticate. */
export interface AccountReference {
  readonly name: string;
  readonly authAddress: string;
  readonly user: string;
  readonly key: string;
  /** `1`, `2` or `3`, as glance_store spells it. */
  readonly authVersion: string;
  /** Keystone v3 domains (glance_store's reference keys; ids default to `default`). */
  readonly domains?: KeystoneDomains;
}

/** The Keystone v3 domains of a user and its project, by id or by name. */
export interface KeystoneDomains {
  readonly userDomainId?: string;
  readonly userDomainName?: string;
  readonly projectDomainId?: string;
  readonly projectDomainName?: string;
}

/**
 * The domains as glance_store's SwiftParams reads them: a domain given neither
 * by id nor by name is the id `default`.
 */
export function keystoneDomains(get: (key: string) => string | undefined): KeystoneDomains {
  const userDomainName = get('user_domain_name');
  const projectDomainName = get('project_domain_name');
  const userDomainId = get('user_domain_id') ?? (userDomainName ? undefined : 'default');
  const projectDomainId = get('project_domain_id') ?? (projectDomainName ? undefined : 'default');
  return {
    ...(userDomainId !== undefined ? { userDomainId } : {}),
    ...(userDomainName !== undefined ? { userDomainName } : {}),
    ...(projectDomainId !== undefined ? { projectDomainId } : {}),
    ...(projectDomainName !== undefined ? { projectDomainName } : {}),
  };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.at(-1) : value;
}

/**
 * Parses the text of a swift_store_config_file. Like glance_store, a section
 * lacking auth_address, user or key, or with an unclosed quote, is skipped with
 * a warning (using it later fails with BadStoreUri / BadStoreConfiguration).
 */
export function parseAccountFile(
  text: string,
  source: string,
  defaultAuthVersion: string,
  logger: Logger,
): Map<string, AccountReference> {
  const references = new Map<string, AccountReference>();
  const sections = parseIni(text, source);
  for (const [name, values] of Object.entries(sections)) {
    if (name === 'DEFAULT') continue;
    const get = (key: string) => single(values[key]);
    const fields = { auth_address: get('auth_address'), user: get('user'), key: get('key') };
    const missing = Object.entries(fields).filter(([, v]) => v === undefined);
    const unclosed = Object.entries(values).some(([, v]) => /^["']/.test(single(v) ?? ''));
    if (missing.length > 0 || unclosed) {
      logger.warn(`Skipping account reference '${name}' in ${source}`, {
        reason: unclosed
          ? 'a value has an unclosed quote'
          : `no ${missing.map(([k]) => k).join(', ')}`,
      });
      continue;
    }
    references.set(name, {
      name,
      authAddress: fields.auth_address!,
      user: fields.user!,
      key: fields.key!,
      authVersion: get('auth_version') ?? defaultAuthVersion,
      domains: keystoneDomains(get),
    });
  }
  return references;
}

/**
 * The backend's account references: from swift_store_config_file when set,
 * otherwise the one named default_swift_reference built from
 * swift_store_user/key/auth_address (none when any of them is unset).
 * @throws BadStoreConfiguration when the file cannot be read.
 */
export async function loadAccounts(
  options: SwiftOptions,
  logger: Logger,
): Promise<Map<string, AccountReference>> {
  const file = options.swift_store_config_file;
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new BadStoreConfiguration(
        `swift_store_config_file '${file}' cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    return parseAccountFile(text, file, options.swift_store_auth_version, logger);
  }
  const { swift_store_user: user, swift_store_key: key, swift_store_auth_address: auth } = options;
  const references = new Map<string, AccountReference>();
  if (user && key && auth) {
    const name = options.default_swift_reference;
    references.set(name, {
      name,
      authAddress: auth,
      user,
      key,
      authVersion: options.swift_store_auth_version,
      domains: keystoneDomains(() => undefined),
    });
  }
  return references;
}
