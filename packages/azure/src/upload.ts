/**
 * Block blob uploads: the image is cut into blocks that are staged with a
 * bounded window (memory ≤ block size × concurrency, whatever the image size),
 * then committed in one conditional request (`If-None-Match: *`), so the blob
 * appears whole or not at all and an existing blob is never overwritten. A
 * failed or aborted upload commits nothing; its staged blocks stay uncommitted,
 * invisible to readers, and the service discards them (after a week, or at the
 * next commit of that name).
 */
import { randomBytes } from 'node:crypto';
import type { BlockBlobClient } from '@azure/storage-blob';
import {
  abortError,
  type Block,
  type BlockSink,
  ImageSizeLimitExceeded,
  type Logger,
  writeBlocks,
} from '@store/core';
import { azureErrorCode, isAbortFailure } from './errors.js';
import { MAX_BLOCKS } from './options.js';

/** Metadata key recording which upload committed a blob (to recognise our own commit). */
export const UPLOAD_ID_METADATA = 'storeupload';

/** What {@link uploadBlocks} needs. */
export interface UploadRequest {
  readonly blob: BlockBlobClient;
  readonly data: AsyncIterable<Uint8Array>;
  /** Declared size, for the block size only; 0 = unknown. */
  readonly size: number;
  readonly blockSize: number;
  readonly concurrency: number;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Gives a chunk of `data` back once copied into a block (DriverAddRequest.release). */
  readonly release?: ((chunk: Uint8Array) => void) | undefined;
}

/** An upload that failed; `cause` is the SDK's or the source's error, unmapped. */
export class UploadFailure extends Error {
  constructor(
    message: string,
    readonly stage: 'data' | 'stage' | 'commit',
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The block size to use: the configured one, enlarged (to a whole MiB) when a
 * declared size would need more than Azure's block count limit.
 */
export function effectiveBlockSize(configured: number, size: number): number {
  const needed = Math.ceil(size / MAX_BLOCKS);
  return needed <= configured ? configured : Math.ceil(needed / (1 << 20)) * (1 << 20);
}

/** Block ids must all have the same length within a blob: upload id + fixed-width index. */
function blockId(uploadId: string, index: number): string {
  return Buffer.from(`${uploadId}-${String(index).padStart(6, '0')}`).toString('base64');
}

/** Tags a failure of the data source as such (the driver passes it on as it was). */
async function* dataOf(data: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of data) yield chunk;
  } catch (err) {
    throw new UploadFailure('Reading the image data failed', 'data', { cause: err });
  }
}

/** One blob's staged blocks as core's block writer sees them, committed on complete. */
class StagedBlocks implements BlockSink {
  readonly uploadId = randomBytes(12).toString('hex');
  #count = 0;

  constructor(
    readonly request: UploadRequest,
    readonly blockSize: number,
  ) {}

  async writeBlock({ index, bytes }: Block, signal: AbortSignal): Promise<void> {
    if (index >= MAX_BLOCKS) {
      throw new ImageSizeLimitExceeded(
        `Image needs more than ${MAX_BLOCKS} blocks of ${this.blockSize} bytes: raise azure_store_block_size`,
      );
    }
    this.#count = Math.max(this.#count, index + 1);
    try {
      await this.request.blob.stageBlock(blockId(this.uploadId, index), bytes, bytes.byteLength, {
        abortSignal: signal,
      });
    } catch (cause) {
      throw new UploadFailure('Staging a block failed', 'stage', { cause });
    }
  }

  /** All data is in (its length is the manager's to check): commit. */
  async complete(): Promise<void> {
    const { signal } = this.request;
    if (signal.aborted) throw abortError(signal, 'add');
    const ids = Array.from({ length: this.#count }, (_, index) => blockId(this.uploadId, index));
    await commit(this.request, this.uploadId, ids);
  }
}

/**
 * Uploads `data` to `blob` with up to `concurrency` blocks staged at once
 * (core's block writer) and commits it if and only if every byte arrived and
 * the blob did not exist. A failed upload commits nothing. Returns the number
 * of bytes stored.
 *
 * @throws UploadFailure wrapping the first error (the data source's, a stage's or
 * the commit's); Duplicate-worthy conflicts are left to the caller to map.
 */
export function uploadBlocks(request: UploadRequest): Promise<number> {
  const blockSize = effectiveBlockSize(request.blockSize, request.size);
  return writeBlocks(dataOf(request.data), new StagedBlocks(request, blockSize), {
    blockSize,
    window: request.concurrency,
    size: request.size,
    signal: request.signal,
    release: request.release,
  });
}

/**
 * Commits the staged blocks (none for an empty image), only if the blob does
 * not exist. Always a block list, even for one block: Azurite refuses a
 * conditional single-request put where uncommitted blocks of the name remain.
 */
async function commit(request: UploadRequest, uploadId: string, ids: string[]): Promise<void> {
  const { blob, signal, logger } = request;
  const options = {
    conditions: { ifNoneMatch: '*' },
    metadata: { [UPLOAD_ID_METADATA]: uploadId },
    abortSignal: signal,
  };
  try {
    await blob.commitBlockList(ids, options);
  } catch (err) {
    // The outcome is unknown when the answer was lost (abort, network error after
    // retries), and a retried commit can conflict with its own first attempt: ask
    // the service whether the blob there is ours.
    const ours = await committedBy(blob, uploadId);
    if (ours && !signal.aborted) return; // our commit took effect; only its answer was lost
    if (ours) {
      // Aborted, yet committed: take it back (only that version, by its ETag).
      logger.debug('Removing a blob committed by an upload that was then aborted');
      await blob.delete({ conditions: { ifMatch: ours } }).catch((cleanup: unknown) =>
        logger.warn('Could not remove a blob committed by an aborted upload', {
          error: azureErrorCode(cleanup) ?? 'unknown error',
        }),
      );
    }
    if (signal.aborted || isAbortFailure(err)) throw abortError(signal, 'add');
    throw new UploadFailure('Committing the blob failed', 'commit', { cause: err });
  }
}

/** The ETag of the blob if it was committed by `uploadId`, otherwise undefined. */
async function committedBy(blob: BlockBlobClient, uploadId: string): Promise<string | undefined> {
  try {
    const properties = await blob.getProperties();
    return properties.metadata?.[UPLOAD_ID_METADATA] === uploadId ? properties.etag : undefined;
  } catch {
    return undefined;
  }
}
