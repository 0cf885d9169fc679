/**
 * The connection of one Azure backend: the SDK client built from the backend's
 * options (connection string, or account URL plus account key or SAS token),
 * with bounded retries, client-side timeouts and the backend's TLS settings.
 */

import { Agent as HttpAgent } from 'node:http';
import { Agent } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  AnonymousCredential,
  BlobServiceClient,
  type ContainerClient,
  type StoragePipelineOptions,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { BadStoreConfiguration, type Logger, loadCaFile, secretRedactor } from '@store/core';
import { accountNameProblem, containerNameProblem } from './location.js';
import type { AzureOptions } from './options.js';

/** A configured backend's client and what the driver needs alongside it. */
export interface AzureConnection {
  readonly container: ContainerClient;
  /** The storage account name, as written in locations. */
  readonly account: string;
  /** Masks every credential of this backend in a text. */
  readonly redact: (text: string) => string;
  /** Releases the agent's connections. */
  close(): void;
}

/** A socket error the SDK retries as a network failure (its code is in its list). */
function timeoutError(message: string): Error {
  return Object.assign(new Error(message), { code: 'ETIMEDOUT' });
}

/**
 * Arms `socket` with the backend's timeouts: the connection must be made within
 * `connectMs`, and the socket destroyed once silent for `readMs` (the agent's
 * `timeout`, which Node keeps on the socket across keep-alive reuse). The Azure
 * SDK has no client-side timeout of its own: `tryTimeoutInMs` only asks the
 * service for one, so a silent endpoint would otherwise hold a call for ever.
 */
function armTimeouts(socket: Duplex, connectMs: number, readMs: number): Duplex {
  const net = socket as Socket;
  if (net.connecting) {
    const timer = setTimeout(
      () => socket.destroy(timeoutError(`no connection within ${connectMs / 1000} s`)),
      connectMs,
    );
    net.once('connect', () => clearTimeout(timer));
    net.once('close', () => clearTimeout(timer));
  }
  socket.on('timeout', () =>
    socket.destroy(timeoutError(`no data sent or received for ${readMs / 1000} s`)),
  );
  return socket;
}

/** `agent` (http's or https's), its sockets given the backend's connect and read timeouts. */
function timed<A extends HttpAgent>(agent: A, connectMs: number, readMs: number): A {
  const create = agent.createConnection.bind(agent);
  agent.createConnection = (...args: Parameters<HttpAgent['createConnection']>) =>
    armTimeouts(create(...args) as Duplex, connectMs, readMs);
  return agent;
}

/**
 * The pipeline options, plus the `agent` that @azure/core-rest-pipeline's
 * `createPipelineFromOptions` honours: the storage SDK forwards its pipeline
 * options there unchanged but does not declare the field in its own type.
 */
type PipelineOptions = StoragePipelineOptions & { agent?: HttpAgent };

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The secrets inside a connection string (key, SAS), so they are masked on their own too. */
function connectionStringSecrets(connectionString: string): string[] {
  return connectionString
    .split(';')
    .map((part) => /^(AccountKey|SharedAccessSignature)=(.+)$/i.exec(part.trim())?.[2])
    .filter((v): v is string => !!v);
}

/** The signature parameter of a SAS token, the part that grants access. */
function sasSignature(token: string): string[] {
  const sig = new URLSearchParams(token.replace(/^\?/, '')).get('sig');
  return sig ? [sig, encodeURIComponent(sig)] : [];
}

/**
 * Builds the backend's client from its options.
 * @throws BadStoreConfiguration naming the option at fault (never its value when secret).
 */
