/** Test helpers for the real Ceph cluster: config, the rbd CLI, and image clean-up. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { StoreConfig } from '@store/core';
import { serviceEnv } from '@store/testkit';
import { loadBinding, RadosCluster } from '../src/binding.js';

const run = promisify(execFile);

export const env = serviceEnv('ceph (rbd)', [
  'STORE_TEST_CEPH_CONF',
  'STORE_TEST_CEPH_USER',
  'STORE_TEST_RBD_POOL',
  'STORE_TEST_CEPH_FSID',
] as const);

/** A one-backend config for the test cluster; `extra` overrides options. */
export function rbdConfig(extra: Record<string, string> = {}, backend = 'ceph'): StoreConfig {
  return {
    enabledBackends: { [backend]: 'rbd' },
    defaultBackend: backend,
    backends: {
      [backend]: {
        rbd_store_ceph_conf: env!.STORE_TEST_CEPH_CONF,
        rbd_store_user: env!.STORE_TEST_CEPH_USER,
        rbd_store_pool: env!.STORE_TEST_RBD_POOL,
        rados_connect_timeout: '10',
        ...extra,
      },
    },
  };
}

/** Runs the rbd CLI as the test user; returns stdout. */
export async function rbd(...args: string[]): Promise<string> {
  const { stdout } = await run(
    'rbd',
    ['--conf', env!.STORE_TEST_CEPH_CONF, '--id', env!.STORE_TEST_CEPH_USER, ...args],
    { timeout: 60_000, maxBuffer: 16 << 20 },
  );
  return stdout;
}

/** Images in the test pool whose names start with `prefix`. */
export async function listImages(prefix: string): Promise<string[]> {
  const names = JSON.parse(
    await rbd('ls', '--format', 'json', '-p', env!.STORE_TEST_RBD_POOL),
  ) as string[];
  return names.filter((n) => n.startsWith(prefix)).sort();
}

/** A raw connection through the binding, for what the driver must not do itself. */
export async function rawPool() {
  const binding = loadBinding();
  if (!binding.ok) throw new Error(binding.reason);
  const cluster = await RadosCluster.connect(binding.addon, {
    confFile: env!.STORE_TEST_CEPH_CONF,
    user: env!.STORE_TEST_CEPH_USER,
    timeoutSeconds: 10,
  });
  const pool = await cluster.openPool(env!.STORE_TEST_RBD_POOL);
  return {
    pool,
    async close() {
      pool.close();
      await cluster.shutdown();
    },
  };
}

/** Removes every image starting with `prefix`, snapshots included (memstore holds them in RAM). */
export async function purgeImages(prefix: string): Promise<void> {
  const names = await listImages(prefix);
  if (names.length === 0) return;
  const raw = await rawPool();
  try {
    for (const name of names) {
      const image = await raw.pool.openImage(name, { readOnly: false });
      try {
        if (await image.snapExists('snap')) {
          await image.snapUnprotect('snap').catch(() => undefined);
          await image.snapRemove('snap');
        }
      } finally {
        await image.close();
      }
      await raw.pool.removeImage(name);
    }
  } finally {
    await raw.close();
  }
}
