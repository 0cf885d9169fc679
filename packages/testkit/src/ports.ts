/**
 * Loopback ports for tests that start a private server process (a radosgw, an Azurite,
 * an HTTP server) beside the shared services, so they can kill it without harming others.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer, Socket } from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** True when something accepts TCP connections on 127.0.0.1:`port`. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}

/**
 * Waits until 127.0.0.1:`port` accepts connections, polling every 100 ms.
 * @throws when `child` (the server being started) exits first, or after `timeoutMs`.
 */
export async function waitForPort(
  port: number,
  {
    child,
    what = 'the server',
    timeoutMs = 30_000,
  }: { child?: ChildProcess; what?: string; timeoutMs?: number } = {},
): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if (await portOpen(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}
