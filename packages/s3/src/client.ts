/**
 * S3 clients: one per set of credentials (locations may carry keys other than the
 * configured ones), sharing one keep-alive connection pool, with bounded retries
 * and the SDK's own log lines routed to the injected logger.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { format } from 'node:util';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { Logger } from '@store/core';
import { TunnelHttpAgent, TunnelHttpsAgent } from './proxy.js';
import type { S3Settings } from './settings.js';
import { SocketBudget, socketBudgetExtension } from './sockets.js';

/** Distinct credential sets kept; more are rare (keys rotated, locations of other tenants). */
const MAX_CLIENTS = 16;

/**
 * The SDK client configuration for `settings` with the given keys (exported for
 * tests); with `budget`, every request takes one of its socket tokens first.
 */
export function clientConfig(
  settings: S3Settings,
  credentials: { accessKeyId: string; secretAccessKey: string },
  agents: { http: HttpAgent; https: HttpsAgent },
  logger: Logger,
  redact: (text: string) => string,
  budget?: SocketBudget,
): S3ClientConfig {
  const line = (args: unknown[]) => redact(`S3 client: ${format(...args)}`);
  return {
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.addressing === 'path',
    credentials,
    maxAttempts: settings.maxAttempts,
    retryMode: 'standard',
    // radosgw (and most S3 servers but AWS) know neither CRC trailers nor aws-chunked uploads.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      httpAgent: agents.http,
      httpsAgent: agents.https,
      connectionTimeout: settings.connectTimeoutMs,
      // Inactivity, not total time: a large GET may rightly take minutes.
      socketTimeout: settings.readTimeoutMs,
    },
    // The SDK builds its handler from the options above; the extension puts it behind the budget.
    ...(budget ? { extensions: [socketBudgetExtension(budget)] } : {}),
    // The SDK logs every command's input at info level: too much (and too big) to pass on.
    logger: {
      trace: () => {},
      debug: () => {},
      info: () => {},
      warn: (...args: unknown[]) => {
        // Said of every failed streamed PUT (a Duplicate included); the failure itself is reported.
        const text = line(args);
        if (text.includes('non-retryable streaming request')) logger.debug(text);
        else logger.warn(text);
      },
      // Logged by the SDK for every failed command, expected 404s included, with the whole
      // error object: the driver reports failures itself, so only a short debug line here.
      error: (...args: unknown[]) => {
        const entry = args[0] as { commandName?: string; error?: { name?: string } } | undefined;
        logger.debug(
          redact(
            `S3 client: ${entry?.commandName ?? 'command'} failed: ${entry?.error?.name ?? 'error'}`,
          ),
        );
      },
    },
  };
}

/** The clients of one driver instance. */
export class ClientPool {
  readonly #settings: S3Settings;
  readonly #logger: Logger;
  readonly #redact: (text: string) => string;
  readonly #clients = new Map<string, S3Client>();
  readonly #agents: { http: HttpAgent; https: HttpsAgent };
  /** One token per socket of the pool, shared by every client: see sockets.ts. */
  readonly budget: SocketBudget;

  /**
   * @param maxSockets - size of the keep-alive pool (tests make it small); by default
   *   enough for every part in flight of several concurrent uploads.
   */
  constructor(
    settings: S3Settings,
    logger: Logger,
    redact: (text: string) => string,
    maxSockets = Math.max(64, settings.concurrency * 4),
  ) {
    this.#settings = settings;
    this.#logger = logger;
    this.#redact = redact;
    this.budget = new SocketBudget(maxSockets);
    const plain = { keepAlive: true, maxSockets };
    const secure = {
      ...plain,
      rejectUnauthorized: settings.rejectUnauthorized,
      ...(settings.ca ? { ca: settings.ca } : {}),
    };
    const { proxy, connectTimeoutMs } = settings;
    this.#agents = proxy
      ? {
          http: new TunnelHttpAgent(proxy, connectTimeoutMs, plain),
          https: new TunnelHttpsAgent(proxy, connectTimeoutMs, secure),
        }
      : { http: new HttpAgent(plain), https: new HttpsAgent(secure) };
  }

  /** The client for `accessKey`/`secretKey` (the configured keys when absent). */
  client(accessKey?: string, secretKey?: string): S3Client {
    const accessKeyId = accessKey || this.#settings.accessKey;
    const secretAccessKey = accessKey ? (secretKey ?? '') : this.#settings.secretKey;
    const id = `${accessKeyId}\0${secretAccessKey}`;
    let client = this.#clients.get(id);
    if (client) return client;
    if (this.#clients.size >= MAX_CLIENTS) {
      // Not destroy(): that would destroy the agents every client shares.
      const oldest = this.#clients.keys().next().value as string;
      this.#clients.delete(oldest);
    }
    client = new S3Client(
      clientConfig(
        this.#settings,
        { accessKeyId, secretAccessKey },
        this.#agents,
        this.#logger,
        this.#redact,
        // Every request of every client takes a socket token first.
        this.budget,
      ),
    );
    this.#clients.set(id, client);
    return client;
  }

  /** Closes every client and connection. */
  close(): void {
    // Destroying one client destroys the shared agents, which is what closing means here.
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }
}
