/**
 * TLS options against a private Azurite instance serving https with a throw-away
 * self-signed certificate (the shared Azurite serves plain http).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MultiStore } from '@store/core';
import { collect, freePort, patternBytes, waitForPort } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import azureDriver from '../src/index.js';
import { azuriteBin } from './azurite.js';
import { env } from './env.js';

describe.skipIf(!env)('TLS settings against Azurite over https', () => {
  let dir: string;
  let azurite: ChildProcess | undefined;
  let endpoint: string;
  let ca: string;
  const stores: MultiStore[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'store-azure-tls-'));
    ca = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    // A throw-away self-signed certificate for 127.0.0.1, which is also its own CA.
    const subject = ['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-keyout',
        key,
        '-out',
        ca,
        ...subject,
      ],
      { stdio: 'ignore' },
    );
    const port = await freePort();
    azurite = spawn(
      azuriteBin(),
      [
        '--blobHost',
        '127.0.0.1',
        '--blobPort',
        String(port),
        '--cert',
        ca,
        '--key',
        key,
        '--inMemoryPersistence',
        '--skipApiVersionCheck',
        '--silent',
      ],
      { stdio: 'ignore' },
    );
    await waitForPort(port, { child: azurite, what: 'azurite (https)' });
    endpoint = `https://127.0.0.1:${port}/${env!.STORE_TEST_AZURE_ACCOUNT}`;
  }, 60_000);

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    if (azurite?.exitCode === null) {
      const exited = new Promise((r) => azurite!.once('exit', r));
      azurite.kill('SIGTERM');
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function open(options: Record<string, unknown>) {
    const store = await MultiStore.create(
      {
        enabledBackends: { tls: 'azure' },
        defaultBackend: 'tls',
        backends: {
          tls: {
            azure_store_account_url: endpoint,
            azure_store_account_key: env!.STORE_TEST_AZURE_KEY,
            azure_store_container: 'tls-test',
            azure_store_create_container_on_put: true,
            azure_store_retries: 0,
            ...options,
          },
        },
      },
      { drivers: [azureDriver] },
    );
    stores.push(store);
    return store;
  }

  it('refuses an endpoint whose certificate it cannot verify', async () => {
    const store = await open({});
    const err = await store.add('a', patternBytes(10), 10).then(
      () => undefined,
      (e: Error & { code: string }) => e,
    );
    expect(err?.code).toBe('BackendException');
    expect(err?.message).toMatch(/TLS verification.*azure_store_ca_certificates_file/);
  });

  it('verifies the endpoint against azure_store_ca_certificates_file', async () => {
    const store = await open({ azure_store_ca_certificates_file: ca });
    const data = patternBytes(3000, 5);
    const added = await store.add('with-ca', data, data.byteLength);
    expect(
      Buffer.compare(await collect((await store.get(added.location)).stream), Buffer.from(data)),
    ).toBe(0);
  });

  it('skips verification with azure_store_insecure', async () => {
    const store = await open({ azure_store_insecure: true });
    expect(await store.getSize(`azure://${env!.STORE_TEST_AZURE_ACCOUNT}/tls-test/with-ca`)).toBe(
      3000,
    );
  });
});
