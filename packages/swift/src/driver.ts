/**
 * The swift driver: images in containers of the backend's own account (single-tenant), or of
 * the caller's account with the request context's token (multi-tenant).
 */

import type http from 'node:http';
import {
  type Acls,
  BackendException,
  BadStoreConfiguration,
  BadStoreUri,
  checkImageId,
  configureWrites,
  type Driver,
  type DriverAddRequest,
  type DriverAddResult,
  type DriverContext,
  type DriverGetRequest,
  type DriverGetResult,
  type DriverRequest,
  Duplicate,
  Invalid,
  isStoreError,
  type ListOrphansRequest,
  type Logger,
  loadCaFile,
  type Orphan,
  quoteImageId,
  redactUri,
  secretRedactor,
} from '@store/core';
import { type AccountReference, keystoneDomains, loadAccounts } from './accounts.js';
import { type Account, type Credentials, SwiftClient } from './client.js';
import { endpointFromCatalog, requestContext, type SwiftRequestContext } from './context.js';
import { toStoreError } from './errors.js';
import {
  containerFor,
  credentialsLocation,
  locationUrl,
  parseSwiftLocation,
  referenceLocation,
  type SwiftLocation,
} from './location.js';
import { GLANCE_MB, type SwiftOptions } from './options.js';
import { listSwiftOrphans, type OrphanTarget, removeSwiftOrphan } from './orphans.js';
import { ResumingBody } from './reader.js';
import { uploadImage } from './upload.js';

/**
 * One `swift` backend. Adds stream into one object or into segments plus a DLO
 * manifest, as glance_store writes them; gets stream the object (Swift joins
 * the segments), resuming mid-way up to swift_store_retry_get_count times.
 */
/**
 * The account reference new images are added with (`default_swift_reference`).
 * @throws BadStoreConfiguration when there is none.
 */
function ownAccount(
  accounts: ReadonlyMap<string, AccountReference>,
  options: SwiftOptions,
): AccountReference {
  const reference = accounts.get(options.default_swift_reference);
  if (!reference) {
    throw new BadStoreConfiguration(
      `A value for swift_store_auth_address is required: no account reference '${options.default_swift_reference}' (set swift_store_auth_address, swift_store_user and swift_store_key, or a swift_store_config_file section of that name)`,
    );
  }
  return reference;
}

export class SwiftDriver implements Driver<SwiftLocation> {
  readonly #options: SwiftOptions;
  readonly #accounts: Map<string, AccountReference>;
  readonly #client: SwiftClient;
  readonly #logger: Logger;
  readonly #redact: (text: string) => string;
  /** Containers known to exist (checked or created once per driver instance). */
  readonly #containers = new Map<string, Promise<void>>();

  private constructor(
    options: SwiftOptions,
    accounts: Map<string, AccountReference>,
    client: SwiftClient,
    logger: Logger,
    redact: (text: string) => string,
  ) {
    this.#options = options;
    this.#accounts = accounts;
    this.#client = client;
    this.#logger = logger;
    this.#redact = redact;
    // glance_store's single-tenant store has no set_acls: the manager skips it there.
    if (options.swift_store_multi_tenant) this.setAcls = (...args) => this.#setAcls(...args);
  }

  /**
   * Multi-tenant mode only (glance_store's MultiTenantStore.set_acls): sets
   * X-Container-Read and X-Container-Write on the image's own container. Public:
   * read by `*:*`; otherwise `<tenant>:*` for each read tenant (empty clears it);
   * write: `<tenant>:*` for the write tenants plus swift_store_admin_tenants.
   */
  setAcls?: (location: SwiftLocation, acls: Acls, request: DriverRequest) => Promise<void>;

