/**
 * Every MultiStore operation on its diagnostics_channel TracingChannel: real
 * operations on file backends (and the http driver on a local server for a
 * credentialed location), subscribed to with node:diagnostics_channel itself.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type DriverDefinition,
  GET_STREAM_CLOSE_CHANNEL,
  MultiStore,
  STORE_OPERATIONS,
  type StoreOperation,
  type StoreOperationEvent,
  storeChannelName,
  storeChannels,
} from '../src/index.js';

const PHASES = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const;

interface Seen {
  readonly phase: string;
  readonly operation: StoreOperation;
  readonly event: StoreOperationEvent;
  /** The event's fields when it was published (the object fills in later). */
  readonly snapshot: Record<string, unknown>;
}

/** Subscribes by channel name to every phase of every operation and the get stream channel. */
function record(): { seen: Seen[]; stop(): void } {
  const seen: Seen[] = [];
  const unsubscribers: (() => void)[] = [];
  const listen = (name: string, phase: string) => {
    const onMessage = (message: unknown) => {
      const event = message as StoreOperationEvent;
      seen.push({ phase, operation: event.operation, event, snapshot: { ...event } });
    };
    diagnosticsChannel.subscribe(name, onMessage);
    unsubscribers.push(() => diagnosticsChannel.unsubscribe(name, onMessage));
  };
  for (const operation of STORE_OPERATIONS)
    for (const phase of PHASES) listen(`tracing:${storeChannelName(operation)}:${phase}`, phase);
  listen(GET_STREAM_CLOSE_CHANNEL, 'streamClose');
  return {
    seen,
    stop: () => {
      for (const stop of unsubscribers) stop();
    },
  };
}

const phasesOf = (seen: Seen[], operation: StoreOperation) =>
  seen.filter((s) => s.operation === operation).map((s) => s.phase);

async function fileDriver(): Promise<DriverDefinition> {
  const url = new URL('../../file/src/index.ts', import.meta.url).href;
  return ((await import(url)) as { default: DriverDefinition }).default;
}

async function httpDriver(): Promise<DriverDefinition> {
  const url = new URL('../../http/src/index.ts', import.meta.url).href;
  return ((await import(url)) as { default: DriverDefinition }).default;
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.byteLength;
  return bytes;
}

