// @ts-check
/**
 * The backend under soak: a glance-style config file naming it (any installed
 * driver), or by default a file backend in a fresh temporary directory. Only
 * loopback endpoints are accepted, so a soak never loads a real service.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadConfig, MultiStore } from '@store/core';
import { serviceEnv } from '@store/testkit/services';
import { dropEmptyScratch, remoteLister } from './listing.mjs';

const run = promisify(execFile);

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
 * @typedef {object} SoakTarget one backend the soak's operations go to
 * @property {string} backend the backend id
 * @property {((prefix: string) => Promise<string[]>) | undefined} listObjects as {@link SoakBackend}'s
 */

/**
 * @typedef {object} SoakBackend
 * @property {MultiStore} store
 * @property {string} backend the backend id under soak (the first of `targets`)
 * @property {SoakTarget[]} [targets] every backend under soak, when there are
 *   several (each add picks one at random); absent: `backend` alone
 * @property {string} description
 * @property {((prefix: string) => Promise<string[]>) | undefined} listObjects what is
 *   left, to check for leftovers: every entry of a file backend's data directory
 *   (temporary files included), or the objects, blobs or images (and unfinished
 *   uploads) whose names start with `prefix` in an s3, azure or rbd backend
 * @property {() => Promise<void>} close closes the store and removes a temporary directory
 */

/**
 * @typedef {object} StoreTuning what the MultiStore under soak is created with
 * @property {import('@store/core').StoreLimits} [limits]
 * @property {number} [readAheadLimit] bytes
 */

/**
 * @param {{ config?: string, backend?: string } & StoreTuning} options
 * @returns {Promise<SoakBackend>}
 */
export async function openBackend({ config, backend, limits, readAheadLimit }) {
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
  const store = await MultiStore.create(storeConfig, {
    discovery: { from: here },
    ...(limits ? { limits } : {}),
    ...(readAheadLimit !== undefined ? { readAheadLimit } : {}),
  });
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

/**
 * One store with three backends on the shared test services (tools/services): a
 * file backend in a new temporary directory, s3 on radosgw in a scratch bucket
 * (multipart from 5 MiB, so multipart uploads are soaked too) and rbd in the
 * test pool (1 MiB objects). Each add goes to one of them at random; at the end
 * the leftovers of each are listed, the bucket removed and radosgw's garbage
 * collected (its memstore keeps deleted data in RAM until then).
 * @param {StoreTuning} tuning
 * @returns {Promise<SoakBackend>}
 * @throws when the services' variables are missing.
 */
export async function openServices({ limits, readAheadLimit }) {
  const env = serviceEnv('the test services (s3 on radosgw, rbd)', [
    'STORE_TEST_S3_ENDPOINT',
    'STORE_TEST_S3_ACCESS_KEY',
    'STORE_TEST_S3_SECRET_KEY',
    'STORE_TEST_CEPH_CONF',
    'STORE_TEST_CEPH_USER',
    'STORE_TEST_RBD_POOL',
  ]);
  if (!env) throw new Error('soak: --services needs tools/services up (.run/services/env)');
  const tempDir = await mkdtemp(join(tmpdir(), 'store-soak-'));
  /** @type {Record<string, Record<string, string>>} */
  const backends = {
    'soak-file': { filesystem_store_datadir: tempDir },
    'soak-s3': {
      s3_store_host: env.STORE_TEST_S3_ENDPOINT,
      s3_store_access_key: env.STORE_TEST_S3_ACCESS_KEY,
      s3_store_secret_key: env.STORE_TEST_S3_SECRET_KEY,
      s3_store_bucket: `store-soak-${randomBytes(4).toString('hex')}`,
      s3_store_create_bucket_on_put: 'true',
      s3_store_large_object_size: '5',
      s3_store_large_object_chunk_size: '5',
    },
    'soak-rbd': {
      rbd_store_ceph_conf: env.STORE_TEST_CEPH_CONF,
      rbd_store_user: env.STORE_TEST_CEPH_USER,
      rbd_store_pool: env.STORE_TEST_RBD_POOL,
      rbd_store_chunk_size: '1',
      rados_connect_timeout: '10',
    },
  };
  for (const options of Object.values(backends)) {
    const bad = nonLoopbackHosts(options);
    if (bad.length > 0)
      throw new Error(`soak: only 127.0.0.1 backends may be soaked; found ${bad.join(', ')}`);
  }
  /** @type {import('@store/core').StoreConfig} */
  const storeConfig = {
    enabledBackends: { 'soak-file': 'file', 'soak-s3': 's3', 'soak-rbd': 'rbd' },
    defaultBackend: 'soak-file',
    backends,
  };
  let store;
  try {
    store = await MultiStore.create(storeConfig, {
      discovery: { from: here },
      ...(limits ? { limits } : {}),
      ...(readAheadLimit !== undefined ? { readAheadLimit } : {}),
    });
  } catch (err) {
    await rm(tempDir, { recursive: true, force: true });
    throw err;
  }
  const disabled = store.disabledBackends.map((d) => `${d.id}: ${d.reason}`);
  if (disabled.length > 0) {
    await store.close();
    await rm(tempDir, { recursive: true, force: true });
    throw new Error(`soak: backends disabled (build their drivers?): ${disabled.join('; ')}`);
  }
  return {
    store,
    backend: 'soak-file',
    targets: [
      { backend: 'soak-file', listObjects: () => readdir(tempDir) },
      ...['s3', 'rbd'].map((type) => {
        const id = `soak-${type}`;
        // Own clients for the listing: the configured options (secrets unmasked) over defaults.
        const options = { ...store.backend(id).options, ...backends[id] };
        return { backend: id, listObjects: remoteLister(type, options) };
      }),
    ],
    description: `file in ${tempDir}, s3 on ${env.STORE_TEST_S3_ENDPOINT}, rbd pool ${env.STORE_TEST_RBD_POOL}`,
    listObjects: undefined,
    close: async () => {
      await store.close();
      await rm(tempDir, { recursive: true, force: true });
      await dropEmptyScratch('s3', backends['soak-s3'] ?? {}).catch(() => undefined);
      await run(
        'radosgw-admin',
        ['-c', env.STORE_TEST_CEPH_CONF, 'gc', 'process', '--include-all'],
        {
          timeout: 120_000,
        },
      ).catch(() => undefined);
    },
  };
}
