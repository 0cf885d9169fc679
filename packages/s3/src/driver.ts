import {
  type BucketLocationConstraint,
  CreateBucketCommand,
  DeleteObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  BackendException,
  checkImageId as checkCoreImageId,
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
  type ListOrphansRequest,
  type Logger,
  loadCaFile,
  NotFound,
  type Orphan,
  quoteImageId,
  redactError,
  type StoreError,
  secretRedactor,
} from '@store/core';
import { ClientPool } from './client.js';
import { isS3NotFound, s3ErrorCode, toStoreError } from './errors.js';
import {
  displayLocation,
  parseS3Location,
  redactS3Uris,
  type S3Location,
  s3Location,
} from './location.js';
import type { S3Options } from './options.js';
import { listS3Orphans, type OrphanTarget, removeS3Orphan } from './orphans.js';
import { openRead } from './reader.js';
import { checkWriteSettings, resolveSettings, type S3Settings } from './settings.js';
import { partSizeFor, putMultipart, putSingle, type UploadTarget } from './upload.js';

/** The manager's blocks of add data (core's ingest gathers chunks into 1 MiB). */
const HANDED_CHUNK_BYTES = 1 << 20;

/** How an aborted call fails: the SDK's AbortError, or core's error from the socket wait. */
const ABORT_CODES = new Set(['AbortError', 'OperationAborted']);

/**
 * Checks that `imageId` can be an object key that glance_store's location
 * format carries unchanged: core's rule for every driver (no path separator,
 * control character or lone surrogate, at most 1024 UTF-8 bytes, S3's key
 * limit), then no `@`, `?` or `#`.
 * @throws Invalid naming what is wrong.
 */
