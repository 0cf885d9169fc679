/**
 * An HTTP server that dies mid-body (issue 10): a server in a child process is killed
 * (SIGKILL) while an image streams from it, then started again on the same port. The
 * reader must fail with RemoteServiceUnavailable, never end as if the image were
 * whole, and the restarted server's images must read back byte for byte.
 * (`test/http.test.ts` drops the connection from inside the process, with and without
 * Content-Length; this is the whole process going away.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { MultiStore } from '@store/core';
import { freePort } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure, openStore } from './servers.js';

const SIZE = 32 * 1024 * 1024;

/** The server: GET /<seed> answers SIZE bytes made from the seed, in 64 KiB writes. */
const SERVER = `
const http = require('node:http');
const size = ${SIZE};
function block(seed, index) {
  const b = Buffer.alloc(65536);
  let x = (seed * 7919 + index * 104729 + 1) >>> 0;
  for (let i = 0; i < b.length; i += 4) { x = (x * 1664525 + 1013904223) >>> 0; b.writeUInt32LE(x, i); }
  return b;
}
const server = http.createServer((req, res) => {
  const seed = Number(req.url.slice(1)) || 0;
  res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
  let i = 0;
  const more = () => {
    while (i < size / 65536) { if (!res.write(block(seed, i++))) return res.once('drain', more); }
    res.end();
  };
  more();
});
server.listen(Number(process.argv[1]), '127.0.0.1', () => process.send('ready'));
`;

/** The same bytes as the server's, hashed. */
function expectedDigest(seed: number): string {
  const hash = createHash('sha256');
  for (let index = 0; index < SIZE / 65536; index++) {
    const b = Buffer.alloc(65536);
    let x = (seed * 7919 + index * 104729 + 1) >>> 0;
    for (let i = 0; i < b.length; i += 4) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      b.writeUInt32LE(x, i);
    }
    hash.update(b);
  }
  return hash.digest('hex');
}

describe('http: the server process dies mid-body', { timeout: 60_000 }, () => {
  let port: number;
  let child: ChildProcess | undefined;
  let store: MultiStore;

  async function startChild(): Promise<void> {
    const started = spawn(process.execPath, ['-e', SERVER, String(port)], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    child = started;
    await new Promise<void>((resolve, reject) => {
      started.once('message', () => resolve());
      started.once('exit', (code) => reject(new Error(`the test server exited with ${code}`)));
    });
  }

  async function killChild(): Promise<void> {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((r) => running.once('exit', r));
    process.kill(running.pid!, 'SIGKILL');
    await exited;
  }

  beforeAll(async () => {
    port = await freePort();
    await startChild();
    store = await openStore({ http_max_retries: 2 });
  });
  afterAll(async () => {
    await store?.close();
    await killChild();
  });

  it('fails the read with RemoteServiceUnavailable, and serves whole images once restarted', async () => {
    const got = await store.get(`http://127.0.0.1:${port}/1`);
    expect(got.size).toBe(SIZE);
    let bytes = 0;
    const reading = (async () => {
      for await (const chunk of got.stream) {
        if (bytes === 0) await killChild();
        bytes += chunk.byteLength;
      }
    })();
    const err = await failure(reading);
    expect(err.code).toBe('RemoteServiceUnavailable');
    expect(bytes).toBeLessThan(SIZE);

    await startChild();
    for (const seed of [1, 2]) {
      const again = await store.get(`http://127.0.0.1:${port}/${seed}`);
      const hash = createHash('sha256');
      let total = 0;
      for await (const chunk of again.stream) {
        hash.update(chunk);
        total += chunk.byteLength;
      }
      expect(total).toBe(SIZE);
      expect(hash.digest('hex')).toBe(expectedDigest(seed));
    }
  });
});
