/**
 * The limiter on its own (issue 19, "Bounds"): places are granted in arrival
 * order, a waiter whose signal fires leaves the queue at once with
 * OperationAborted, releases are idempotent, and the memory budget is the
 * read-ahead budget extended (reads ahead yield to waiting adds).
 */
import { describe, expect, it } from 'vitest';
import { Invalid, OperationAborted } from '../src/errors.js';
import { BLOCK_BYTES } from '../src/ingest.js';
import {
  addBufferBytes,
  ConcurrencyLimit,
  DEFAULT_ADD_BUFFER_BYTES,
  HASH_BATCH_BYTES,
  Limiter,
  MemoryBudget,
  type Release,
} from '../src/limits.js';

/** Lets every queued microtask and one macrotask run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('ConcurrencyLimit', () => {
  it('grants places in arrival order as they are given back', async () => {
    const limit = new ConcurrencyLimit(2);
    const order: string[] = [];
    const releases = new Map<string, Release>();
    const take = (name: string) =>
      limit.acquire(undefined, 'add').then((release) => {
        order.push(name);
        releases.set(name, release);
      });
    const all = ['a', 'b', 'c', 'd', 'e'].map(take);
    await settle();
    expect(order).toEqual(['a', 'b']);
    expect(limit.state()).toEqual({ inUse: 2, queued: 3, limit: 2 });
    releases.get('b')!();
    await settle();
    expect(order).toEqual(['a', 'b', 'c']);
    releases.get('a')!();
    releases.get('c')!();
    await settle();
    expect(order).toEqual(['a', 'b', 'c', 'd', 'e']);
    await Promise.all(all);
    expect(limit.state()).toEqual({ inUse: 2, queued: 0, limit: 2 });
  });

  it('a waiter aborted leaves the queue at once with OperationAborted, the others keep their turn', async () => {
    const limit = new ConcurrencyLimit(1);
    const first = await limit.acquire(undefined, 'get');
    const controller = new AbortController();
    const aborted = limit.acquire(controller.signal, 'get');
    const next = limit.acquire(undefined, 'get');
    await settle();
    expect(limit.state().queued).toBe(2);
    controller.abort();
    await expect(aborted).rejects.toBeInstanceOf(OperationAborted);
    await expect(aborted).rejects.toThrow('The get was aborted');
    expect(limit.state()).toEqual({ inUse: 1, queued: 1, limit: 1 });
    first();
    const release = await next;
    expect(limit.state()).toEqual({ inUse: 1, queued: 0, limit: 1 });
    release();
    expect(limit.state()).toEqual({ inUse: 0, queued: 0, limit: 1 });
  });

  it('refuses an already-aborted signal even when a place is free', async () => {
    const limit = new ConcurrencyLimit(4);
    await expect(limit.acquire(AbortSignal.abort(), 'add')).rejects.toBeInstanceOf(
      OperationAborted,
    );
    expect(limit.state().inUse).toBe(0);
  });

  it('a release called twice gives back one place', async () => {
    const limit = new ConcurrencyLimit(2);
    const a = await limit.acquire(undefined, 'add');
    await limit.acquire(undefined, 'add');
    a();
    a();
    expect(limit.state().inUse).toBe(1);
  });

  it('without a limit counts places and never queues', async () => {
    const limit = new ConcurrencyLimit(Infinity);
    const releases = await Promise.all(
      Array.from({ length: 100 }, () => limit.acquire(undefined, 'get')),
    );
    expect(limit.state()).toEqual({ inUse: 100, queued: 0 });
    for (const release of releases) release();
    expect(limit.state().inUse).toBe(0);
  });
});

describe('MemoryBudget', () => {
  it('reservations wait in order; a large one is not overtaken by smaller ones', async () => {
    const memory = new MemoryBudget(0, 100);
    const a = await memory.reserve(60, undefined, 'add');
    const order: string[] = [];
    const big = memory.reserve(80, undefined, 'add').then((r) => {
      order.push('big');
      return r;
    });
    const small = memory.reserve(10, undefined, 'add').then((r) => {
      order.push('small');
      return r;
    });
    await settle();
    // 10 would fit beside 60, but 80 came first.
    expect(order).toEqual([]);
    expect(memory.state()).toMatchObject({ inUse: 60, queued: 2, queuedBytes: 90, limit: 100 });
    a();
    await settle();
    expect(order).toEqual(['big', 'small']);
    expect(memory.state()).toMatchObject({ inUse: 90, queued: 0 });
    (await big)();
    (await small)();
    expect(memory.state().inUse).toBe(0);
  });

  it('a request larger than the whole budget waits until nothing is held, then runs alone', async () => {
    const memory = new MemoryBudget(0, 100);
    const a = await memory.reserve(1, undefined, 'add');
    let granted = false;
    const huge = memory.reserve(1000, undefined, 'add').then((r) => {
      granted = true;
      return r;
    });
    await settle();
    expect(granted).toBe(false);
    a();
    const release = await huge;
    expect(memory.state().inUse).toBe(100);
    release();
    expect(memory.state().inUse).toBe(0);
  });

  it('reads ahead take from the same total, up to their own share, and yield to a waiting add', async () => {
    const memory = new MemoryBudget(50, 100);
    expect(memory.take(40)).toBe(true);
    expect(memory.take(20)).toBe(false); // over the read-ahead share
    const add = await memory.reserve(50, undefined, 'add');
    expect(memory.state()).toMatchObject({ inUse: 90, readAhead: 40 });
    expect(memory.take(10)).toBe(true); // 100 in all
    expect(memory.take(1)).toBe(false); // over the total
    let granted = false;
    const waiting = memory.reserve(20, undefined, 'add').then((r) => {
      granted = true;
      return r;
    });
    memory.give(10);
    await settle();
    expect(granted).toBe(false);
    // With an add waiting, reads ahead get nothing, even what would fit.
    expect(memory.take(1)).toBe(false);
    memory.give(40);
    (await waiting)();
    expect(granted).toBe(true);
    add();
    expect(memory.state()).toMatchObject({ inUse: 0, readAhead: 0, queued: 0 });
    expect(memory.used).toBe(0);
  });

  it('a reservation aborted while waiting leaves the queue and lets the next one in', async () => {
    const memory = new MemoryBudget(0, 100);
    const a = await memory.reserve(100, undefined, 'add');
    const controller = new AbortController();
    const aborted = memory.reserve(100, controller.signal, 'add');
    const next = memory.reserve(30, undefined, 'add');
    controller.abort(new Error('caller gave up'));
    await expect(aborted).rejects.toBeInstanceOf(OperationAborted);
    expect(memory.state()).toMatchObject({ queued: 1, queuedBytes: 30 });
    a();
    (await next)();
    expect(memory.state().inUse).toBe(0);
  });
});

describe('Limiter', () => {
  it('an add aborted while waiting for memory gives its place back', async () => {
    const limiter = new Limiter({ concurrentAdds: 2, bufferMemory: 100 }, 0);
    const first = await limiter.acquireAdd(100, undefined);
    const controller = new AbortController();
    const second = limiter.acquireAdd(50, controller.signal);
    await settle();
    expect(limiter.stats().adds).toEqual({ inUse: 2, queued: 0, limit: 2 });
    expect(limiter.stats().memory).toMatchObject({ queued: 1, queuedBytes: 50 });
    controller.abort();
    await expect(second).rejects.toBeInstanceOf(OperationAborted);
    expect(limiter.stats().adds.inUse).toBe(1);
    first();
    expect(limiter.stats()).toEqual({
      adds: { inUse: 0, queued: 0, limit: 2 },
      gets: { inUse: 0, queued: 0 },
      memory: { inUse: 0, readAhead: 0, queued: 0, queuedBytes: 0, limit: 100 },
    });
  });

  it('refuses a limit that is not a positive integer, naming it', () => {
    expect(() => new Limiter({ concurrentGets: 0 }, 0)).toThrow(Invalid);
    expect(() => new Limiter({ concurrentAdds: 1.5 }, 0)).toThrow('limits.concurrentAdds');
    expect(() => new Limiter({ bufferMemory: -1 }, 0)).toThrow('limits.bufferMemory');
  });

  it("an add reserves the manager's block, the hash batches and what its driver declares, at most a copy in each", () => {
    expect(addBufferBytes(0, undefined, true)).toBe(
      BLOCK_BYTES + HASH_BATCH_BYTES + DEFAULT_ADD_BUFFER_BYTES,
    );
    expect(addBufferBytes(0, 10 * BLOCK_BYTES, true)).toBe(11 * BLOCK_BYTES + HASH_BATCH_BYTES);
    expect(addBufferBytes(1000, 10 * BLOCK_BYTES, false)).toBe(2000);
    expect(addBufferBytes(5 * BLOCK_BYTES, 50 * BLOCK_BYTES, true)).toBe(15 * BLOCK_BYTES);
  });
});
