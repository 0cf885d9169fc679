/**
 * Swift over Node's HTTP stack: v1 authentication with a token cached per
 * account (refreshed before it expires when the auth answer says when, and
 * after a 401), keep-alive connection pools, and streamed uploads sent with
 * `Expect: 100-continue` so that a refused token is answered before any image
 * byte is consumed and the upload can be retried with a fresh one.
 */
import http from 'node:http';
import https from 'node:https';
import type { Writable } from 'node:stream';
import { abortError, BadStoreConfiguration, Forbidden, type Logger } from '@store/core';
import type { KeystoneDomains } from './accounts.js';
import { type CatalogService, type EndpointFilter, endpointFromCatalog } from './context.js';
import { SwiftStatusError, toStoreError } from './errors.js';

/** Where and as whom to authenticate. */
export interface Credentials {
  readonly authUrl: string;
  readonly user: string;
  readonly key: string;
  readonly authVersion: string;
  /** Keystone v3: the domains of the user and of its project. */
  readonly domains?: KeystoneDomains;
}

/**
 * A token someone else obtained (multi-tenant mode: the caller's, from the
 * request context) and the storage URL to use it at. Never refreshed: a 401
 * fails the request.
 */
export interface PreAuthorized {
  readonly preauth: Session;
}

/** Whom a request acts as: credentials to authenticate with, or a token given. */
export type Account = Credentials | PreAuthorized;

function isPreAuthorized(account: Account): account is PreAuthorized {
  return 'preauth' in account;
}

/** A token and the storage URL it is good for. */
export interface Session {
  readonly storageUrl: string;
  readonly token: string;
  /** Epoch ms the token expires at, when the auth answer said. */
  readonly expiresAt?: number;
}

/** How the client connects and authenticates. */
export interface ClientSettings {
  /** CA bundle replacing the system trust store. */
  readonly ca?: Buffer;
  readonly rejectUnauthorized: boolean;
  /** swift_store_endpoint: replaces the storage URL of the auth answer. */
  readonly endpoint?: string;
  /** Which endpoint of a Keystone catalog is the storage URL. */
  readonly catalog: EndpointFilter;
  /** swift_store_expire_soon_interval, in ms. */
  readonly expireSoonMs: number;
  readonly logger: Logger;
  /** Masks secrets in text taken from answers. */
  readonly redact: (text: string) => string;
}

/** One request with no body or a body in memory (so it can be sent again after re-auth). */
export interface SwiftRequest {
  readonly method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  readonly container?: string;
  readonly object?: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  readonly signal: AbortSignal;
  /** What the request does, for error messages. */
  readonly action: string;
}

/** A streamed PUT: `write` is called once Swift accepted the headers. */
export interface StreamedPut {
  readonly container: string;
  readonly object: string;
  /** Content-Length; undefined sends the body chunked. */
  readonly length?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Writes the body into `sink` (with backpressure); the client ends the request. */
  readonly write: (sink: Writable) => Promise<void>;
  readonly signal: AbortSignal;
  readonly action: string;
}

/** A session being obtained, and once obtained the session itself. */
interface SessionEntry {
  readonly pending: Promise<Session>;
  session?: Session;
}

function accountKey(credentials: Credentials): string {
  return `${credentials.authUrl}\n${credentials.user}\n${credentials.key}`;
}

/** Auth versions this client speaks. */
const V1 = new Set(['1', '1.0']);
const V3 = new Set(['3', '3.0']);
/** A Keystone token answer is read up to this size (the catalog makes it large). */
const TOKEN_BODY_BYTES = 4 * 1024 * 1024;
/** How long a PUT waits for `100 Continue` before sending its body anyway (as curl does). */
const CONTINUE_WAIT_MS = 1000;
/**
 * How long it waits once the server has been seen to send `100 Continue`: such a
 * server (Swift, radosgw) sends it only after the token passed, which can take
 * longer than a second (radosgw asking Keystone), and a body sent before that
 * cannot be sent again after a 401.
 */
const KNOWN_CONTINUE_WAIT_MS = 60_000;
const AUTH_TIMEOUT_MS = 30_000;
const ERROR_BODY_BYTES = 1024;
const USER_AGENT = '@store/swift';

