/**
 * A real forward proxy on 127.0.0.1 for driver tests: absolute-URI requests for
 * http:// and CONNECT tunnels to any host and port, with optional Basic proxy
 * authentication. It records every request it sees.
 */
import http, { type IncomingMessage } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';

/** A running forward proxy. */
export interface ForwardProxy {
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly base: string;
  /** Every request seen: method, URL (the authority for CONNECT) and headers. */
  readonly seen: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  /** Required `Proxy-Authorization` value, if set (407 otherwise). */
  requireAuth?: string;
  close(): Promise<void>;
}

/** Starts a forward proxy on 127.0.0.1. */
export async function startProxy(): Promise<ForwardProxy> {
  const proxy = { seen: [] } as unknown as ForwardProxy;
  const refused = (req: IncomingMessage) =>
    proxy.requireAuth !== undefined && req.headers['proxy-authorization'] !== proxy.requireAuth;
  const server = http.createServer((req, res) => {
    proxy.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (refused(req)) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="proxy"' }).end();
      return;
    }
    const target = new URL(req.url ?? '');
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method: req.method,
        headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    proxy.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (refused(req)) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
      return;
    }
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return Object.assign(proxy, { port, base: `http://127.0.0.1:${port}`, close });
}