export function checkImageId(imageId: string): void {
  checkCoreImageId(imageId);
  if (/[@?#]/.test(imageId))
    throw new Invalid(
      `Image id ${quoteImageId(imageId)} contains '@', '?' or '#', which S3 locations cannot carry`,
    );
}

export class S3Driver implements Driver<S3Location> {
  readonly #settings: S3Settings;
  readonly #clients: ClientPool;
  readonly #logger: Logger;
  /** Masks the configured keys and URI credentials; location keys are added per call. */
  readonly #redact: (text: string) => string;
  /** Settles once the bucket is known to exist (created if allowed); reset on failure. */
  #bucketReady: Promise<void> | undefined;

  private constructor(settings: S3Settings, logger: Logger, maxSockets?: number) {
    this.#settings = settings;
    this.#logger = logger;
    const masks = secretRedactor([settings.accessKey, settings.secretKey]);
    this.#redact = (text) => masks(redactS3Uris(text));
    this.#clients = new ClientPool(settings, logger, this.#redact, maxSockets);
  }

  /**
   * Validates the options; no request is made until the first operation.
   * @param maxSockets - size of the connection pool (tests use a small one); by default
   *   `max(64, 4 × s3_store_thread_pools)`.
   */
  static async create(context: DriverContext, maxSockets?: number): Promise<S3Driver> {
    const options = context.options as unknown as S3Options;
    const ca = await loadCaFile(context.backendId, 's3_store_cacert', options.s3_store_cacert);
    const settings = resolveSettings(context.backendId, options, process.env, ca);
    // Keys, bucket and part sizes only matter for writing: glance_store's configure_add.
    await configureWrites(context, () => checkWriteSettings(settings, options));
    return new S3Driver(settings, context.logger, maxSockets);
  }

  /** Sockets of the connection pool free now, and requests waiting for one (diagnostics). */
  get sockets(): { readonly capacity: number; readonly free: number; readonly waiting: number } {
    const { capacity, free, waiting } = this.#clients.budget;
    return { capacity, free, waiting };
  }

  /** Locations in this backend's host and bucket, whatever keys they carry (glance_store's url_prefix carries the configured ones). */
  owns(location: S3Location): boolean {
    return location.host === this.#settings.uriHost && location.bucket === this.#settings.bucket;
  }

  parseLocation(uri: string): S3Location {
    return parseS3Location(uri);
  }

  /** A redactor for messages about `location`, whose keys may differ from the configured ones. */
  #redactorFor(location?: S3Location): (text: string) => string {
    if (!location?.accessKey) return this.#redact;
    const masks = secretRedactor([location.accessKey, location.secretKey ?? '']);
    return (text) => masks(this.#redact(text));
  }

  /**
   * Runs one S3 call, mapping failures to typed errors whose messages and
   * causes carry no credential.
   */
  async #call<T>(
    action: string,
    location: S3Location | undefined,
    signal: AbortSignal | undefined,
    work: () => Promise<T>,
  ): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw this.#mapFailure(err, action, location, signal);
    }
  }

  /** `err` as a typed error whose message and causes carry no credential. */
  #mapFailure(
    err: unknown,
    action: string,
    location: S3Location | undefined,
    signal: AbortSignal | undefined,
  ): StoreError {
    const redact = this.#redactorFor(location);
    const mapped = toStoreError(err, { action, host: this.#settings.uriHost, signal, redact });
    return redactError(mapped, redact);
  }

  /** The client for a location's keys (glance_store: the location's, on the configured host). */
  #clientFor(location: S3Location): S3Client {
    return this.#clients.client(location.accessKey, location.secretKey);
  }

  async #head(client: S3Client, location: S3Location, signal: AbortSignal): Promise<number> {
    const head = await client.send(
      new HeadObjectCommand({ Bucket: location.bucket, Key: location.key }),
      { abortSignal: signal },
    );
    return head.ContentLength ?? 0;
  }

  /**
   * Makes sure the bucket exists, creating it when s3_store_create_bucket_on_put
   * says so; once per driver instance, concurrent adds sharing the check.
   */
  async #ensureBucket(client: S3Client, signal: AbortSignal): Promise<void> {
    for (;;) {
      this.#bucketReady ??= this.#checkBucket(client, signal);
      const attempt = this.#bucketReady;
      try {
        return await attempt;
      } catch (err) {
        if (this.#bucketReady === attempt) this.#bucketReady = undefined;
        // The add whose signal the shared check ran under aborted it: check again
        // under our own signal rather than fail an add nobody aborted.
        if (ABORT_CODES.has(s3ErrorCode(err)) && !signal.aborted) continue;
        throw err;
      }
    }
  }

  async #checkBucket(client: S3Client, signal: AbortSignal): Promise<void> {
    const { bucket, createBucketOnPut, bucketRegion } = this.#settings;
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal });
      return;
    } catch (err) {
      if (!isS3NotFound(err)) throw err;
    }
    if (!createBucketOnPut)
      throw new BackendException(
        `The bucket ${bucket} does not exist in S3. Set s3_store_create_bucket_on_put to create it on the first add.`,
      );
    this.#logger.info(`Creating bucket ${bucket} on ${this.#settings.uriHost}`);
    try {
      await client.send(
        new CreateBucketCommand({
          Bucket: bucket,
          ...(bucketRegion && bucketRegion !== 'us-east-1'
            ? {
                CreateBucketConfiguration: {
                  LocationConstraint: bucketRegion as BucketLocationConstraint,
                },
              }
            : {}),
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      // Another writer created it first: fine.
      const code = (err as { name?: string }).name;
      if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw err;
    }
  }

  /** @throws Duplicate when the key exists. */
  async #assertAbsent(client: S3Client, location: S3Location, signal: AbortSignal): Promise<void> {
    try {
      await this.#head(client, location, signal);
    } catch (err) {
      if (isS3NotFound(err)) return;
      throw err;
    }
    throw new Duplicate(`An image already exists at ${displayLocation(location)}`);
  }

  /**
   * What an add holds ({@link Driver.addBufferBytes}): a multipart upload has up
   * to `s3_store_thread_pools` part buffers (the one being filled included) and
   * the manager's chunk it is copying from; a single PUT streams, holding that
   * chunk and the one queued behind it.
   */
  addBufferBytes(size: number): number {
    const s = this.#settings;
    if (size > 0 && size < s.largeObjectSize) return 2 * HANDED_CHUNK_BYTES;
    const part = partSizeFor(size, s.partSize);
    return s.concurrency * (size > 0 ? Math.min(part, size) : part) + HANDED_CHUNK_BYTES;
  }

  async add(request: DriverAddRequest): Promise<DriverAddResult<S3Location>> {
    checkImageId(request.imageId);
    const s = this.#settings;
    const location = s3Location({
      scheme: s.scheme,
      accessKey: s.accessKey,
      secretKey: s.secretKey,
      host: s.uriHost,
      bucket: s.bucket,
      key: request.imageId,
    });
    const display = displayLocation(location);
    const client = this.#clients.client();
    const signal = request.signal;
    return this.#call(`add of ${display}`, location, signal, async () => {
      await this.#ensureBucket(client, signal);
      // Early answer, before any byte moves; the write itself is conditional as well.
      await this.#assertAbsent(client, location, signal);
      const target: UploadTarget = {
        client,
        bucket: location.bucket,
        key: location.key,
        display,
        signal,
        logger: this.#logger,
      };
      const multipart = request.size === 0 || request.size >= s.largeObjectSize;
      this.#logger.debug(
        `Adding ${display} with ${multipart ? 'a multipart upload' : 'a single PUT'}`,
        { size: request.size },
      );
      const size = multipart
        ? await putMultipart(target, request.data, {
            size: request.size,
            partSize: s.partSize,
            concurrency: s.concurrency,
            // radosgw 16 ignores If-None-Match on CompleteMultipartUpload: check once more.
            beforeComplete: () => this.#assertAbsent(client, location, signal),
            release: request.release,
          })
        : await putSingle(target, request.data, request.size);
      return { location, size };
    });
  }

  async get(location: S3Location, request: DriverGetRequest): Promise<DriverGetResult | undefined> {
    const client = this.#clientFor(location);
    const display = displayLocation(location);
    const { offset, chunkSize, signal } = request;
    return this.#call(`GET of ${display}`, location, signal, async () => {
      const opened = await openRead({
        client,
        bucket: location.bucket,
        key: location.key,
        offset,
        length: chunkSize,
        window: this.#settings.partSize,
        depth: this.#settings.concurrency,
        budget: this.#clients.budget,
        signal,
      });
      // The range starts at or past the end: the manager checks the object's size.
      if (!opened) return undefined;
      return {
        stream: opened.chunks,
        size: opened.size,
        // Also frees the sockets of a read given up before its first chunk.
        close: opened.close,
        // A failure mid-read: connection lost, object replaced, abort.
        mapError: (err) => this.#mapFailure(err, `GET of ${display}`, location, signal),
      };
    });
  }

  async getSize(location: S3Location, request: DriverRequest): Promise<number> {
    const client = this.#clientFor(location);
    return this.#call(`HEAD of ${displayLocation(location)}`, location, request.signal, () =>
      this.#head(client, location, request.signal),
    );
  }

  async delete(location: S3Location, request: DriverRequest): Promise<void> {
    const client = this.#clientFor(location);
    const display = displayLocation(location);
    await this.#call(`delete of ${display}`, location, request.signal, async () => {
      // S3 answers 204 for a missing key too; glance_store checks first to raise NotFound.
      try {
        await this.#head(client, location, request.signal);
      } catch (err) {
        if (isS3NotFound(err)) throw new NotFound(`Image not found at ${display}`);
        throw err;
      }
      await client.send(new DeleteObjectCommand({ Bucket: location.bucket, Key: location.key }), {
        abortSignal: request.signal,
      });
    });
  }

  /** Unfinished multipart uploads in the bucket (see orphans.ts). */
  listOrphans(request: ListOrphansRequest): AsyncIterable<Orphan> {
    return listS3Orphans(this.#orphanTarget(request.signal), request);
  }

  removeOrphan(orphan: Orphan, request: DriverRequest): Promise<void> {
    return removeS3Orphan(this.#orphanTarget(request.signal), orphan, request.signal);
  }

  #orphanTarget(signal: AbortSignal): OrphanTarget {
    return {
      client: this.#clients.client(),
      bucket: this.#settings.bucket,
      fail: (err, action) => this.#mapFailure(err, action, undefined, signal),
    };
  }

  async close(): Promise<void> {
    this.#clients.close();
  }
}
