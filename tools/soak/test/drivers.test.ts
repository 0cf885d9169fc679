/**
 * The soak in its short form against the shared test services (issue 10): s3
 * (radosgw), rbd (Ceph) and azure (Azurite), about 15 s each with modest concurrency,
 * every read verified, injected faults typed, nothing left in the bucket, container
 * or pool, RSS at start and end reported. Each runs in a scratch bucket or container,
 * or under its own image-name prefix, so other users of the services are not seen.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { serviceEnv } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackend } from '../src/backend.mjs';
import { dropEmptyScratch } from '../src/listing.mjs';
import { parseSizes } from '../src/sizes.mjs';
import { runSoak } from '../src/soak.mjs';

const run = promisify(execFile);
const SECONDS = 15;
const s3 = serviceEnv('ceph radosgw (S3)', [
  'STORE_TEST_S3_ENDPOINT',
  'STORE_TEST_S3_ACCESS_KEY',
  'STORE_TEST_S3_SECRET_KEY',
  'STORE_TEST_CEPH_CONF',
] as const);
const ceph = serviceEnv('ceph (rbd)', [
  'STORE_TEST_CEPH_CONF',
  'STORE_TEST_CEPH_USER',
  'STORE_TEST_RBD_POOL',
] as const);
const azure = serviceEnv('Azurite (Azure Blob emulator)', [
  'STORE_TEST_AZURE_CONNECTION_STRING',
] as const);

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'store-soak-drivers-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** Soaks the one backend of this INI config for {@link SECONDS} and checks the report. */
async function soak(type: string, options: Record<string, string>, sizes: string) {
  const conf = join(root, `${type}.conf`);
  const lines = Object.entries(options).map(([k, v]) => `${k} = ${v}`);
  await writeFile(
    conf,
    `[DEFAULT]\nenabled_backends = soak:${type}\n\n[glance_store]\ndefault_backend = soak\n\n[soak]\n${lines.join('\n')}\n`,
  );
  const subject = await openBackend({ config: conf });
  let report: Awaited<ReturnType<typeof runSoak>>;
  try {
    report = await runSoak(subject, {
      concurrency: 8,
      durationMs: SECONDS * 1000,
      sizes: parseSizes(sizes),
      faultRate: 0.1,
    });
  } finally {
    await subject.close();
  }
  const { rss, adds, gets, deletes, faultsInjected, writeMiBps, readMiBps } = report;
  console.info(
    `soak short form, ${type}: ${JSON.stringify({ adds, gets, deletes, faultsInjected, writeMiBps, readMiBps, rss })}`,
  );
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.adds).toBeGreaterThan(5);
  expect(report.gets).toBeGreaterThan(3);
  expect(report.verifiedReads).toBe(report.gets);
  expect(report.faultsAsExpected).toBe(report.faultsInjected);
  // Listed through the backend's own client: no object, blob, image or upload left.
  expect(report.leftovers).toEqual([]);
  expect(report.rss.endMiB - report.rss.startMiB).toBeLessThan(400);
  return report;
}

describe('soak, short form, against the test services', { timeout: 90_000 }, () => {
  it.skipIf(!s3)('s3 (radosgw), multipart uploads included', async () => {
    const bucket = `store-soak-${randomBytes(4).toString('hex')}`;
    const options = {
      s3_store_host: s3!.STORE_TEST_S3_ENDPOINT,
      s3_store_access_key: s3!.STORE_TEST_S3_ACCESS_KEY,
      s3_store_secret_key: s3!.STORE_TEST_S3_SECRET_KEY,
      s3_store_bucket: bucket,
      s3_store_create_bucket_on_put: 'true',
      s3_store_large_object_size: '5',
      s3_store_large_object_chunk_size: '5',
    };
    try {
      await soak('s3', options, '4:0-4k,3:64k-256k,2:1m-2m,1:5m-11m');
    } finally {
      await dropEmptyScratch('s3', options);
      // memstore keeps deleted objects in RAM until radosgw's garbage collection runs.
      await run(
        'radosgw-admin',
        ['-c', s3!.STORE_TEST_CEPH_CONF, 'gc', 'process', '--include-all'],
        {
          timeout: 60_000,
        },
      );
    }
  });

  it.skipIf(!ceph)('rbd (Ceph), 1 MiB objects', async () => {
    await soak(
      'rbd',
      {
        rbd_store_ceph_conf: ceph!.STORE_TEST_CEPH_CONF,
        rbd_store_user: ceph!.STORE_TEST_CEPH_USER,
        rbd_store_pool: ceph!.STORE_TEST_RBD_POOL,
        rbd_store_chunk_size: '1',
        rados_connect_timeout: '10',
      },
      '4:0-4k,3:64k-256k,2:1m-2m,1:3m-6m',
    );
  });

  it.skipIf(!azure)('azure (Azurite), 1 MiB blocks', async () => {
    const options = {
      azure_store_connection_string: azure!.STORE_TEST_AZURE_CONNECTION_STRING,
      azure_store_container: `store-soak-${randomBytes(4).toString('hex')}`,
      azure_store_create_container_on_put: 'true',
      azure_store_block_size: '1',
    };
    try {
      await soak('azure', options, '4:0-4k,3:64k-256k,2:1m-2m,1:3m-6m');
    } finally {
      await dropEmptyScratch('azure', options);
    }
  });
});