/** The error a PUT's body writer sees when the request went away under it. */
class RequestClosed extends Error {}

/** Swift paths: every segment percent-encoded, `/` inside object names kept. */
function objectPath(container?: string, object?: string): string {
  let path = '';
  if (container !== undefined) path += `/${encodeURIComponent(container)}`;
  if (object !== undefined) path += `/${object.split('/').map(encodeURIComponent).join('/')}`;
  return path;
}

/** Reads at most ERROR_BODY_BYTES of an error answer's body, then drops the rest. */
async function errorDetail(response: http.IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      parts.push(chunk);
      size += chunk.length;
      if (size >= ERROR_BODY_BYTES) break;
    }
  } catch {
    // The detail is a courtesy; the status says what happened.
  }
  response.destroy();
  return Buffer.concat(parts).toString('utf8').slice(0, ERROR_BODY_BYTES).split('\n', 1)[0]!.trim();
}

/** The whole body, refused when larger than `limit`. */
async function readBounded(response: http.IncomingMessage, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      response.destroy();
      throw new Error(`the answer is larger than ${limit} bytes`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/** Waits until `sink` can take more, rejecting when it closes first. */
function drained(sink: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      sink.off('drain', onDrain);
      sink.off('close', onClose);
      sink.off('error', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new RequestClosed('The request closed while its body was written'));
    sink.on('drain', onDrain);
    sink.on('close', onClose);
    sink.on('error', onClose);
  });
}

/** Writes `chunk` to `sink`, waiting for drain when its buffer is full. */
export async function writeChunk(sink: Writable, chunk: Uint8Array): Promise<void> {
  if (sink.destroyed) throw new RequestClosed('The request closed while its body was written');
  if (!sink.write(chunk)) await drained(sink);
}

/** Talks to one Swift cluster (any number of accounts on it). One per driver instance. */
export class SwiftClient {
  readonly #settings: ClientSettings;
  readonly #plain: http.Agent;
  readonly #secure: https.Agent;
  readonly #sessions = new Map<string, SessionEntry>();
  /** Storage hosts (host:port) seen answering `Expect: 100-continue`. */
  readonly #continuing = new Set<string>();

