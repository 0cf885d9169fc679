/**
 * glance_store's http store and @store's read the same URLs from local servers
 * (plain HTTP, and HTTPS with a CA made here), from one config file, and agree
 * on bytes, sizes and errors.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MultiStore } from '@store/core';
import { collect, digest, patternBytes } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SharedConfig, sharedConfig } from './peer.js';

const image = patternBytes(1_234_567, 99);
// requests lets these variables override the session's CA bundle, which would
// make glance_store ignore https_ca_certificates_file.
const peerEnv = { ...process.env };
delete peerEnv.REQUESTS_CA_BUNDLE;
delete peerEnv.CURL_CA_BUNDLE;
let dir: string;
let glance: SharedConfig['glance'];
let store: MultiStore;
const servers: (http.Server | https.Server)[] = [];
let plainBase: string;
let secureBase: string;

function handler(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const hop = /^\/(hop|relative)\/(\d+)$/.exec(url.pathname);
  if (hop && hop[2] !== '0') {
    // glance_store follows only absolute Location headers.
    const next = `/${hop[1]}/${Number(hop[2]) - 1}`;
    const origin = `${(req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http'}://${req.headers.host}`;
    res.writeHead(302, { location: hop[1] === 'hop' ? origin + next : next }).end();
    return;
  }
  if (url.pathname === '/missing') {
    res.writeHead(404).end();
    return;
  }
  res.statusCode = 200;
  if (url.pathname === '/chunked') {
    // Written before end(): chunked encoding, no Content-Length.
    if (req.method !== 'HEAD') res.write(image);
    res.end();
    return;
  }
  res.setHeader('content-length', image.byteLength);
  res.end(req.method === 'HEAD' ? undefined : image);
}

async function listen(server: http.Server | https.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function makeCertificates(where: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: where, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=peer test CA',
  );
  ssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  execFileSync('sh', ['-c', 'echo subjectAltName=IP:127.0.0.1 > san.ext'], { cwd: where });
  ssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'store-interop-http-'));
  makeCertificates(dir);
  plainBase = `http://127.0.0.1:${await listen(http.createServer(handler))}`;
  const tls = {
    key: await readFile(join(dir, 'server.key')),
    cert: await readFile(join(dir, 'server.pem')),
  };
  secureBase = `https://127.0.0.1:${await listen(https.createServer(tls, handler))}`;
  // One config file, read by both: verification on, against the test CA.
  ({ store, glance } = await sharedConfig(
    dir,
    [
      '[DEFAULT]',
      'enabled_backends = web:http',
      '[glance_store]',
      'default_backend = web',
      '[web]',
      `https_ca_certificates_file = ${join(dir, 'ca.pem')}`,
      'https_insecure = false',
    ],
    peerEnv,
  ));
});

afterAll(async () => {
  await store?.close();
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  await rm(dir, { recursive: true, force: true });
});

describe('http: glance_store and @store read the same URL alike', () => {
  for (const scheme of ['http', 'https']) {
    for (const path of ['/image', '/hop/4', '/chunked']) {
      it(`${scheme} ${path}: equal checksums, multihashes and sizes`, async () => {
        const url = `${scheme === 'http' ? plainBase : secureBase}${path}`;
        const theirs = await glance('get', url, '--backend', 'web');
        expect(theirs.error, theirs.message).toBeUndefined();
        const got = await store.get(url);
        const bytes = await collect(got.stream);
        expect(digest('md5', bytes)).toBe(theirs.checksum);
        expect(digest('sha512', bytes)).toBe(theirs.multihash);
        expect(digest('md5', bytes)).toBe(digest('md5', image));
        expect(bytes.byteLength).toBe(theirs.bytes);
        // Both report 0 when the server sends no Content-Length.
        expect(got.size).toBe(theirs.size);
        const theirSize = await glance('size', url, '--backend', 'web');
        expect(await store.getSize(url)).toBe(theirSize.size);
        expect(store.canonicalLocation(url)).toBe(url);
      });
    }
  }

  it('both raise NotFound for a 404 and MaxRedirectsExceeded for a chain of 5 redirects', async () => {
    for (const [path, code] of [
      ['/missing', 'NotFound'],
      ['/hop/5', 'MaxRedirectsExceeded'],
    ]) {
      const url = `${plainBase}${path}`;
      const theirs = await glance('get', url, '--backend', 'web');
      expect(theirs.error).toBe(code);
      await expect(store.get(url)).rejects.toMatchObject({ code });
    }
  });

  it('differs on purpose: @store follows a relative Location header, glance_store refuses it', async () => {
    const url = `${plainBase}/relative/2`;
    expect((await glance('get', url, '--backend', 'web')).error).toBe('BadStoreUri');
    const bytes = await collect((await store.get(url)).stream);
    expect(digest('md5', bytes)).toBe(digest('md5', image));
  });
});
