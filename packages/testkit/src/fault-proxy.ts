/**
 * A TCP proxy in front of a real service that injects the network faults the
 * service cannot produce on demand: a connection reset as a request arrives,
 * and a service that stops answering. Everything else passes through unchanged
 * (TLS and request signing included: the bytes are not touched).
 */
import { createConnection, createServer, type Socket } from 'node:net';

/** A running fault proxy. */
export interface FaultProxy {
  /** `127.0.0.1:<port>`, to put in an endpoint URL instead of the service's. */
  readonly address: string;
  readonly port: number;
  /**
   * Resets (TCP RST) the connection carrying each of the next `n` requests: the
   * first bytes a client sends after this call, on any connection, are dropped
   * with the connection, as a crashed server or a middlebox does.
   */
  resetNext(n: number): void;
  /**
   * While on, bytes from clients are held unforwarded on every connection (new
   * ones are accepted): the service seems to have stopped answering. Turning it
   * off does not send what was held; those connections stay silent.
   */
  stall(on: boolean): void;
  /**
   * Cuts each of the next `n` answers after `afterBytes` bytes of it (headers
   * included) went to the client: the connection carrying the next request is
   * closed there, as a server dying mid-body does.
   */
  breakNextAnswers(n: number, afterBytes: number): void;
  /** Answers cut so far. */
  readonly breaks: number;
  /** Connections reset so far. */
  readonly resets: number;
  /** Client sends swallowed while stalled so far. */
  readonly stalled: number;
  /** Closes the proxy and every connection through it. */
  close(): Promise<void>;
}

/**
 * Starts a fault proxy on 127.0.0.1 forwarding to `host:port`, or to the host
 * and port of a service's endpoint URL (e.g. `STORE_TEST_S3_ENDPOINT`).
 */
export async function startFaultProxy(
  upstream: { host: string; port: number } | string | URL,
): Promise<FaultProxy> {
  const target =
    typeof upstream === 'object' && !(upstream instanceof URL) ? upstream : hostPort(upstream);
  const sockets = new Set<Socket>();
  let pendingResets = 0;
  let stalling = false;
  let resets = 0;
  let stalled = 0;
  let pendingBreaks = 0;
  let breakAfter = 0;
  let breaks = 0;
  const server = createServer((client) => {
    const upstream = createConnection(target);
    sockets.add(client).add(upstream);
    let silenced = false;
    /** Bytes of the answer still to pass before the cut, when this connection's answer is to be cut. */
    let budget: number | undefined;
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    client.on('error', end);
    upstream.on('error', end);
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    upstream.on('data', (chunk: Buffer) => {
      if (silenced) return;
      if (budget === undefined) return void client.write(chunk);
      if (chunk.length < budget) {
        budget -= chunk.length;
        return void client.write(chunk);
      }
      breaks++;
      silenced = true;
      upstream.destroy();
      client.end(chunk.subarray(0, budget), () => client.destroy());
    });
    client.on('data', (chunk) => {
      if (silenced || stalling) {
        silenced = true;
        stalled++;
        return;
      }
      if (pendingResets > 0) {
        pendingResets--;
        resets++;
        upstream.destroy();
        client.resetAndDestroy();
        return;
      }
      if (budget === undefined && pendingBreaks > 0) {
        pendingBreaks--;
        budget = breakAfter;
      }
      upstream.write(chunk);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    port,
    resetNext: (n) => {
      pendingResets = n;
    },
    stall: (on) => {
      stalling = on;
    },
    breakNextAnswers: (n, afterBytes) => {
      pendingBreaks = n;
      breakAfter = afterBytes;
    },
    get breaks() {
      return breaks;
    },
    get resets() {
      return resets;
    },
    get stalled() {
      return stalled;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The host and port of an endpoint URL (the scheme's default port when it names none). */
function hostPort(endpoint: string | URL): { host: string; port: number } {
  const url = new URL(endpoint);
  return { host: url.hostname, port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) };
}
