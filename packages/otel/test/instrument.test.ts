/**
 * @store/otel against real operations on file backends in a temporary directory,
 * exported through the OpenTelemetry SDK's in-memory exporters.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanStatusCode } from '@opentelemetry/api';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import {
  type Driver,
  defineDriver,
  MultiStore,
  memoryDriver,
  RemoteServiceUnavailable,
} from '@store/core';
import fileDriver from '@store/file';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { instrumentStore, METRIC_NAMES, type StoreInstrumentation } from '../src/index.js';

describe('instrumentStore', () => {
  let dir: string;
  let store: MultiStore;
  let spans: InMemorySpanExporter;
  let tracerProvider: BasicTracerProvider;
  let metricExporter: InMemoryMetricExporter;
  let reader: PeriodicExportingMetricReader;
  let meterProvider: MeterProvider;
  let instrumentation: StoreInstrumentation;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'otel-'));
    store = await MultiStore.create(
      {
        enabledBackends: { fast: 'file', slow: 'file' },
        defaultBackend: 'fast',
        backends: {
          fast: { filesystem_store_datadir: join(dir, 'fast') },
          slow: { filesystem_store_datadir: join(dir, 'slow') },
        },
      },
      { drivers: [fileDriver] },
    );
  });
  beforeEach(() => {
    spans = new InMemorySpanExporter();
    tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
    metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    reader = new PeriodicExportingMetricReader({
      exporter: metricExporter,
      exportIntervalMillis: 60_000,
    });
    meterProvider = new MeterProvider({ readers: [reader] });
    instrumentation = instrumentStore({ tracerProvider, meterProvider });
  });
  afterEach(async () => {
    instrumentation.disable();
    await meterProvider.shutdown();
    await tracerProvider.shutdown();
  });
  afterAll(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The data points of metric `name` after a flush. */
  async function points(name: string): Promise<DataPoint<unknown>[]> {
    await reader.forceFlush();
    const exported = metricExporter.getMetrics().at(-1);
    const metric = exported?.scopeMetrics
      .flatMap((scope) => scope.metrics)
      .find((m) => m.descriptor.name === name);
    return (metric?.dataPoints ?? []) as DataPoint<unknown>[];
  }

  const spanNamed = (name: string): ReadableSpan[] =>
    spans.getFinishedSpans().filter((s) => s.name === name);

  it('makes a span and metrics per add, get, getSize and delete, and marks NotFound', async () => {
    const size = 1024 * 1024 + 17;
    const added = await store.add('otel-image', Buffer.alloc(size, 9), size);
    const got = await store.get(added.location);
    // Open but not yet read: the get's span waits for its stream.
    expect(spanNamed('store.get')).toHaveLength(0);
    let read = 0;
    for await (const chunk of got.stream) read += chunk.byteLength;
    expect(read).toBe(size);
    await new Promise((resolve) => setImmediate(resolve));
    expect(await store.getSize(added.location)).toBe(size);
    await store.delete(added.location);
    const missing = await store.getSize(added.location, { backend: 'fast' }).catch((e) => e);
    expect(missing.code).toBe('NotFound');

    const [add] = spanNamed('store.add');
    expect(add!.attributes).toMatchObject({
      'store.operation': 'add',
      'store.backend': 'fast',
      'store.driver': 'file',
      'store.bytes': size,
      'store.image_id': 'otel-image',
      'store.location': added.location,
    });
    expect(add!.status.code).toBe(SpanStatusCode.UNSET);
    const [get] = spanNamed('store.get');
    expect(get!.attributes).toMatchObject({
      'store.backend': 'fast',
      'store.bytes': size,
      'store.size': size,
      'store.complete': true,
    });
    const sizes = spanNamed('store.getSize');
    expect(sizes).toHaveLength(2);
    expect(sizes[0]!.attributes['store.size']).toBe(size);
    expect(sizes[1]!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'NotFound' });
    expect(sizes[1]!.attributes['store.error_code']).toBe('NotFound');
    expect(sizes[1]!.events.map((e) => e.name)).toEqual(['exception']);
    expect(spanNamed('store.delete')).toHaveLength(1);

    const ops = await points(METRIC_NAMES.operations);
    const count = (operation: string, outcome: string) =>
      ops.find(
        (p) =>
          p.attributes['store.operation'] === operation &&
          p.attributes['store.outcome'] === outcome &&
          p.attributes['store.backend'] === 'fast',
      )?.value;
    expect(count('add', 'ok')).toBe(1);
    expect(count('get', 'ok')).toBe(1);
    expect(count('getSize', 'ok')).toBe(1);
    expect(count('getSize', 'error')).toBe(1);
    expect(count('delete', 'ok')).toBe(1);

    const byteCounts = await points(METRIC_NAMES.bytes);
    const bytesOf = (operation: string) =>
      byteCounts.find((p) => p.attributes['store.operation'] === operation)?.value;
    expect(bytesOf('add')).toBe(size);
    expect(bytesOf('get')).toBe(size);

    const errors = await points(METRIC_NAMES.errors);
    expect(errors.map((p) => [p.attributes, p.value])).toEqual([
      [
        {
          'store.operation': 'getSize',
          'store.backend': 'fast',
          'store.driver': 'file',
          'store.error_code': 'NotFound',
        },
        1,
      ],
    ]);

    const latency = await points(METRIC_NAMES.duration);
    const addLatency = latency.find((p) => p.attributes['store.operation'] === 'add')!
      .value as Histogram;
    expect(addLatency.count).toBe(1);
    expect(addLatency.sum).toBeGreaterThan(0);
  });

  it("makes a copy's get and add children of the copy's span", async () => {
    const size = 50_000;
    const added = await store.add('to-copy', Buffer.alloc(size, 5), size);
    spans.reset();
    const copied = await store.copy(added.location, { to: 'slow', imageId: 'copy' });
    const [copy] = spanNamed('store.copy');
    expect(copy!.attributes).toMatchObject({ 'store.backend': 'slow', 'store.bytes': size });
    const children = spans
      .getFinishedSpans()
      .filter((s) => s.parentSpanContext?.spanId === copy!.spanContext().spanId)
      .map((s) => s.name)
      .sort();
    expect(children).toEqual(['store.add', 'store.get', 'store.get']);
    await store.delete(copied.location, { backend: 'slow' });
    await store.delete(added.location, { backend: 'fast' });
  });

  it('reports nothing once disabled', async () => {
    instrumentation.disable();
    instrumentation.disable();
    const added = await store.add('quiet', Buffer.alloc(10, 1), 10);
    await store.delete(added.location);
    expect(spans.getFinishedSpans()).toEqual([]);
    expect(await points(METRIC_NAMES.operations)).toEqual([]);
  });

  it('counts the manager retries on the span and in store.retries', async () => {
    // The one test double: a memory backend whose getSize fails when told, with
    // the transient error a driver raises for a service that did not answer.
    let failures = 0;
    const flaky = defineDriver({
      ...memoryDriver,
      type: 'flaky',
      create: async (context) => {
        const inner = (await memoryDriver.create(context)) as Driver;
        return new Proxy(inner, {
          get(target, name) {
            if (name === 'getSize')
              return (...args: Parameters<Driver['getSize']>) => {
                if (failures-- > 0) throw new RemoteServiceUnavailable('injected: no answer');
                return target.getSize(...args);
              };
            const value = Reflect.get(target, name, target);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        });
      },
    });
    const retrying = await MultiStore.create(
      {
        enabledBackends: { mem: 'flaky' },
        defaultBackend: 'mem',
        backends: { mem: { store_retry_attempts: 3, store_retry_delay: 0.001 } },
      },
      { drivers: [flaky] },
    );
    try {
      const added = await retrying.add('retried', Buffer.alloc(10, 2), 10);
      failures = 2;
      expect(await retrying.getSize(added.location)).toBe(10);
      expect(await retrying.getSize(added.location)).toBe(10);
      const [first, second] = spanNamed('store.getSize');
      expect(first!.attributes['store.retries']).toBe(2);
      expect(second!.attributes['store.retries']).toBeUndefined();
      const counted = await points(METRIC_NAMES.retries);
      expect(counted.map((p) => [p.attributes['store.backend'], p.value])).toEqual([['mem', 2]]);
    } finally {
      await retrying.close();
    }
  });
});