  /**
   * Reads the account references and checks them. Makes no request: a Swift
   * that is down at start-up fails the calls, not the configuration.
   * @throws BadStoreConfiguration
   */
  static async create(context: DriverContext): Promise<SwiftDriver> {
    const options = context.options as unknown as SwiftOptions;
    const where = `Backend '${context.backendId}'`;
    const multiTenant = options.swift_store_multi_tenant;
    if (multiTenant && options.swift_store_config_file !== undefined) {
      throw new BadStoreConfiguration(
        `${where}: swift_store_multi_tenant and swift_store_config_file are mutually exclusive (as in glance_store): multi-tenant locations name the storage URL, not an account reference`,
      );
    }
    const accounts = await loadAccounts(options, context.logger);
    const secrets = [...accounts.values()].flatMap((a) => [a.key, a.user]);
    const redact = secretRedactor(secrets);
    const own = accounts.get(options.default_swift_reference);
    // An auth version or address it cannot use fails reads of swift+config locations too.
    if (own) SwiftClient.checkCredentials(credentialsOf(own), `${where}, reference '${own.name}'`);
    // Without the default reference only adding fails, as glance_store's configure_add:
    // locations carrying their credentials (or another reference) are still read.
    // Multi-tenant adds use the caller's token, not an account of the backend's.
    if (!multiTenant) await configureWrites(context, () => ownAccount(accounts, options));
    const ca = await loadCaFile(
      context.backendId,
      'swift_store_cacert',
      options.swift_store_cacert,
    );
    const client = new SwiftClient({
      ...(ca ? { ca } : {}),
      catalog: {
        serviceType: options.swift_store_service_type,
        endpointType: options.swift_store_endpoint_type,
        ...(options.swift_store_region !== undefined ? { region: options.swift_store_region } : {}),
      },
      rejectUnauthorized: !options.swift_store_auth_insecure,
      ...(options.swift_store_endpoint ? { endpoint: options.swift_store_endpoint } : {}),
      expireSoonMs: options.swift_store_expire_soon_interval * 1000,
      logger: context.logger,
      redact,
    });
    return new SwiftDriver(options, accounts, client, context.logger, redact);
  }

  /**
   * Locations in this backend's account and container: the account named by
   * the default reference (swift+config) or by the auth address and user a URI
   * carries, whatever its key (rotated keys must not orphan images); the
   * container swift_store_container, or the one the seed gives the object's id.
   * glance_store's url_prefix is the default reference's
   * `swift+config://<reference>/<container>/`, or without swift_store_config_file
   * `swift+http(s)://<user>:<key>@<auth address>/<container>/`.
   */
  owns(location: SwiftLocation): boolean {
    if (this.#options.swift_store_multi_tenant) {
      // glance_store's url_prefix: <storage URL>/<container>_ (known only with swift_store_endpoint).
      const endpoint = this.#options.swift_store_endpoint;
      return (
        endpoint !== undefined &&
        location.reference === undefined &&
        location.user === undefined &&
        location.container === `${this.#options.swift_store_container}_${location.object}` &&
        locationUrl(location).replace(/\/+$/, '') === endpoint.replace(/\/+$/, '')
      );
    }
    const own = this.#accounts.get(this.#options.default_swift_reference);
    if (!own) return false;
    const container = containerFor(
      location.object,
      this.#options.swift_store_container,
      this.#options.swift_store_multiple_containers_seed,
    );
    if (location.container !== container) return false;
    if (location.reference !== undefined) {
      const named = this.#accounts.get(location.reference);
      return named !== undefined && sameAccount(named, own);
    }
    return (
      location.user !== undefined &&
      sameAccount({ authAddress: locationUrl(location), user: location.user }, own)
    );
  }

  parseLocation(uri: string): SwiftLocation {
    return parseSwiftLocation(uri);
  }