describe('operation tracing channels', () => {
  let dir: string;
  let store: MultiStore;
  let server: Server;
  let port: number;
  let recorder: { seen: Seen[]; stop(): void } | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'core-tracing-'));
    server = createServer((_req, res) => {
      res.statusCode = 404;
      res.end('no such image');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    store = await MultiStore.create(
      {
        enabledBackends: { fast: 'file', slow: 'file', web: 'http' },
        defaultBackend: 'fast',
        backends: {
          fast: { filesystem_store_datadir: join(dir, 'fast') },
          slow: { filesystem_store_datadir: join(dir, 'slow') },
          web: {},
        },
      },
      { drivers: [await fileDriver(), await httpDriver()] },
    );
  });
  afterEach(() => {
    recorder?.stop();
    recorder = undefined;
  });
  afterAll(async () => {
    await store?.close();
    await new Promise((resolve) => server?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('publishes add, get, getSize and delete in tracePromise order with their fields', async () => {
    recorder = record();
    const { seen } = recorder;
    const size = 2 * 1024 * 1024 + 3;
    const added = await store.add('traced-image', Buffer.alloc(size, 1), size);
    expect(phasesOf(seen, 'add')).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    const addEvent = seen[0]!.event;
    expect(seen.every((s) => s.event === addEvent)).toBe(true);
    expect(seen[0]!.snapshot).toMatchObject({
      operation: 'add',
      backend: 'fast',
      driver: 'file',
      imageId: 'traced-image',
      location: undefined,
      bytes: undefined,
    });
    expect(addEvent).toMatchObject({
      location: added.location,
      bytes: size,
      errorCode: undefined,
    });
    expect(addEvent.durationMs).toBeGreaterThanOrEqual(0);
    expect(addEvent).not.toHaveProperty('result');

    seen.length = 0;
    const got = await store.get(added.location);
    expect(phasesOf(seen, 'get')).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    const getEvent = seen[0]!.event;
    // Searched without a backend: both file backends handle file://, so none is named at start.
    expect(seen[0]!.snapshot).toMatchObject({ backend: undefined, location: added.location });
    expect(seen[3]!.snapshot).toMatchObject({ backend: 'fast', driver: 'file', size });
    expect(seen[3]!.snapshot.bytes).toBeUndefined();
    expect(await readAll(got.stream)).toBe(size);
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen.map((s) => s.phase)).toEqual([
      'start',
      'end',
      'asyncStart',
      'asyncEnd',
      'streamClose',
    ]);
    expect(seen[4]!.event).toBe(getEvent);
    expect(seen[4]!.snapshot).toMatchObject({ bytes: size, complete: true, errorCode: undefined });
    expect(seen[4]!.snapshot.durationMs as number).toBeGreaterThanOrEqual(
      seen[3]!.snapshot.durationMs as number,
    );

    seen.length = 0;
    expect(await store.getSize(added.location)).toBe(size);
    expect(phasesOf(seen, 'getSize')).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(seen[3]!.snapshot).toMatchObject({ backend: 'fast', driver: 'file', size });

    seen.length = 0;
    await store.delete(added.location, { backend: 'fast' });
    expect(phasesOf(seen, 'delete')).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(seen[0]!.snapshot).toMatchObject({ backend: 'fast', driver: 'file' });

    seen.length = 0;
    const missing = await store.getSize(added.location, { backend: 'fast' }).catch((e) => e);
    expect(missing.code).toBe('NotFound');
    expect(phasesOf(seen, 'getSize')).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
    expect(seen[2]!.snapshot).toMatchObject({
      backend: 'fast',
      driver: 'file',
      errorCode: 'NotFound',
      error: missing,
    });
  });

  it('reports a get stream destroyed part-way as incomplete, with the bytes read', async () => {
    const size = 4 * 1024 * 1024;
    const added = await store.add('partly-read', Buffer.alloc(size, 2), size, { backend: 'slow' });
    recorder = record();
    const got = await store.get(added.location, { backend: 'slow' });
    const closed = new Promise((resolve) => got.stream.once('close', resolve));
    for await (const _chunk of got.stream) break;
    await closed;
    const close = recorder.seen.find((s) => s.phase === 'streamClose')!;
    expect(close.snapshot).toMatchObject({ backend: 'slow', complete: false });
    expect(close.snapshot.bytes as number).toBeGreaterThan(0);
    expect(close.snapshot.bytes as number).toBeLessThan(size);
    await store.delete(added.location, { backend: 'slow' });
  });

  it('reports the bytes a get sent on with pipeTo when its stream closes', async () => {
    const size = 3 * 1024 * 1024 + 1;
    const added = await store.add('piped', Buffer.alloc(size, 6), size);
    recorder = record();
    let written = 0;
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written += chunk.byteLength;
        setImmediate(callback);
      },
    });
    const got = await store.get(added.location);
    expect(await got.pipeTo(sink)).toBe(size);
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).toBe(size);
    const close = recorder.seen.find((s) => s.phase === 'streamClose')!;
    expect(close.snapshot).toMatchObject({ bytes: size, complete: true, errorCode: undefined });
    await store.delete(added.location);
  });

  it("nests copy's own get and add inside the copy", async () => {
    const size = 100_000;
    const added = await store.add('to-copy', Buffer.alloc(size, 3), size);
    recorder = record();
    const copied = await store.copy(added.location, { to: 'slow', imageId: 'copied' });
    const order = recorder.seen
      .filter((s) => s.phase === 'start' || s.phase === 'asyncEnd')
      .map((s) => `${s.operation}:${s.phase}`);
    expect(order[0]).toBe('copy:start');
    expect(order.at(-1)).toBe('copy:asyncEnd');
    expect(order).toContain('add:asyncEnd');
    expect(order.filter((o) => o === 'get:start')).toHaveLength(2); // the source and the read-back
    const copy = recorder.seen.find((s) => s.operation === 'copy')!.event;
    expect(copy).toMatchObject({
      backend: 'slow',
      driver: 'file',
      imageId: 'copied',
      location: added.location,
      bytes: size,
    });
    await store.delete(copied.location, { backend: 'slow' });
    await store.delete(added.location, { backend: 'fast' });
  });

  it('masks the credentials of a location in every event of a failed get', async () => {
    recorder = record();
    const password = 'tr4ce-pa55word';
    const signature = 'c2lnbmF0dXJlLXZhbHVl';
    const uri = `http://glance:${password}@127.0.0.1:${port}/images/missing?sig=${signature}`;
    const failure = await store.get(uri).catch((e) => e);
    expect(failure.code).toBe('NotFound');
    const events = recorder.seen.filter((s) => s.operation === 'get');
    expect(events.map((s) => s.phase)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
    const event = events[0]!.event;
    expect(event).toMatchObject({ backend: 'web', driver: 'http', errorCode: 'NotFound' });
    expect(event.location).toBe(`http://***:***@127.0.0.1:${port}/images/missing?sig=***`);
    const error = event.error as Error;
    const everything = JSON.stringify({ ...event, error: [error.message, String(error.stack)] });
    expect(everything).not.toContain(password);
    expect(everything).not.toContain(signature);
  });

  it('creates no event for an operation that started while no one subscribed', async () => {
    const size = 1000;
    const added = await store.add('unwatched', Buffer.alloc(size, 4), size);
    for (const operation of STORE_OPERATIONS) {
      const c = storeChannels[operation];
      expect(
        [c.start, c.end, c.asyncStart, c.asyncEnd, c.error].some((x) => x.hasSubscribers),
      ).toBe(false);
    }
    // Subscribing once the calls are under way: an event made for them would show up here.
    const sizing = store.getSize(added.location);
    const getting = store.get(added.location);
    recorder = record();
    expect(await sizing).toBe(size);
    const got = await getting;
    expect(await readAll(got.stream)).toBe(size);
    await new Promise((resolve) => setImmediate(resolve));
    expect(recorder.seen).toEqual([]);
    recorder.stop();
    recorder = undefined;
    await store.delete(added.location);
  });
});
