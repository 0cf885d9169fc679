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

/** Options of {@link LentBuffers}. */
export interface LentBuffersOptions {
  /** Bytes of buffers kept for lending; past them it hands out new memory it does not keep. */
  readonly maxBytes: number;
  /**
   * Until {@link LentBuffers.lend} is called, `allocate` hands out new memory of
   * at most this many bytes, owned by whoever receives it (a get read with plain
   * reads). Absent: buffers are lent from the start.
   */
  readonly freshUntilLent?: number;
  /** Makes a buffer to lend (default: unpooled Buffer memory). */
  readonly create?: (size: number) => ArrayBufferLike;
}

/**
 * Buffers lent out and taken back by their chunk's `ArrayBuffer`, so a long
 * image costs no new memory (nor page faults) per chunk: an add's blocks,
 * given back by its driver ({@link DriverAddRequest.release}); a get's chunks,
 * given back once pipeTo's write completed; a block writer's blocks. A buffer is
 * reused only after it was given back; one never given back is simply not
 * reused. Past `maxBytes` lent and idle together it hands out new memory, so a
 * borrower that keeps its chunks never waits.
 */
export class LentBuffers {
  readonly #free: ArrayBufferLike[] = [];
  readonly #lent = new Set<ArrayBufferLike>();
  readonly #maxBytes: number;
  readonly #freshBytes: number | undefined;
  readonly #create: (size: number) => ArrayBufferLike;
  #bytes = 0;
  #lending: boolean;
  #created = 0;

  constructor(options: LentBuffersOptions) {
    this.#maxBytes = options.maxBytes;
    this.#freshBytes = options.freshUntilLent;
    this.#lending = options.freshUntilLent === undefined;
    this.#create = options.create ?? ((size) => freshChunk(size).buffer);
  }

  /** From now on, chunks are lent buffers. */
  lend(): void {
    this.#lending = true;
  }

  /** A buffer of `size` bytes: one given back, a new one to lend, or past the cap new memory. */
  readonly allocate: ChunkAllocator = (size) => {
    if (!this.#lending) return freshChunk(Math.min(size, this.#freshBytes ?? size));
    const at = this.#free.findIndex((buffer) => buffer.byteLength >= size);
    let buffer: ArrayBufferLike;
    if (at >= 0) buffer = this.#free.splice(at, 1)[0]!;
    else if (this.#bytes + size > this.#maxBytes) return freshChunk(size);
    else {
      buffer = this.#create(size);
      this.#bytes += buffer.byteLength;
      this.#created += 1;
    }
    this.#lent.add(buffer);
    return Buffer.from(buffer, 0, size);
  };

  /** `chunk`'s borrower is done with it: its buffer may be lent again (other chunks are ignored). */
  readonly giveBack = (chunk: Uint8Array): void => {
    if (this.#lent.delete(chunk.buffer)) this.#free.push(chunk.buffer);
  };

  /** Takes the buffers given back and not lent again out of the pool (to keep them elsewhere). */
  takeIdle(): ArrayBufferLike[] {
    const idle = this.#free.splice(0);
    for (const buffer of idle) this.#bytes -= buffer.byteLength;
    return idle;
  }

  /** Buffers made for lending so far (not the new memory past the cap). */
  get created(): number {
    return this.#created;
  }
}