describe('instrumentStore with stores: the bounds as gauges', () => {
  it('exports places running and queued, buffer memory and its limit, until disabled', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otel-limits-'));
    const bounded = await MultiStore.create(
      {
        enabledBackends: { local: 'file' },
        defaultBackend: 'local',
        backends: { local: { filesystem_store_datadir: dir } },
      },
      { drivers: [fileDriver], limits: { concurrentGets: 1, bufferMemory: 32 << 20 } },
    );
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    const instrumentation = instrumentStore({ meterProvider, stores: { images: bounded } });
    const gauge = async (name: string) => {
      await reader.forceFlush();
      const metric = exporter
        .getMetrics()
        .at(-1)
        ?.scopeMetrics.flatMap((scope) => scope.metrics)
        .find((m) => m.descriptor.name === name);
      return (metric?.dataPoints ?? []).map((p) => ({ ...p.attributes, value: p.value }));
    };
    try {
      const added = await bounded.add('gauged', Buffer.alloc(4096, 3), 4096);
      const open = await bounded.get(added.location);
      const waiting = bounded.get(added.location);
      await new Promise((resolve) => setImmediate(resolve));
      expect(await gauge(METRIC_NAMES.active)).toEqual([
        { 'store.name': 'images', 'store.operation': 'add', value: 0 },
        { 'store.name': 'images', 'store.operation': 'get', value: 1 },
      ]);
      expect(await gauge(METRIC_NAMES.queued)).toContainEqual({
        'store.name': 'images',
        'store.operation': 'get',
        value: 1,
      });
      expect(await gauge(METRIC_NAMES.memoryLimit)).toEqual([
        { 'store.name': 'images', value: 32 << 20 },
      ]);
      expect(await gauge(METRIC_NAMES.memoryUsed)).toHaveLength(2);
      open.stream.destroy();
      (await waiting).stream.destroy();
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(await gauge(METRIC_NAMES.active)).toContainEqual({
        'store.name': 'images',
        'store.operation': 'get',
        value: 0,
      });
      instrumentation.disable();
      // No longer observed: a get opened now does not show.
      const unseen = await bounded.get(added.location);
      expect(await gauge(METRIC_NAMES.active)).not.toContainEqual({
        'store.name': 'images',
        'store.operation': 'get',
        value: 1,
      });
      unseen.stream.destroy();
    } finally {
      instrumentation.disable();
      await meterProvider.shutdown();
      await bounded.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
