/**
 * Where a get's chunks live. By default every chunk is a new buffer. With
 * `reuseBuffers`, the chunks a driver reads into are views of a few buffers that
 * are reused once the caller has moved past them: memory that is already mapped
 * costs no page faults, most of the cost of reading from the page cache.
 */

/** Gives a driver the buffers it reads image bytes into (see {@link DriverGetRequest.allocate}). */
export type ChunkAllocator = (size: number) => Buffer;

/** The default: a new buffer per chunk, owned by whoever receives it. */
export const freshChunk: ChunkAllocator = (size) => Buffer.allocUnsafeSlow(size);

interface Slot {
  readonly buffer: ArrayBuffer;
  busy: boolean;
}

interface Pending {
  /** Bytes of the chunk the consumer has not taken yet. */
  remaining: number;
  readonly slot: Slot | undefined;
}

/**
 * A small set of reusable buffers for one get, plus the bookkeeping that says
 * when each may be reused: a chunk's buffer is free again once the consumer has
 * taken the chunk and then the next one (which `for await` does only when the
 * loop body is done, and 'data' only after the listener returned). Past `maxBytes` it hands out new
 * buffers, so a driver reading far ahead never waits on the consumer.
 */
export class RecycledChunks {
  readonly #slots: Slot[] = [];
  readonly #bySlotBuffer = new Map<ArrayBufferLike, Slot>();
  /** Chunks pushed to the consumer's side, oldest first. */
  readonly #pending: Pending[] = [];
  /** Slots whose chunk the consumer has fully taken: free at its next read. */
  readonly #taken: Slot[] = [];
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes = 32 << 20) {
    this.#maxBytes = maxBytes;
  }

  /** A buffer of `size` bytes: a free slot, a new slot, or past the cap a new buffer. */
  readonly allocate: ChunkAllocator = (size) => {
    const free = this.#slots.find((s) => !s.busy && s.buffer.byteLength >= size);
    if (free) {
      free.busy = true;
      return Buffer.from(free.buffer, 0, size);
    }
    if (this.#bytes + size > this.#maxBytes) return freshChunk(size);
    const slot: Slot = { buffer: new ArrayBuffer(size), busy: true };
    this.#bytes += size;
    this.#slots.push(slot);
    this.#bySlotBuffer.set(slot.buffer, slot);
    return Buffer.from(slot.buffer, 0, size);
  };

  /** Records a chunk handed to the consumer's side of the stream. */
  pushed(chunk: Uint8Array): void {
    this.#pending.push({ remaining: chunk.byteLength, slot: this.#bySlotBuffer.get(chunk.buffer) });
  }

  /** The consumer took `bytes` (one read's worth, in push order). */
  took(bytes: number): void {
    let left = bytes;
    while (left > 0 && this.#pending.length > 0) {
      const head = this.#pending[0]!;
      const part = Math.min(left, head.remaining);
      head.remaining -= part;
      left -= part;
      if (head.remaining > 0) break;
      this.#pending.shift();
      if (head.slot) this.#taken.push(head.slot);
    }
  }

  /** The consumer is given more: what it took before is done with. */
  releaseTaken(): void {
    for (const slot of this.#taken.splice(0)) slot.busy = false;
  }
}

/**
 * The blocks one add hands to its driver: coalesced small chunks and the file
 * source's reads. A block is lent to the driver and reused only after the driver
 * gave it back ({@link DriverAddRequest.release}); a driver that never does gets
 * new memory for every block. At most `maxBytes` are kept for reuse per add.
 */
export class AddBlocks {
  readonly #slots = new Map<ArrayBufferLike, Slot>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes = 8 << 20) {
    this.#maxBytes = maxBytes;
  }

  /** A buffer of `size` bytes: a block given back, a new block, or past the cap a new buffer. */
  readonly allocate: ChunkAllocator = (size) => {
    for (const slot of this.#slots.values()) {
      if (!slot.busy && slot.buffer.byteLength >= size) {
        slot.busy = true;
        return Buffer.from(slot.buffer, 0, size);
      }
    }
    if (this.#bytes + size > this.#maxBytes) return freshChunk(size);
    const slot: Slot = { buffer: new ArrayBuffer(size), busy: true };
    this.#bytes += size;
    this.#slots.set(slot.buffer, slot);
    return Buffer.from(slot.buffer, 0, size);
  };

  /** The driver is done with `chunk`: its block may be reused (other chunks are ignored). */
  readonly release = (chunk: Uint8Array): void => {
    const slot = this.#slots.get(chunk.buffer);
    if (slot) slot.busy = false;
  };
}
