/**
 * Get's edge cases are the manager's (DriverGetResult's close and mapError, and
 * a driver's undefined for a range past the end), shown on the memory driver
 * with a fault injected where the real one has none to offer: a read that fails
 * mid-way, and a driver that refuses ranges as a server answering 416 does.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  type Driver,
  type DriverGetResult,
  defineDriver,
  MultiStore,
  memoryDriver,
  RemoteServiceUnavailable,
} from '../src/index.js';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'no error';
}

/** A memory backend whose driver's gets go through `wrap`; calls counted. */
async function wrappedStore(
  wrap: (got: DriverGetResult | undefined, offset: number) => DriverGetResult | undefined,
) {
  const calls = { get: 0, getSize: 0 };
  const definition = defineDriver({
    ...memoryDriver,
    type: 'faulty',
    create: async (context) => {
      const driver = (await memoryDriver.create(context)) as Driver;
      return {
        parseLocation: (uri) => driver.parseLocation(uri),
        add: (request) => driver.add!(request),
        delete: (location, request) => driver.delete!(location, request),
        getSize: (location, request) => {
          calls.getSize += 1;
          return driver.getSize(location, request);
        },
        async get(location, request) {
          calls.get += 1;
          return wrap(await driver.get(location, request), request.offset);
        },
      };
    },
  });
  const store = await MultiStore.create(
    { enabledBackends: { m: 'faulty' }, defaultBackend: 'm', backends: {} },
    { drivers: [definition] },
  );
  const { location } = await store.add('image', Buffer.alloc(1000, 3), 1000);
  return { store, location, calls };
}

describe("the manager's side of a get", () => {
  it('answers a chunkSize of 0 without the driver get, NotFound for a missing image', async () => {
    const { store, location, calls } = await wrappedStore((got) => got);
    const got = await store.get(location, { chunkSize: 0, offset: 10 });
    expect(got.size).toBe(0);
    expect(await got.stream.toArray()).toEqual([]);
    expect(calls).toEqual({ get: 0, getSize: 1 });
    await store.delete(location);
    expect(await codeOf(store.get(location, { chunkSize: 0 }))).toBe('NotFound');
    await store.close();
  });

  it('reads no bytes when a driver refuses a range past the end (undefined), after checking the size', async () => {
    // Refuses every offset read, as a server answering 416 would past the end.
    const { store, location, calls } = await wrappedStore((got, offset) =>
      offset > 0 ? undefined : got,
    );
    const past = await store.get(location, { offset: 1000 });
    expect(past.size).toBe(0);
    expect(await past.stream.toArray()).toEqual([]);
    expect(calls.getSize).toBe(1);
    // Refused inside the image: the backend misbehaved, no silent empty read.
    expect(await codeOf(store.get(location, { offset: 10 }))).toBe('BackendException');
    await store.close();
  });

  it('maps the stream failures through mapError, leaving StoreErrors alone', async () => {
    const mapped: unknown[] = [];
    const failing = (err: Error): DriverGetResult => ({
      stream: Readable.from(
        (async function* () {
          yield Buffer.alloc(10);
          throw err;
        })(),
      ),
      size: 1000,
      mapError: (e) => {
        mapped.push(e);
        return new RemoteServiceUnavailable('the connection was lost');
      },
    });
    let fault: Error = new Error('ECONNRESET');
    const { store, location } = await wrappedStore(() => failing(fault));
    const got = await store.get(location);
    expect(await codeOf(got.stream.toArray())).toBe('RemoteServiceUnavailable');
    expect(mapped).toHaveLength(1);
    fault = new RemoteServiceUnavailable('already typed');
    const again = await store.get(location);
    expect(await codeOf(again.stream.toArray())).toBe('RemoteServiceUnavailable');
    expect(mapped).toHaveLength(1);
    await store.close();
  });

  it('closes each read exactly once: read to its end, destroyed unread, failed', async () => {
    let closes = 0;
    const { store, location } = await wrappedStore((got) => ({
      ...got!,
      close: () => {
        closes += 1;
      },
    }));
    const whole = await store.get(location);
    expect(Buffer.concat(await whole.stream.toArray()).byteLength).toBe(1000);
    expect(closes).toBe(1);
    const unread = await store.get(location);
    await new Promise((resolve) => unread.stream.once('close', resolve).destroy());
    expect(closes).toBe(2);
    const controller = new AbortController();
    const aborted = await store.get(location, { signal: controller.signal });
    controller.abort();
    expect(await codeOf(aborted.stream.toArray())).toBe('OperationAborted');
    await new Promise((resolve) => setImmediate(resolve));
    expect(closes).toBe(3);
    await store.close();
  });
});
