/**
 * Writing objects: a single streamed PUT for images of known size below the
 * large-object size, a multipart upload otherwise. Multipart memory is bounded by
 * parts in flight x part size (the part being filled counts as one), whatever the
 * image size; any failure or abort aborts the upload, so nothing of it stays on
 * the server.
 */
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import {
  BackendException,
  type Block,
  type BlockSink,
  Duplicate,
  type Logger,
  writeBlocks,
} from '@store/core';
import { linkedController } from './abort.js';
import { s3Status } from './errors.js';

/** S3's limit on parts per upload. */
export const MAX_PARTS = 10_000;

/** Where and how an upload goes. */
export interface UploadTarget {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** The location with credentials masked, for messages. */
  readonly display: string;
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

function duplicate(target: UploadTarget, err: unknown): Duplicate {
  return new Duplicate(`An image already exists at ${target.display}`, {
    cause: new Error(`PreconditionFailed (HTTP ${s3Status(err)})`),
  });
}

/**
 * Streams `data` (exactly `size` bytes, which the manager enforces) in one PUT
 * that succeeds only if the key is still free (`If-None-Match: *`). When the
 * data source fails, the request is torn down before its body is complete, so
 * the server stores nothing. @returns the bytes sent.
 */
export async function putSingle(
  target: UploadTarget,
  data: AsyncIterable<Uint8Array>,
  size: number,
): Promise<number> {
  const { controller, unlink } = linkedController(target.signal);
  let bytes = 0;
  let sourceError: { error: unknown } | undefined;
  let settle: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  // Settles when the source has ended: the manager's size checks run at its very end.
  const sourceDone = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  sourceDone.catch(() => {}); // Awaited below; a rejection before that is not unhandled.
  const body = Readable.from(
    (async function* () {
      try {
        for await (const chunk of data) {
          bytes += chunk.byteLength;
          yield chunk;
        }
        settle?.resolve();
      } catch (err) {
        // The SDK pipes the body and would not notice its error: abort the request ourselves.
        sourceError = { error: err };
        settle?.reject(err);
        controller.abort(err);
        throw err;
      }
    })(),
    { objectMode: false },
  );
  // The error is reported through sourceError; without a listener it would be an uncaught one.
  body.on('error', () => {});
  let stored = false;
  try {
    await target.client.send(
      new PutObjectCommand({
        Bucket: target.bucket,
        Key: target.key,
        Body: body,
        ContentLength: size,
        IfNoneMatch: '*',
      }),
      { abortSignal: controller.signal },
    );
    stored = true;
    // The server answers once it has `size` bytes, which can be before the source has
    // reported its end (or an extra byte): pull that last step before calling it done.
    body.unpipe();
    body.resume();
    await sourceDone;
    return bytes;
  } catch (err) {
    if (stored) {
      // Our own object (the PUT was conditional), but the source failed after all: take it back.
      await target.client
        .send(new DeleteObjectCommand({ Bucket: target.bucket, Key: target.key }))
        .catch((e: unknown) =>
          target.logger.warn(`Could not remove ${target.display} after a failed add`, {
            error: e as Error,
          }),
        );
      throw err;
    }
    if (sourceError) throw sourceError.error;
    if (s3Status(err) === 412) throw duplicate(target, err);
    throw err;
  } finally {
    unlink();
    body.destroy();
  }
}

/** Settings of one multipart upload. */
export interface MultipartOptions {
  /** Declared size (0 = unknown); picks the part size. */
  readonly size: number;
  /** Configured part size in bytes. */
  readonly partSize: number;
  /** Parts uploaded at once. */
  readonly concurrency: number;
  /** Runs after the last part and before completing (the last duplicate check). */
  readonly beforeComplete: () => Promise<void>;
  /** Gives a chunk of the data back once copied into a part (DriverAddRequest.release). */
  readonly release?: ((chunk: Uint8Array) => void) | undefined;
}

/** The part size for an image of `size` bytes: raised so that it fits in {@link MAX_PARTS} parts. */
export function partSizeFor(size: number, configured: number): number {
  return Math.max(configured, Math.ceil(size / MAX_PARTS));
}

/** One multipart upload as core's block writer sees it: parts, then complete or abort. */
class MultipartSink implements BlockSink {
  readonly #parts: CompletedPart[] = [];

  constructor(
    readonly target: UploadTarget,
    readonly uploadId: string,
    readonly options: MultipartOptions,
    readonly partSize: number,
  ) {}

  async writeBlock(block: Block, signal: AbortSignal): Promise<void> {
    const number = block.index + 1;
    if (number > MAX_PARTS)
      throw new BackendException(
        `The image needs more than ${MAX_PARTS} parts of ${this.partSize} bytes; raise s3_store_large_object_chunk_size`,
      );
    const { client, bucket, key } = this.target;
    const result = await client.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: key,
        UploadId: this.uploadId,
        PartNumber: number,
        Body: block.bytes,
        ContentLength: block.bytes.byteLength,
      }),
      { abortSignal: signal },
    );
    this.#parts[number - 1] = { PartNumber: number, ETag: result.ETag };
  }

  async complete(): Promise<void> {
    // An empty image is one empty part.
    if (this.#parts.length === 0) {
      await this.writeBlock({ index: 0, offset: 0, bytes: new Uint8Array(0) }, this.target.signal);
    }
    await this.options.beforeComplete();
    const { client, bucket, key } = this.target;
    try {
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: this.uploadId,
          MultipartUpload: { Parts: this.#parts },
          IfNoneMatch: '*',
        }),
        { abortSignal: this.target.signal },
      );
    } catch (err) {
      if (s3Status(err) === 412) throw duplicate(this.target, err);
      throw err;
    }
  }

  abort(): Promise<void> {
    return abortUpload(this.target, this.uploadId);
  }
}

/**
 * Uploads `data` as a multipart upload, with up to `concurrency` parts in
 * flight (core's block writer), then completes it (with `If-None-Match: *`,
 * which servers that know it use to refuse a key written meanwhile). On any
 * failure, the source's included, the upload is aborted. @returns the bytes sent.
 */
export async function putMultipart(
  target: UploadTarget,
  data: AsyncIterable<Uint8Array>,
  options: MultipartOptions,
): Promise<number> {
  const { client, bucket, key } = target;
  const partSize = partSizeFor(options.size, options.partSize);
  const created = await client.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }),
    {
      abortSignal: target.signal,
    },
  );
  const uploadId = created.UploadId;
  if (!uploadId) throw new BackendException(`S3 gave no upload id for ${target.display}`);
  // At most `concurrency` part buffers, the one being filled included.
  return writeBlocks(data, new MultipartSink(target, uploadId, options, partSize), {
    blockSize: partSize,
    window: options.concurrency,
    size: options.size,
    signal: target.signal,
    release: options.release,
  });
}

/** Aborts an upload, whatever the caller's signal says; logs (without secrets) if that fails. */
async function abortUpload(target: UploadTarget, uploadId: string): Promise<void> {
  try {
    await target.client.send(
      new AbortMultipartUploadCommand({
        Bucket: target.bucket,
        Key: target.key,
        UploadId: uploadId,
      }),
    );
  } catch (err) {
    if (s3Status(err) === 404) return;
    target.logger.warn(
      `Could not abort multipart upload ${uploadId} of ${target.display}; the bucket's lifecycle rules must remove it`,
      { error: err as Error },
    );
  }
}