export async function connect(
  backendId: string,
  options: AzureOptions,
  logger: Logger,
): Promise<AzureConnection> {
  const bad = (why: string): never => {
    throw new BadStoreConfiguration(`Backend '${backendId}': ${why}`);
  };
  const containerProblem = containerNameProblem(options.azure_store_container);
  if (containerProblem) bad(`option 'azure_store_container' ${containerProblem}`);

  const connectionString = options.azure_store_connection_string;
  const key = options.azure_store_account_key;
  const sas = options.azure_store_sas_token?.replace(/^\?/, '');
  const redact = secretRedactor(
    [
      connectionString,
      key,
      sas,
      ...(connectionString ? connectionStringSecrets(connectionString) : []),
      ...(sas ? sasSignature(sas) : []),
    ].filter((s): s is string => !!s),
  );

  const pipeline: PipelineOptions = {
    retryOptions: {
      maxTries: options.azure_store_retries + 1,
      retryDelayInMs: options.azure_store_retry_delay * 1000,
      maxRetryDelayInMs:
        Math.max(options.azure_store_max_retry_delay, options.azure_store_retry_delay) * 1000,
    },
  };
  const tls = !!(options.azure_store_ca_certificates_file || options.azure_store_insecure);
  const ca = tls
    ? await loadCaFile(
        backendId,
        'azure_store_ca_certificates_file',
        options.azure_store_ca_certificates_file,
      )
    : undefined;
  const connectMs = options.azure_store_connect_timeout * 1000;
  const timeout = options.azure_store_read_timeout * 1000;
  const makeAgent = (https: boolean): HttpAgent =>
    https
      ? timed(
          new Agent({
            keepAlive: true,
            timeout,
            ...(tls ? { rejectUnauthorized: !options.azure_store_insecure } : {}),
            ...(ca ? { ca } : {}),
          }),
          connectMs,
          timeout,
        )
      : timed(new HttpAgent({ keepAlive: true, timeout }), connectMs, timeout);
  let agent: HttpAgent | undefined;

  const makeService = (withAgent: boolean): BlobServiceClient => {
    const opts: PipelineOptions = withAgent && agent ? { ...pipeline, agent } : pipeline;
    if (connectionString) {
      if (options.azure_store_account_url || key || sas) {
        bad(
          "set either 'azure_store_connection_string' or 'azure_store_account_url' with a key or SAS token, not both",
        );
      }
      try {
        return BlobServiceClient.fromConnectionString(connectionString, opts);
      } catch {
        // The SDK's message may quote the string, which holds the key: say only what is wrong.
        return bad("option 'azure_store_connection_string' is not a valid connection string");
      }
    }
    const name = options.azure_store_account_name;
    const rawUrl =
      options.azure_store_account_url ||
      (name ? `https://${name}.blob.core.windows.net` : undefined) ||
      bad(
        "needs 'azure_store_connection_string', 'azure_store_account_url' or 'azure_store_account_name'",
      );
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      return bad(`option 'azure_store_account_url' is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      bad(`option 'azure_store_account_url' must be an http or https URL`);
    if (url.username || url.password || url.search || url.hash) {
      bad(
        "option 'azure_store_account_url' must not carry credentials or a query: use 'azure_store_account_key' or 'azure_store_sas_token'",
      );
    }
    const base = url.href.replace(/\/+$/, '');
    if (key && sas) bad("set 'azure_store_account_key' or 'azure_store_sas_token', not both");
    if (sas) return new BlobServiceClient(`${base}?${sas}`, new AnonymousCredential(), opts);
    if (!key) {
      return bad(
        "needs credentials: 'azure_store_account_key', 'azure_store_sas_token' or 'azure_store_connection_string'",
      );
    }
    if (!BASE64.test(key)) bad("option 'azure_store_account_key' is not base64");
    const signer = name ?? new BlobServiceClient(base).accountName;
    if (!signer) bad("set 'azure_store_account_name': it cannot be told from the account URL");
    return new BlobServiceClient(base, new StorageSharedKeyCredential(signer, key), opts);
  };

  let service = makeService(false);
  // The endpoint's scheme is known once the client has parsed the options.
  const https = new URL(service.url).protocol === 'https:';
  if (tls && !https)
    logger.warn(
      `Backend '${backendId}': the endpoint is plain http, so the TLS options are not used`,
    );
  agent = makeAgent(https);
  service = makeService(true);
  const account = (options.azure_store_account_name ?? service.accountName ?? '').toLowerCase();
  if (!account) bad("set 'azure_store_account_name': it cannot be told from the endpoint");
  const accountProblem = accountNameProblem(account);
  if (accountProblem) bad(`the storage account name ${accountProblem}`);
  const used = agent;
  return {
    container: service.getContainerClient(options.azure_store_container),
    account,
    redact,
    close: () => used?.destroy(),
  };
}
