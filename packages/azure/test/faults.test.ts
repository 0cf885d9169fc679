/**
 * Azurite stopped mid-upload (issue 10), against a private Azurite (the shared one is
 * used by everyone) that keeps its data on disk: killed (SIGKILL) while blocks are
 * being staged, then restarted on the same data directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { MultiStore, RemoteServiceUnavailable, StoreError } from '@store/core';
import {
  addKillingServer,
  collect,
  digest,
  freePort,
  patternBytes,
  waitForPort,
} from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import azureDriver from '../src/index.js';
import { azuriteBin } from './azurite.js';
import { committedBlobs, env } from './env.js';

const MiB = 1024 * 1024;

/** An Azurite of this test's own, on a fixed port and data directory, stopped by pid. */
class PrivateAzurite {
  #child: ChildProcess | undefined;
  constructor(
    readonly dataDir: string,
    readonly port: number,
  ) {}

  async start(): Promise<void> {
    const child = spawn(
      azuriteBin(),
      [
        '--blobHost',
        '127.0.0.1',
        '--blobPort',
        String(this.port),
        '--location',
        this.dataDir,
        '--skipApiVersionCheck',
        '--silent',
      ],
      { stdio: 'ignore' },
    );
    this.#child = child;
    await waitForPort(this.port, { child, what: 'the private azurite' });
  }

  async stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(child.pid!, signal);
    await exited;
  }
}

describe.skipIf(!env)('azure: Azurite stopped mid-upload', { timeout: 120_000 }, () => {
  let dir: string;
  let azurite: PrivateAzurite;
  let store: MultiStore;
  let endpoint: string;
  const container = 'faults';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'store-azure-fault-'));
    azurite = new PrivateAzurite(dir, await freePort());
    await azurite.start();
    endpoint = `http://127.0.0.1:${azurite.port}/${env!.STORE_TEST_AZURE_ACCOUNT}`;
    store = await MultiStore.create(
      {
        enabledBackends: { blobs: 'azure' },
        defaultBackend: 'blobs',
        backends: {
          blobs: {
            azure_store_account_url: endpoint,
            azure_store_account_key: env!.STORE_TEST_AZURE_KEY,
            azure_store_container: container,
            azure_store_create_container_on_put: true,
            azure_store_block_size: 1,
            azure_store_upload_concurrency: 2,
            azure_store_retries: 2,
          },
        },
      },
      { drivers: [azureDriver] },
    );
  }, 60_000);

  afterAll(async () => {
    await store?.close();
    await azurite?.stop('SIGTERM');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A client of the private Azurite, independent of the driver. */
  function admin() {
    return new BlobServiceClient(
      endpoint,
      new StorageSharedKeyCredential(env!.STORE_TEST_AZURE_ACCOUNT, env!.STORE_TEST_AZURE_KEY),
    ).getContainerClient(container);
  }

  it('fails the add with RemoteServiceUnavailable; after the restart the blob does not exist and others are intact', async () => {
    const keeper = patternBytes(3 * MiB + 11, 6);
    const kept = await store.add('keeper', keeper, keeper.byteLength);
    // Azurite writes its metadata to disk every 5 s (LokiJS autosave): an emulator that
    // is SIGKILLed sooner forgets what it had committed, which real Azure never does.
    await new Promise((r) => setTimeout(r, 6_000));

    const { failure, failedAfterMs, requestsAfterKill } = await addKillingServer(store, {
      imageId: 'victim',
      totalBytes: 24 * MiB,
      killAtBytes: 6 * MiB,
      kill: () => azurite.stop('SIGKILL'),
      port: azurite.port,
    });
    console.info(
      `azure add failed ${failedAfterMs} ms and ${requestsAfterKill} requests after Azurite was killed: ${failure}`,
    );
    expect(failure).toBeInstanceOf(StoreError);
    expect(failure).toBeInstanceOf(RemoteServiceUnavailable);
    // It gave up rather than hung: at most the 2 blocks in flight, each tried
    // azure_store_retries + 1 = 3 times; no new block was started after the failure.
    expect(requestsAfterKill).toBeGreaterThan(0);
    expect(requestsAfterKill).toBeLessThanOrEqual(2 * 3);

    await azurite.start();
    // Staged blocks are never committed, so no blob is visible under the id.
    expect(await committedBlobs(admin())).toEqual(['keeper']);
    expect(digest('sha256', await collect((await store.get(kept.location)).stream))).toBe(
      digest('sha256', keeper),
    );
    const again = patternBytes(2 * MiB + 1, 7);
    const readded = await store.add('victim', again, again.byteLength);
    expect(digest('sha256', await collect((await store.get(readded.location)).stream))).toBe(
      digest('sha256', again),
    );
    await store.delete(readded.location);
    await store.delete(kept.location);
    expect(await committedBlobs(admin())).toEqual([]);
  });
});
