/** The Azure driver: images as block blobs in one container of a storage account. */
import type { Readable } from 'node:stream';
import type { BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import {
  BackendException,
  checkImageId,
  type Driver,
  type DriverAddRequest,
  type DriverAddResult,
  type DriverContext,
  type DriverGetRequest,
  type DriverGetResult,
  type DriverRequest,
  Duplicate,
  Invalid,
  type ListOrphansRequest,
  type Logger,
  NotFound,
  type Orphan,
  quoteImageId,
  type StoreError,
} from '@store/core';
import { type AzureConnection, connect } from './client.js';
import { azureErrorCode, httpStatus, isAbortFailure, toStoreError } from './errors.js';
import {
  type AzureLocation,
  azureLocation,
  blobNameProblem,
  parseAzureLocation,
} from './location.js';
import type { AzureOptions } from './options.js';
import { listAzureOrphans, type OrphanTarget, removeAzureOrphan } from './orphans.js';
import { effectiveBlockSize, UploadFailure, uploadBlocks } from './upload.js';

const MiB = 1 << 20;

/**
 * One `azure` backend: adds upload in bounded blocks and commit conditionally,
 * gets stream ranged downloads. Create it through the driver definition.
 */
export class AzureDriver implements Driver<AzureLocation> {
  readonly #connection: AzureConnection;
  readonly #container: ContainerClient;
  readonly #options: AzureOptions;
  readonly #logger: Logger;
  #containerReady: Promise<void> | undefined;

  private constructor(connection: AzureConnection, options: AzureOptions, logger: Logger) {
    this.#connection = connection;
    this.#container = connection.container;
    this.#options = options;
    this.#logger = logger;
  }

  /**
   * Builds the client from the backend's options. Makes no request: a service
   * that is down at start-up fails the calls, not the configuration.
   * @throws BadStoreConfiguration
   */
  static async create(context: DriverContext): Promise<AzureDriver> {
    const options = context.options as unknown as AzureOptions;
    const connection = await connect(context.backendId, options, context.logger);
    return new AzureDriver(connection, options, context.logger);
  }

  /** The storage account name written in this backend's locations. */
  get account(): string {
    return this.#connection.account;
  }

  /** The container this backend stores images in. */
  get container(): string {
    return this.#container.containerName;
  }

  /** Locations in this backend's account and container. */
  owns(location: AzureLocation): boolean {
    return location.account === this.account && location.container === this.container;
  }

  parseLocation(uri: string): AzureLocation {
    return parseAzureLocation(uri);
  }

  #fail(err: unknown, action: string, signal?: AbortSignal): StoreError {
    return toStoreError(err, {
      action,
      redact: this.#connection.redact,
      ...(signal ? { signal } : {}),
    });
  }

  /** The blob of a location this backend owns; NotFound otherwise (another backend may own it). */
  #blob(location: AzureLocation): BlockBlobClient {
    if (location.account !== this.account || location.container !== this.container) {
      throw new NotFound(
        `Image not found: ${location.uri} is not in account '${this.account}', container '${this.container}'`,
      );
    }
    return this.#container.getBlockBlobClient(location.blob);
  }

  #missingContainer(cause?: unknown): BackendException {
    return new BackendException(
      `The container '${this.container}' does not exist: create it, or set azure_store_create_container_on_put`,
      cause ? { cause: this.#fail(cause, `using container '${this.container}'`) } : undefined,
    );
  }

  /** Creates the container once per driver instance (create-on-put); concurrent adds share it. */
  async #ensureContainer(signal: AbortSignal): Promise<void> {
    for (;;) {
      this.#containerReady ??= this.#container
        .createIfNotExists({ abortSignal: signal })
        .then((result) => {
          if (result.succeeded) this.#logger.info(`Created container '${this.container}'`);
        });
      const attempt = this.#containerReady;
      try {
        return await attempt;
      } catch (err) {
        if (this.#containerReady === attempt) this.#containerReady = undefined;
        // Another add's abort ended the shared attempt: try again under our own signal.
        if (isAbortFailure(err) && !signal.aborted) continue;
        throw this.#fail(err, `creating container '${this.container}'`, signal);
      }
    }
  }

  /**
   * What an add holds ({@link Driver.addBufferBytes}): `azure_store_upload_concurrency`
   * block buffers and the manager's chunk being copied into one (1 MiB blocks).
   */
  addBufferBytes(size: number): number {
    const block = effectiveBlockSize(this.#options.azure_store_block_size * MiB, size);
    return this.#options.azure_store_upload_concurrency * block + MiB;
  }

  async add(request: DriverAddRequest): Promise<DriverAddResult<AzureLocation>> {
    const { imageId, signal } = request;
    // Core's rule first ('/' included: an id names one blob, not a path), then Azure's own.
    checkImageId(imageId);
    const problem = blobNameProblem(imageId);
    if (problem) throw new Invalid(`Image id ${quoteImageId(imageId)} ${problem}`);
    const location = azureLocation(this.account, this.container, imageId);
    const blob = this.#container.getBlockBlobClient(imageId);
    const action = `adding blob '${imageId}' to container '${this.container}'`;
    if (this.#options.azure_store_create_container_on_put) await this.#ensureContainer(signal);

    // Early answer for the common case, before any data moves; the conditional
    // commit at the end is what actually guarantees no overwrite.
    let exists = true;
    try {
      await blob.getProperties({ abortSignal: signal });
    } catch (err) {
      if (azureErrorCode(err) === 'ContainerNotFound') throw this.#missingContainer(err);
      if (httpStatus(err) !== 404) throw this.#fail(err, action, signal);
      exists = false;
    }
    if (exists) throw new Duplicate(`Blob already exists: ${action}`);
    return this.#upload(blob, location, request, action);
  }

  async #upload(
    blob: BlockBlobClient,
    location: AzureLocation,
    request: DriverAddRequest,
    action: string,
  ): Promise<DriverAddResult<AzureLocation>> {
    const { signal } = request;
    try {
      const size = await uploadBlocks({
        blob,
        data: request.data,
        size: request.size,
        blockSize: this.#options.azure_store_block_size * MiB,
        concurrency: this.#options.azure_store_upload_concurrency,
        signal,
        release: request.release,
        logger: this.#logger,
      });
      return { location, size };
    } catch (err) {
      if (!(err instanceof UploadFailure)) throw this.#fail(err, action, signal);
      // The data source's own failure (size mismatch, abort, source error) as it was.
      if (err.stage === 'data') throw err.cause;
      const cause = err.cause;
      if (azureErrorCode(cause) === 'ContainerNotFound') throw this.#missingContainer(cause);
      if (
        err.stage === 'commit' &&
        azureErrorCode(cause) === 'InvalidBlockList' &&
        (await blob.exists().catch(() => false))
      ) {
        // A concurrent writer committed first, which discards our staged blocks.
        throw new Duplicate(`Blob already exists: ${action}`);
      }
      throw this.#fail(cause, action, signal);
    }
  }

  async get(
    location: AzureLocation,
    request: DriverGetRequest,
  ): Promise<DriverGetResult | undefined> {
    const blob = this.#blob(location);
    const { offset, chunkSize, signal } = request;
    const action = `reading blob '${location.blob}' in container '${location.container}'`;
    let response: Awaited<ReturnType<BlockBlobClient['download']>>;
    try {
      response = await blob.download(offset, chunkSize, {
        abortSignal: signal,
        maxRetryRequests: this.#options.azure_store_retries,
      });
    } catch (err) {
      // 416: the offset is at or past the end; the manager checks the size.
      if (httpStatus(err) === 416) return undefined;
      throw this.#fail(err, action, signal);
    }
    const body = response.readableStreamBody as Readable | undefined;
    if (!body) throw new BackendException(`Azure sent no body ${action}`);
    // The SDK fails the body when the signal fires, maybe before the manager
    // listens to it: the manager still sees the error, the process must not.
    body.on('error', () => undefined);
    // The manager reads the SDK's stream itself, pausing it (backpressure reaches the socket).
    return {
      stream: body,
      size: response.contentLength ?? 0,
      close: () => void body.destroy(),
      mapError: (err) => this.#fail(err, action, signal),
    };
  }

  async getSize(location: AzureLocation, request: DriverRequest): Promise<number> {
    const blob = this.#blob(location);
    try {
      const properties = await blob.getProperties({ abortSignal: request.signal });
      return properties.contentLength ?? 0;
    } catch (err) {
      throw this.#fail(
        err,
        `reading the size of blob '${location.blob}' in container '${location.container}'`,
        request.signal,
      );
    }
  }

  async delete(location: AzureLocation, request: DriverRequest): Promise<void> {
    const blob = this.#blob(location);
    try {
      await blob.delete({ abortSignal: request.signal, deleteSnapshots: 'include' });
    } catch (err) {
      throw this.#fail(
        err,
        `deleting blob '${location.blob}' in container '${location.container}'`,
        request.signal,
      );
    }
  }

  /** Blobs of the container that were never committed (see orphans.ts). */
  listOrphans(request: ListOrphansRequest): AsyncIterable<Orphan> {
    return listAzureOrphans(this.#orphanTarget(request.signal), request);
  }

  removeOrphan(orphan: Orphan, request: DriverRequest): Promise<void> {
    return removeAzureOrphan(this.#orphanTarget(request.signal), orphan, request.signal);
  }

  #orphanTarget(signal: AbortSignal): OrphanTarget {
    return { container: this.#container, fail: (err, action) => this.#fail(err, action, signal) };
  }

  async close(): Promise<void> {
    this.#connection.close();
  }
}