  constructor(settings: ClientSettings) {
    this.#settings = settings;
    const pool = { keepAlive: true, maxFreeSockets: 16 };
    this.#plain = new http.Agent(pool);
    this.#secure = new https.Agent({
      ...pool,
      rejectUnauthorized: settings.rejectUnauthorized,
      ...(settings.ca ? { ca: settings.ca } : {}),
    });
  }

  /** Refuses what this client cannot authenticate with. */
  static checkCredentials(credentials: Credentials, where: string): void {
    if (['2', '2.0'].includes(credentials.authVersion)) {
      throw new BadStoreConfiguration(
        `${where}: auth_version 2 (Keystone's v2.0 API) is not supported: Keystone no longer serves it (removed in Queens); use auth_version = 3, or 1 for v1 auth (radosgw's /auth/1.0)`,
      );
    }
    if (!V1.has(credentials.authVersion) && !V3.has(credentials.authVersion)) {
      throw new BadStoreConfiguration(
        `${where}: auth_version '${credentials.authVersion}' is not one of 1 (v1 auth) and 3 (Keystone v3)`,
      );
    }
    if (V3.has(credentials.authVersion) && credentials.user.split(':').length !== 2) {
      throw new BadStoreConfiguration(
        `${where}: with auth_version 3 the user is written <project>:<user>, with one ':'`,
      );
    }
    if (!/^https?:\/\//.test(credentials.authUrl)) {
      throw new BadStoreConfiguration(`${where}: the auth address must be an http(s) URL`);
    }
  }

  #request(url: URL, options: http.RequestOptions): http.ClientRequest {
    const secure = url.protocol === 'https:';
    return (secure ? https : http).request(url, {
      ...options,
      agent: secure ? this.#secure : this.#plain,
      headers: { 'user-agent': USER_AGENT, ...options.headers },
    });
  }

  /** Sends a body-less or in-memory request and resolves once the answer's headers are in. */
  #exchange(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: Uint8Array | undefined,
    signal: AbortSignal,
  ): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const request = this.#request(url, {
        method,
        signal,
        headers: { ...headers, 'content-length': String(body?.byteLength ?? 0) },
      });
      request.once('response', resolve);
      request.once('error', reject);
      request.end(body);
    });
  }

  #authenticate(credentials: Credentials): Promise<Session> {
    return V3.has(credentials.authVersion)
      ? this.#authenticateV3(credentials)
      : this.#authenticateV1(credentials);
  }

  /**
   * Keystone v3 password auth, scoped to the project of `<project>:<user>`
   * (as glance_store splits it): POST <auth address>/auth/tokens (`/v3` is
   * added to an address without a version). The token is X-Subject-Token; the
   * storage URL is swift_store_endpoint, else the catalog's endpoint for
   * swift_store_service_type, swift_store_endpoint_type and swift_store_region.
   */
  async #authenticateV3(credentials: Credentials): Promise<Session> {
    const action = `authenticating at ${credentials.authUrl}`;
    const fail = (err: unknown) => toStoreError(err, { action, redact: this.#settings.redact });
    const [project, user] = credentials.user.split(':') as [string, string];
    const domains = credentials.domains ?? {};
    const domain = (id?: string, name?: string) => (id !== undefined ? { id } : { name });
    const body = Buffer.from(
      JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: {
              user: {
                name: user,
                domain: domain(
                  domains.userDomainId ?? (domains.userDomainName ? undefined : 'default'),
                  domains.userDomainName,
                ),
                password: credentials.key,
              },
            },
          },
          scope: {
            project: {
              name: project,
              domain: domain(
                domains.projectDomainId ?? (domains.projectDomainName ? undefined : 'default'),
                domains.projectDomainName,
              ),
            },
          },
        },
      }),
    );
    const base = credentials.authUrl.replace(/\/+$/, '');
    const url = new URL(`${/\/v3$/.test(base) ? base : `${base}/v3`}/auth/tokens`);
    let response: http.IncomingMessage;
    try {
      response = await this.#exchange(
        url,
        'POST',
        { 'content-type': 'application/json', accept: 'application/json' },
        body,
        AbortSignal.timeout(AUTH_TIMEOUT_MS),
      );
    } catch (err) {
      throw fail(err);
    }
    const status = response.statusCode ?? 0;
    if (status === 401 || status === 403) {
      response.resume();
      throw new Forbidden(
        `Keystone at ${credentials.authUrl} refused the credentials (HTTP ${status})`,
      );
    }
    if (status < 200 || status >= 300) {
      throw fail(new SwiftStatusError(status, await errorDetail(response)));
    }
    const token = response.headers['x-subject-token'];
    let answer: { token?: { expires_at?: string; catalog?: CatalogService[] } };
    try {
      answer = JSON.parse((await readBounded(response, TOKEN_BODY_BYTES)).toString('utf8'));
    } catch (err) {
      throw fail(new Error(`the token answer is not JSON (${(err as Error).message})`));
    }
    if (typeof token !== 'string' || !token)
      throw fail(new Error('the answer has no X-Subject-Token'));
    const storageUrl =
      this.#settings.endpoint ??
      endpointFromCatalog(answer.token?.catalog ?? [], this.#settings.catalog);
    const expiresAt = Date.parse(answer.token?.expires_at ?? '');
    return {
      token,
      storageUrl: storageUrl.replace(/\/+$/, ''),
      ...(Number.isFinite(expiresAt) ? { expiresAt } : {}),
    };
  }

  /** v1 auth: GET the auth URL with X-Auth-User and X-Auth-Key. */
  async #authenticateV1(credentials: Credentials): Promise<Session> {
    const action = `authenticating at ${credentials.authUrl}`;
    const signal = AbortSignal.timeout(AUTH_TIMEOUT_MS);
    let response: http.IncomingMessage;
    try {
      response = await this.#exchange(
        new URL(credentials.authUrl),
        'GET',
        { 'x-auth-user': credentials.user, 'x-auth-key': credentials.key },
        undefined,
        signal,
      );
    } catch (err) {
      throw toStoreError(err, { action, redact: this.#settings.redact });
    }
    const status = response.statusCode ?? 0;
    if (status === 401 || status === 403) {
      response.resume();
      throw new Forbidden(
        `Swift auth at ${credentials.authUrl} refused the credentials (HTTP ${status})`,
      );
    }
    if (status < 200 || status >= 300) {
      throw toStoreError(new SwiftStatusError(status, await errorDetail(response)), {
        action,
        redact: this.#settings.redact,
      });
    }
    response.resume();
    const header = (name: string) => {
      const value = response.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const token = header('x-auth-token') ?? header('x-storage-token');
    const storageUrl = this.#settings.endpoint ?? header('x-storage-url');
    if (!token || !storageUrl) {
      throw toStoreError(new Error('the auth answer has no token or storage URL'), {
        action,
        redact: this.#settings.redact,
      });
    }
    const expires = Number(header('x-auth-token-expires'));
    return {
      token,
      storageUrl: storageUrl.replace(/\/+$/, ''),
      ...(Number.isFinite(expires) && expires > 0
        ? { expiresAt: Date.now() + expires * 1000 }
        : {}),
    };
  }

  /** The cached session of an account, authenticating when there is none or it expires soon. */
  async session(account: Account, signal: AbortSignal): Promise<Session> {
    if (isPreAuthorized(account)) return account.preauth;
    const credentials = account;
    const key = accountKey(credentials);
    for (;;) {
      let entry = this.#sessions.get(key);
      if (!entry) {
        const created: SessionEntry = { pending: this.#authenticate(credentials) };
        created.pending.then(
          (session) => {
            created.session = session;
          },
          // A failed auth is not cached.
          () => {
            if (this.#sessions.get(key) === created) this.#sessions.delete(key);
          },
        );
        this.#sessions.set(key, created);
        entry = created;
      }
      const session = await abortable(entry.pending, signal);
      const soon =
        session.expiresAt !== undefined &&
        session.expiresAt - Date.now() <= this.#settings.expireSoonMs;
      if (!soon) return session;
      this.#settings.logger.debug('Swift token expires soon: requesting a new one');
      if (this.#sessions.get(key) === entry) this.#sessions.delete(key);
    }
  }

  /** Forgets `session` after Swift refused its token, unless a newer one replaced it already. */
  #invalidate(account: Account, session: Session): void {
    if (isPreAuthorized(account)) return;
    const key = accountKey(account);
    if (this.#sessions.get(key)?.session?.token === session.token) this.#sessions.delete(key);
  }

  #url(session: Session, container?: string, object?: string, query?: Record<string, string>): URL {
    const url = new URL(`${session.storageUrl}${objectPath(container, object)}`);
    for (const [name, value] of Object.entries(query ?? {})) url.searchParams.set(name, value);
    return url;
  }

  /**
   * Sends `request`, authenticating again once if Swift answers 401 (not with a
   * pre-authorized token, which cannot be renewed here). Resolves
   * with a 2xx answer whose body is unread.
   * @throws the typed error of any other answer or failure
   */
  async send(account: Account, request: SwiftRequest): Promise<http.IncomingMessage> {
    const { signal, action } = request;
    const fail = (err: unknown) =>
      toStoreError(err, { action, signal, redact: this.#settings.redact });
    for (let attempt = 0; ; attempt++) {
      const session = await this.session(account, signal);
      let response: http.IncomingMessage;
      try {
        response = await this.#exchange(
          this.#url(session, request.container, request.object, request.query),
          request.method,
          { ...request.headers, 'x-auth-token': session.token },
          request.body,
          signal,
        );
      } catch (err) {
        throw fail(err);
      }
      const status = response.statusCode ?? 0;
      if (status >= 200 && status < 300) return response;
      const detail = request.method === 'HEAD' ? '' : await errorDetail(response);
      response.destroy();
      if (status === 401 && attempt === 0 && !isPreAuthorized(account)) {
        this.#settings.logger.info('Swift refused the token: authenticating again');
        this.#invalidate(account, session);
        continue;
      }
      throw fail(new SwiftStatusError(status, detail));
    }
  }

  /** {@link send}, reading and dropping the body. */
  async call(account: Account, request: SwiftRequest): Promise<http.IncomingHttpHeaders> {
    const response = await this.send(account, request);
    response.resume();
    return response.headers;
  }

  /**
   * A PUT whose body is streamed by `put.write`. Waits for `100 Continue`
   * (or a second) before writing, so a 401 for a stale token arrives before any
   * byte is consumed: the PUT is then sent again with a fresh token.
   * @throws the typed error of the answer, or the writer's own error as it was
   */
  async putStream(account: Account, put: StreamedPut): Promise<http.IncomingHttpHeaders> {
    const { signal, action } = put;
    const fail = (err: unknown) =>
      toStoreError(err, { action, signal, redact: this.#settings.redact });
    for (let attempt = 0; ; attempt++) {
      const session = await this.session(account, signal);
      const outcome = await this.#putOnce(session, put);
      if (outcome.kind === 'done') return outcome.headers;
      if (outcome.kind === 'writer') throw outcome.error;
      const { error, started } = outcome;
      if (
        error instanceof SwiftStatusError &&
        error.status === 401 &&
        !started &&
        attempt === 0 &&
        !isPreAuthorized(account)
      ) {
        this.#settings.logger.info('Swift refused the token: authenticating again');
        this.#invalidate(account, session);
        continue;
      }
      throw fail(error);
    }
  }

  #putOnce(
    session: Session,
    put: StreamedPut,
  ): Promise<
    | { kind: 'done'; headers: http.IncomingHttpHeaders }
    | { kind: 'writer'; error: unknown }
    | { kind: 'failed'; error: unknown; started: boolean }
  > {
    return new Promise((resolve) => {
      const headers: Record<string, string> = {
        ...put.headers,
        'x-auth-token': session.token,
        expect: '100-continue',
        ...(put.length !== undefined
          ? { 'content-length': String(put.length) }
          : { 'transfer-encoding': 'chunked' }),
      };
      const url = this.#url(session, put.container, put.object);
      const request = this.#request(url, {
        method: 'PUT',
        headers,
        signal: put.signal,
      });
      let started = false;
      let settled = false;
      let writing: Promise<void> | undefined;
      let writerError: { error: unknown } | undefined;
      const finish = (value: Parameters<typeof resolve>[0]) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      };
      const start = () => {
        if (started || request.destroyed) return;
        started = true;
        clearTimeout(timer);
        writing = put.write(request).then(
          () => {
            request.end();
          },
          (error: unknown) => {
            // The data source failed (or the request closed under it): the object
            // must not be completed, so the request is torn down, not ended.
            if (!(error instanceof RequestClosed)) writerError = { error };
            request.destroy();
            if (writerError) finish({ kind: 'writer', error });
          },
        );
      };
      const timer = setTimeout(
        start,
        this.#continuing.has(url.host) ? KNOWN_CONTINUE_WAIT_MS : CONTINUE_WAIT_MS,
      );
      request.on('continue', () => {
        this.#continuing.add(url.host);
        start();
      });
      request.on('response', (response) => {
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          response.resume();
          // A success can only follow the whole body; wait for the writer to settle.
          void (writing ?? Promise.resolve()).then(() =>
            finish(
              writerError
                ? { kind: 'writer', ...writerError }
                : { kind: 'done', headers: response.headers },
            ),
          );
          return;
        }
        void errorDetail(response).then((detail) => {
          request.destroy();
          finish({ kind: 'failed', error: new SwiftStatusError(status, detail), started });
        });
      });
      request.on('error', (error) => {
        clearTimeout(timer);
        if (writerError) return finish({ kind: 'writer', ...writerError });
        finish({
          kind: 'failed',
          error: put.signal.aborted ? abortError(put.signal, put.action) : error,
          started,
        });
      });
      request.flushHeaders();
    });
  }

  /** Closes the pooled connections. */
  close(): void {
    this.#plain.destroy();
    this.#secure.destroy();
  }
}

/** `promise`, or an OperationAborted rejection as soon as `signal` fires. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal, 'authentication'));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortError(signal, 'authentication'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
