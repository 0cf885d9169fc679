/**
 * TLS options against a private Azurite instance serving https with a throw-away
 * self-signed certificate (the shared Azurite serves plain http).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { MultiStore } from '@store/core';
import { collect, patternBytes } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import azureDriver from '../src/index.js';
import { env } from './env.js';

/** azurite-blob from the workspace (a root dev dependency, as tools/services uses it). */
function azuriteBin(): string {
  for (let dir = resolve(process.cwd()); ; dir = dirname(dir)) {
    const bin = join(dir, 'node_modules', '.bin', 'azurite-blob');
    if (existsSync(bin)) return bin;
    if (dirname(dir) === dir) throw new Error('azurite-blob not found: run pnpm install');
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`azurite exited with ${child.exitCode}`);
    const open = await new Promise<boolean>((r) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        r(true);
      });
      socket.once('error', () => r(false));
      socket.connect(port, '127.0.0.1');
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('azurite (https) did not start');
}

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
    await waitForPort(port, azurite);
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
