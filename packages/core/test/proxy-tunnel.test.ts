/**
 * openProxyTunnel against a real CONNECT proxy on 127.0.0.1 (node:http's
 * 'connect' event) in front of a TCP echo server.
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperationAborted } from '../src/errors.js';
import { openProxyTunnel, type ProxyTunnelFailure } from '../src/proxy-tunnel.js';

let echo: net.Server;
let proxy: http.Server;
let echoPort: number;
let proxyPort: number;
const seen: { url: string; auth: string | undefined }[] = [];
/** What the proxy does with the next CONNECT. */
let mode: 'open' | 'refuse' | 'silent' = 'open';
/** Sockets a server no longer tracks (CONNECT's) or would wait for on close. */
const open = new Set<net.Socket>();
const track = (socket: net.Socket) => {
  open.add(socket);
  socket.on('close', () => open.delete(socket));
};

beforeAll(async () => {
  echo = net.createServer((socket) => {
    track(socket);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as AddressInfo).port;
  proxy = http.createServer();
  proxy.on('connect', (req, client: net.Socket, head) => {
    track(client);
    seen.push({ url: req.url ?? '', auth: req.headers['proxy-authorization'] });
    if (mode === 'silent') return; // never answers; the client's timeout ends it
    if (mode === 'refuse') {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
      return;
    }
    const upstream = net.connect(echoPort, '127.0.0.1', () => {
      // The greeting rides in the proxy's answer packet: it must come first out of the tunnel.
      client.write('HTTP/1.1 200 Connection established\r\n\r\nhi:');
      upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyPort = (proxy.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const socket of open) socket.destroy();
  proxy.closeAllConnections();
  await new Promise((resolve) => proxy.close(resolve));
  await new Promise((resolve) => echo.close(resolve));
});

const endpoint = () => ({
  hostname: '127.0.0.1',
  port: proxyPort,
  authorization: 'Basic dTpw',
  shown: `http://127.0.0.1:${proxyPort}`,
});

describe('openProxyTunnel', () => {
  it('opens a tunnel with the proxy credentials, bytes after the answer first', async () => {
    mode = 'open';
    const socket = await openProxyTunnel({
      proxy: endpoint(),
      host: '127.0.0.1',
      port: echoPort,
      timeoutMs: 30_000,
    });
    socket.write('ping');
    let text = '';
    for await (const chunk of socket) {
      text += String(chunk);
      if (text.length >= 'hi:ping'.length) break;
    }
    socket.destroy();
    expect(text).toBe('hi:ping');
    expect(seen.at(-1)).toEqual({ url: `127.0.0.1:${echoPort}`, auth: 'Basic dTpw' });
  });

  it('brackets an IPv6 host in the authority', async () => {
    mode = 'refuse';
    await openProxyTunnel({ proxy: endpoint(), host: '::1', port: 443, timeoutMs: 30_000 }).catch(
      () => undefined,
    );
    expect(seen.at(-1)?.url).toBe('[::1]:443');
  });

  it('hands a refusal to mapError, with its status and a message naming proxy and target', async () => {
    mode = 'refuse';
    const failures: ProxyTunnelFailure[] = [];
    const err = await openProxyTunnel({
      proxy: endpoint(),
      host: 'example.test',
      port: 443,
      timeoutMs: 30_000,
      mapError: (failure) => {
        failures.push(failure);
        return new Error('mapped');
      },
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('mapped');
    expect(failures).toHaveLength(1);
    const [failure] = failures;
    expect(failure?.kind).toBe('refused');
    if (failure?.kind !== 'refused') return;
    expect(failure.status).toBe(407);
    expect(failure.message).toContain(`http://127.0.0.1:${proxyPort}`);
    expect(failure.message).toContain('example.test:443');
    expect(failure.message).not.toContain('dTpw');
  });

  it('fails with ETIMEDOUT when the proxy does not answer in time', async () => {
    mode = 'silent';
    const err = (await openProxyTunnel({
      proxy: endpoint(),
      host: 'example.test',
      port: 443,
      timeoutMs: 50,
    }).catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(err.code).toBe('ETIMEDOUT');
    expect(err.message).toContain('did not open a tunnel to example.test:443 in time');
  });

  it('fails with OperationAborted when the signal aborts, before or during the CONNECT', async () => {
    mode = 'silent';
    const before = await openProxyTunnel({
      proxy: endpoint(),
      host: 'example.test',
      port: 443,
      timeoutMs: 30_000,
      signal: AbortSignal.abort(),
    }).catch((e: unknown) => e);
    expect(before).toBeInstanceOf(OperationAborted);
    const controller = new AbortController();
    const count = seen.length;
    const pending = openProxyTunnel({
      proxy: endpoint(),
      host: 'example.test',
      port: 443,
      timeoutMs: 30_000,
      signal: controller.signal,
    }).catch((e: unknown) => e);
    // Aborted once the proxy holds the CONNECT, so the request itself is cancelled.
    while (seen.length === count) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    controller.abort();
    expect(await pending).toBeInstanceOf(OperationAborted);
  });

  it('passes a failed request to the proxy through mapError', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const failures: ProxyTunnelFailure[] = [];
    const err = (await openProxyTunnel({
      proxy: { ...endpoint(), port },
      host: 'example.test',
      port: 443,
      timeoutMs: 30_000,
      mapError: (failure) => {
        failures.push(failure);
        return failure.kind === 'error' ? failure.error : new Error('unexpected');
      },
    }).catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(failures.map((f) => f.kind)).toEqual(['error']);
    expect(err.code).toBe('ECONNREFUSED');
  });
});
