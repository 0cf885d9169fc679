// @ts-check
/**
 * The backend under soak: a glance-style config file naming it (any installed
 * driver), or by default a file backend in a fresh temporary directory. Only
 * loopback endpoints are accepted, so a soak never loads a real service.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, MultiStore } from '@store/core';
import { remoteLister } from './listing.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * Every URL or host named in the backend's options that is not loopback.
 * @param {Record<string, unknown>} options
 * @returns {string[]}
 */
export function nonLoopbackHosts(options) {
  const bad = [];
  for (const [name, value] of Object.entries(options ?? {})) {
    for (const text of (Array.isArray(value) ? value : [value]).map(String)) {
      for (const match of text.matchAll(/\b[a-z][a-z0-9+.-]*:\/\/[^\s,]+/gi)) {
        let host = '';
        try {
          host = new URL(match[0]).hostname;
        } catch {
          bad.push(`${name}: unparsable URL`);
          continue;
        }
        if (!LOOPBACK.has(host)) bad.push(`${name}: ${host}`);
      }
      // A bare host option (URLs were checked above), possibly with a port.
      const host = text.trim().replace(/:\d+$/, '');
      if (/(^|_)(host|address)$/.test(name) && host && !text.includes('://') && !LOOPBACK.has(host))
        bad.push(`${name}: ${host}`);
    }
  }
  return bad;
}

/**
 * @typedef {object} SoakBackend
 * @property {MultiStore} store
 * @property {string} backend the backend id under soak
 * @property {string} description
 * @property {((prefix: string) => Promise<string[]>) | undefined} listObjects what is
 *   left, to check for leftovers: every entry of a file backend's data directory
 *   (temporary files included), or the objects, blobs or images (and unfinished
 *   uploads) whose names start with `prefix` in an s3, azure or rbd backend
 * @property {() => Promise<void>} close closes the store and removes a temporary directory
 */

/**
 * @param {{ config?: string, backend?: string }} options
 * @returns {Promise<SoakBackend>}
 */
export async function openBackend({ config, backend }) {
  /** @type {import('@store/core').StoreConfig} */
  let storeConfig;
  /** @type {string | undefined} */
  let tempDir;
  if (config) storeConfig = await loadConfig(config);
  else {
    tempDir = await mkdtemp(join(tmpdir(), 'store-soak-'));
    storeConfig = {
      enabledBackends: { soak: 'file' },
      defaultBackend: 'soak',
      backends: { soak: { filesystem_store_datadir: tempDir } },
    };
  }
  const id = backend ?? storeConfig.defaultBackend ?? Object.keys(storeConfig.enabledBackends)[0];
  if (!id || !storeConfig.enabledBackends[id])
    throw new Error(`soak: backend '${id}' is not enabled in the config`);
  const bad = nonLoopbackHosts(storeConfig.backends[id] ?? {});
  if (bad.length > 0)
    throw new Error(`soak: only 127.0.0.1 backends may be soaked; found ${bad.join(', ')}`);
  // Drivers are found among this tool's dependencies (every @store driver).
  const store = await MultiStore.create(storeConfig, { discovery: { from: here } });
  const info = store.backend(id);
  const datadir =
    info.type === 'file' && typeof info.options.filesystem_store_datadir === 'string'
      ? info.options.filesystem_store_datadir
      : undefined;
  return {
    store,
    backend: id,
    description: `${id} (${info.type}${datadir ? ` in ${datadir}` : ''})`,
    listObjects: datadir
      ? () => readdir(datadir)
      : // The listing has its own client: the configured options (secrets unmasked) over defaults.
        remoteLister(info.type, { ...info.options, ...storeConfig.backends[id] }),
    close: async () => {
      await store.close();
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
    },
  };
}