  /**
   * Whom to act as for a location: its reference or the credentials it
   * carries; in multi-tenant mode, for a storage-URL location, the caller's
   * token from the request context at that storage URL (glance_store's
   * preauthurl/preauthtoken).
   */
  #account(location: SwiftLocation, context: unknown): Account {
    if (
      this.#options.swift_store_multi_tenant &&
      location.reference === undefined &&
      location.user === undefined
    ) {
      const { authToken } = requestContext(context);
      return {
        preauth: { storageUrl: locationUrl(location).replace(/\/+$/, ''), token: authToken },
      };
    }
    return this.#credentials(location);
  }

  /** The storage URL multi-tenant adds go to: swift_store_endpoint, else the caller's catalog. */
  #tenantStorageUrl(context: SwiftRequestContext): string {
    const url =
      this.#options.swift_store_endpoint ??
      endpointFromCatalog(
        (() => {
          if (!context.serviceCatalog) {
            throw new BadStoreConfiguration(
              'Multi-tenant Swift storage requires a service catalog in the request context when swift_store_endpoint is unset',
            );
          }
          return context.serviceCatalog;
        })(),
        {
          serviceType: this.#options.swift_store_service_type,
          endpointType: this.#options.swift_store_endpoint_type,
          ...(this.#options.swift_store_region !== undefined
            ? { region: this.#options.swift_store_region }
            : {}),
        },
      );
    return url.replace(/\/+$/, '');
  }

  /** The account a location is in: its reference, or the credentials it carries. */
  #credentials(location: SwiftLocation): Credentials {
    if (location.reference !== undefined) {
      const reference = this.#accounts.get(location.reference);
      if (!reference) {
        throw new BadStoreUri(
          `Badly formed Swift URI: no credentials for account reference '${location.reference}' in swift_store_config_file`,
        );
      }
      const credentials = credentialsOf(reference);
      SwiftClient.checkCredentials(credentials, `Account reference '${reference.name}'`);
      return credentials;
    }
    if (!location.user || location.key === undefined) {
      throw new BadStoreUri(
        `Location is missing user:password information: '${redactUri(location.uri)}'`,
      );
    }
    return {
      authUrl: locationUrl(location),
      user: location.user,
      key: location.key,
      authVersion: this.#options.swift_store_auth_version,
      domains: keystoneDomains(() => undefined),
    };
  }

  /** The reference new images are added with. */
  #ownAccount(): AccountReference {
    return ownAccount(this.#accounts, this.#options);
  }

  #fail(err: unknown, action: string, signal?: AbortSignal) {
    return toStoreError(err, { action, redact: this.#redact, ...(signal ? { signal } : {}) });
  }

  /** Checks once that the container exists, creating it when create-on-put is set. */
  async #ensureContainer(account: Account, container: string, signal: AbortSignal): Promise<void> {
    // Multi-tenant: one container per image, so nothing worth remembering.
    if ('preauth' in account) return this.#checkContainer(account, container, signal);
    const credentials = account;
    const key = `${credentials.authUrl}\n${credentials.user}\n${container}`;
    for (;;) {
      let ready = this.#containers.get(key);
      if (!ready) {
        ready = this.#checkContainer(credentials, container);
        this.#containers.set(key, ready);
        ready.catch(() => {
          if (this.#containers.get(key) === ready) this.#containers.delete(key);
        });
      }
      try {
        return await ready;
      } catch (err) {
        if (isStoreError(err, 'OperationAborted') && !signal.aborted) continue;
        throw err;
      }
    }
  }

  async #checkContainer(
    credentials: Account,
    container: string,
    signal: AbortSignal = AbortSignal.timeout(60_000),
  ): Promise<void> {
    try {
      await this.#client.call(credentials, {
        method: 'HEAD',
        container,
        signal,
        action: `checking container '${container}'`,
      });
      return;
    } catch (err) {
      if (!isStoreError(err, 'NotFound')) throw err;
    }
    if (!this.#options.swift_store_create_container_on_put) {
      throw new BackendException(
        `The container ${container} does not exist in Swift. Please set the swift_store_create_container_on_put option to add container to Swift automatically.`,
      );
    }
    this.#logger.info(`Creating swift container ${container}`);
    await this.#client.call(credentials, {
      method: 'PUT',
      container,
      body: new Uint8Array(0),
      signal,
      action: `creating container '${container}'`,
    });
  }

  async add(request: DriverAddRequest): Promise<DriverAddResult<SwiftLocation>> {
    const { imageId, signal } = request;
    checkImageId(imageId);
    // A location ends in /<container>/<id> and carries no query: '?' and '#' would cut it short.
    if (/[?#]/.test(imageId)) {
      throw new Invalid(
        `Image id ${quoteImageId(imageId)} contains '?' or '#', which swift locations cannot carry`,
      );
    }
    let credentials: Account;
    let container: string;
    let locate: () => SwiftLocation;
    if (this.#options.swift_store_multi_tenant) {
      // glance_store's MultiTenantStore: the caller's token, a container per image.
      const context = requestContext(request.context);
      const storageUrl = this.#tenantStorageUrl(context);
      credentials = { preauth: { storageUrl, token: context.authToken } };
      container = `${this.#options.swift_store_container}_${imageId}`;
      locate = () => credentialsLocation(storageUrl, undefined, undefined, container, imageId);
    } else {
      const account = this.#ownAccount();
      credentials = credentialsOf(account);
      container = containerFor(
        imageId,
        this.#options.swift_store_container,
        this.#options.swift_store_multiple_containers_seed,
      );
      locate = () =>
        this.#options.swift_store_config_file !== undefined
          ? referenceLocation(account.name, container, imageId)
          : credentialsLocation(account.authAddress, account.user, account.key, container, imageId);
    }
    const action = `adding object '${imageId}' to container '${container}'`;
    await this.#ensureContainer(credentials, container, signal);
    // Swift (and radosgw, which ignores If-None-Match on PUT) overwrites silently:
    // look first, so an existing image and its segments are never overwritten.
    try {
      await this.#client.call(credentials, {
        method: 'HEAD',
        container,
        object: imageId,
        signal,
        action,
      });
      throw new Duplicate(`Swift already has an image at this location: ${action}`);
    } catch (err) {
      if (!isStoreError(err, 'NotFound')) throw err;
    }
    await this.#removeOrphanSegments(credentials, container, imageId, signal);
    const size = await uploadImage({
      client: this.#client,
      credentials,
      container,
      object: imageId,
      data: request.data,
      size: request.size,
      largeObjectSize: this.#options.swift_store_large_object_size * GLANCE_MB,
      segmentSize: this.#options.swift_store_large_object_chunk_size * GLANCE_MB,
      signal,
      logger: this.#logger,
    });
    return { location: locate(), size };
  }

  /**
   * Segments of `imageId` with no manifest over them are what an add left when
   * Swift died before they could be removed. A DLO joins every object under its
   * prefix, so they would become part of the new image: they go first.
   */
  async #removeOrphanSegments(
    credentials: Account,
    container: string,
    imageId: string,
    signal: AbortSignal,
  ): Promise<void> {
    const prefix = `${imageId}-`;
    const names = await this.#list(credentials, container, prefix, signal);
    for (const name of names.filter((n) => /^\d{5,}$/.test(n.slice(prefix.length)))) {
      this.#logger.info(`Removing segment '${name}' left by an earlier failed add`);
      await this.#client.call(credentials, {
        method: 'DELETE',
        container,
        object: name,
        signal,
        action: `removing segment '${name}' left by an earlier failed add`,
      });
    }
  }

  async get(
    location: SwiftLocation,
    request: DriverGetRequest,
  ): Promise<DriverGetResult | undefined> {
    const credentials = this.#account(location, request.context);
    const { offset, chunkSize, signal } = request;
    const action = `reading object '${location.object}' in container '${location.container}'`;
    const end = chunkSize !== undefined ? offset + chunkSize - 1 : undefined;
    const open = async (from: number): Promise<http.IncomingMessage | undefined> => {
      const ranged = from > 0 || end !== undefined;
      try {
        return await this.#client.send(credentials, {
          method: 'GET',
          container: location.container,
          object: location.object,
          ...(ranged ? { headers: { range: `bytes=${from}-${end ?? ''}` } } : {}),
          signal,
          action,
        });
      } catch (err) {
        // 416 (Invalid): the offset is at or past the end.
        if (isStoreError(err, 'Invalid')) return undefined;
        throw err;
      }
    };
    const first = await open(offset);
    // Past the end: the manager checks the size.
    if (!first) return undefined;
    const size = Number(first.headers['content-length'] ?? 0);
    const body = new ResumingBody(first, {
      offset,
      size,
      retries: this.#options.swift_store_retry_get_count,
      reopen: open,
      signal,
      action,
      logger: this.#logger,
    });
    return {
      stream: body,
      size,
      // Also for a read given up before its first chunk.
      close: () => void body.destroy(),
      mapError: (err) => this.#fail(err, action, signal),
    };
  }

  async getSize(location: SwiftLocation, request: DriverRequest): Promise<number> {
    const credentials = this.#account(location, request.context);
    const headers = await this.#client.call(credentials, {
      method: 'HEAD',
      container: location.container,
      object: location.object,
      signal: request.signal,
      action: `reading the size of object '${location.object}' in container '${location.container}'`,
    });
    return Number(headers['content-length'] ?? 0);
  }

  async delete(location: SwiftLocation, request: DriverRequest): Promise<void> {
    const credentials = this.#account(location, request.context);
    const { signal } = request;
    const { container, object } = location;
    const headers = await this.#client.call(credentials, {
      method: 'HEAD',
      container,
      object,
      signal,
      action: `deleting object '${object}' in container '${container}'`,
    });
    const manifest = headers['x-object-manifest'];
    if (String(headers['x-static-large-object'] ?? '').toLowerCase() === 'true') {
      await this.#client.call(credentials, {
        method: 'DELETE',
        container,
        object,
        query: { 'multipart-manifest': 'delete' },
        signal,
        action: `deleting static large object '${object}' in container '${container}'`,
      });
      return;
    }
    if (typeof manifest === 'string' && manifest.includes('/')) {
      const slash = manifest.indexOf('/');
      const segmentContainer = decodeURIComponent(manifest.slice(0, slash));
      const prefix = decodeURIComponent(manifest.slice(slash + 1));
      for (const segment of await this.#list(credentials, segmentContainer, prefix, signal)) {
        try {
          await this.#client.call(credentials, {
            method: 'DELETE',
            container: segmentContainer,
            object: segment,
            signal,
            action: `deleting segment '${segment}' in container '${segmentContainer}'`,
          });
        } catch (err) {
          if (isStoreError(err, 'OperationAborted')) throw err;
          this.#logger.warn(`Unable to delete segment ${segment}`, {
            error: (err as Error).message,
          });
        }
      }
    }
    await this.#client.call(credentials, {
      method: 'DELETE',
      container,
      object,
      signal,
      action: `deleting object '${object}' in container '${container}'`,
    });
    // Multi-tenant: the image's own container goes too, as glance_store's does.
    if ('preauth' in credentials) {
      try {
        await this.#client.call(credentials, {
          method: 'DELETE',
          container,
          signal,
          action: `deleting container '${container}'`,
        });
      } catch (err) {
        // 409: something else is in it (a container not made for this image alone).
        if (!isStoreError(err, 'Duplicate') && !isStoreError(err, 'NotFound')) throw err;
        this.#logger.debug(`Container '${container}' kept: it is not empty or already gone`);
      }
    }
  }

  async #setAcls(location: SwiftLocation, acls: Acls, request: DriverRequest): Promise<void> {
    const credentials = this.#account(location, request.context);
    const grant = (tenants: readonly string[]) => tenants.map((t) => `${t}:*`).join(',');
    const read = acls.public ? '*:*' : grant(acls.readTenants);
    const write = grant([...acls.writeTenants, ...this.#options.swift_store_admin_tenants]);
    await this.#client.call(credentials, {
      method: 'POST',
      container: location.container,
      headers: { 'x-container-read': read, 'x-container-write': write },
      body: new Uint8Array(0),
      signal: request.signal,
      action: `setting the ACLs of container '${location.container}'`,
    });
  }

  /** Names of the objects in `container` starting with `prefix`, every page. */
  async #list(
    credentials: Account,
    container: string,
    prefix: string,
    signal: AbortSignal,
  ): Promise<string[]> {
    const names: string[] = [];
    let marker = '';
    for (;;) {
      const response = await this.#client.send(credentials, {
        method: 'GET',
        container,
        query: { prefix, format: 'json', ...(marker ? { marker } : {}) },
        signal,
        action: `listing container '${container}'`,
      });
      const parts: Buffer[] = [];
      for await (const chunk of response as AsyncIterable<Buffer>) parts.push(chunk);
      const text = Buffer.concat(parts).toString('utf8');
      const page = (text ? JSON.parse(text) : []) as { name: string }[];
      if (page.length === 0) return names;
      for (const entry of page) names.push(entry.name);
      marker = page.at(-1)!.name;
    }
  }

  /** Segments with no manifest in this backend's containers (see orphans.ts); single-tenant only. */
  listOrphans(request: ListOrphansRequest): AsyncIterable<Orphan> {
    return listSwiftOrphans(this.#orphanTarget(), request);
  }

  async removeOrphan(orphan: Orphan, request: DriverRequest): Promise<void> {
    await removeSwiftOrphan(this.#orphanTarget(), orphan, request.signal);
  }

  #orphanTarget(): OrphanTarget {
    if (this.#options.swift_store_multi_tenant) {
      throw new BackendException(
        "A multi-tenant backend's orphan segments are in each tenant's account, which it has no credentials for",
      );
    }
    return {
      client: this.#client,
      account: credentialsOf(this.#ownAccount()),
      container: this.#options.swift_store_container,
      seed: this.#options.swift_store_multiple_containers_seed,
    };
  }

  async close(): Promise<void> {
    this.#client.close();
  }
}

/** Whether two references name one account: one auth endpoint, one user. */
function sameAccount(
  a: Pick<AccountReference, 'authAddress' | 'user'>,
  b: Pick<AccountReference, 'authAddress' | 'user'>,
): boolean {
  const endpoint = (address: string) => address.replace(/\/+$/, '');
  return a.user === b.user && endpoint(a.authAddress) === endpoint(b.authAddress);
}

function credentialsOf(reference: AccountReference): Credentials {
  return {
    authUrl: reference.authAddress,
    user: reference.user,
    key: reference.key,
    authVersion: reference.authVersion,
    ...(reference.domains ? { domains: reference.domains } : {}),
  };
}
