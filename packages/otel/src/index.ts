/**
 * @store/otel: OpenTelemetry spans and metrics for every @store operation, made
 * from the `node:diagnostics_channel` tracing channels @store/core publishes on
 * (see core's `storeChannels`). Core depends on nothing of this; an app that never
 * calls {@link instrumentStore} pays nothing.
 *
 * @packageDocumentation
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';
import {
  type Attributes,
  type BatchObservableResult,
  type Context,
  context,
  type Meter,
  type MeterProvider,
  metrics,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import {
  GET_STREAM_CLOSE_CHANNEL,
  type LimitStats,
  STORE_OPERATIONS,
  type StoreOperationEvent,
  storeChannelName,
} from '@store/core';

/** The instrumentation scope name of the tracer and meter. */
export const INSTRUMENTATION_NAME = '@store/otel';

/** The metric names @store/otel records. */
export const METRIC_NAMES = Object.freeze({
  /** Counter: operations finished, by operation, backend, driver and outcome (`ok`/`error`). */
  operations: 'store.operations',
  /** Counter, bytes: bytes stored by add and read by get, by operation, backend and driver. */
  bytes: 'store.bytes',
  /** Histogram, seconds: operation duration (a get's until its stream closed). */
  duration: 'store.operation.duration',
  /** Counter: failed operations, by operation, backend, driver and error code. */
  errors: 'store.errors',
  /**
   * Counter: the manager's retries after transient failures (getSize, delete, a get
   * before its stream), by operation, backend and driver.
   */
  retries: 'store.retries',
  /** Gauge: adds and gets running (a get until its stream closed), by `store.name` and operation. */
  active: 'store.operations.active',
  /** Gauge: adds and gets waiting for a place under their limit, by `store.name` and operation. */
  queued: 'store.operations.queued',
  /** Gauge, bytes: buffer memory held, by `store.name` and `store.memory.use` (`add`, `read_ahead`). */
  memoryUsed: 'store.buffer_memory.used',
  /** Gauge: adds waiting for buffer memory, by `store.name`. */
  memoryQueued: 'store.buffer_memory.queued',
  /** Gauge, bytes: the configured buffer-memory limit (only when one is set), by `store.name`. */
  memoryLimit: 'store.buffer_memory.limit',
});

/** What {@link InstrumentStoreOptions.stores} reads: a MultiStore, or anything with its `stats()`. */
export interface StoreStatsSource {
  stats(): LimitStats;
}

/** Options of {@link instrumentStore}. */
export interface InstrumentStoreOptions {
  /** Where spans go; the global tracer provider when omitted. */
  readonly tracerProvider?: TracerProvider;
  /** Where metrics go; the global meter provider when omitted. */
  readonly meterProvider?: MeterProvider;
  /**
   * Stores whose bounds (MultiStore `limits`: places in use and queued, buffer
   * memory) are exported as the gauges of {@link METRIC_NAMES} (`active`,
   * `queued`, `memoryUsed`, `memoryQueued`, `memoryLimit`), keyed by a name of
   * your choice, the `store.name` attribute. Read when the metrics are collected.
   */
  readonly stores?: Readonly<Record<string, StoreStatsSource>>;
}

/** What {@link instrumentStore} returns. */
export interface StoreInstrumentation {
  /**
   * Stops listening: operations that start later are not reported, nor the end of
   * those under way (their spans are not ended). Calling it twice is a no-op.
   */
  disable(): void;
}

interface InFlight {
  readonly span: Span;
  readonly spanContext: Context;
  finished: boolean;
}

/** Metric attributes: low cardinality only (no locations, no image ids). */
function metricAttributes(event: StoreOperationEvent): Attributes {
  const attributes: Attributes = { 'store.operation': event.operation };
  if (event.backend !== undefined) attributes['store.backend'] = event.backend;
  if (event.driver !== undefined) attributes['store.driver'] = event.driver;
  return attributes;
}

function spanAttributes(event: StoreOperationEvent): Attributes {
  const attributes = metricAttributes(event);
  if (event.location !== undefined) attributes['store.location'] = event.location;
  if (event.imageId !== undefined) attributes['store.image_id'] = event.imageId;
  if (event.bytes !== undefined) attributes['store.bytes'] = event.bytes;
  if (event.size !== undefined) attributes['store.size'] = event.size;
  if (event.errorCode !== undefined) attributes['store.error_code'] = event.errorCode;
  if (event.complete !== undefined) attributes['store.complete'] = event.complete;
  if (event.retries !== undefined) attributes['store.retries'] = event.retries;
  return attributes;
}

/**
 * Turns every @store operation into a span (`store.<operation>`, kind INTERNAL, a
 * child of the caller's active span or of the operation that made it: a copy's get
 * and add are children of the copy) and into the metrics named in
 * {@link METRIC_NAMES}. A get's span ends when its stream closes, so it covers the
 * bytes read; a get whose stream is never read nor destroyed leaves its span open.
 *
 * Span attributes: `store.operation`, `store.backend`, `store.driver`,
 * `store.location` (credentials masked by core), `store.image_id`, `store.bytes`,
 * `store.size`, `store.error_code`, `store.complete` (get), `store.retries` (when the
 * manager repeated the operation); a failure sets the
 * status to ERROR with the error code as its message and records the (masked) error.
 */
export function instrumentStore(options: InstrumentStoreOptions = {}): StoreInstrumentation {
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(
    INSTRUMENTATION_NAME,
  );
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(
    INSTRUMENTATION_NAME,
  );
  const operations = meter.createCounter(METRIC_NAMES.operations, {
    description: '@store operations finished',
    unit: '{operation}',
  });
  const bytes = meter.createCounter(METRIC_NAMES.bytes, {
    description: 'Bytes stored by add and read by get',
    unit: 'By',
  });
  const duration = meter.createHistogram(METRIC_NAMES.duration, {
    description: 'Duration of @store operations (a get until its stream closed)',
    unit: 's',
  });
  const errors = meter.createCounter(METRIC_NAMES.errors, {
    description: 'Failed @store operations',
    unit: '{error}',
  });
  const retries = meter.createCounter(METRIC_NAMES.retries, {
    description: 'Retries of @store operations after transient failures',
    unit: '{retry}',
  });

  const observeStores = gaugeStores(meter, options.stores ?? {});

  const inFlight = new WeakMap<StoreOperationEvent, InFlight>();
  const parents = new WeakMap<StoreOperationEvent, StoreOperationEvent>();
  // The operation running where another one starts (a copy's get): its span is the parent.
  const current = new AsyncLocalStorage<StoreOperationEvent>();

  const finish = (event: StoreOperationEvent) => {
    const flight = inFlight.get(event);
    if (!flight || flight.finished) return;
    flight.finished = true;
    const { span } = flight;
    span.setAttributes(spanAttributes(event));
    const attributes = metricAttributes(event);
    if (event.errorCode !== undefined || event.error !== undefined) {
      const code = event.errorCode ?? 'Error';
      span.setStatus({ code: SpanStatusCode.ERROR, message: code });
      if (event.error instanceof Error) span.recordException(event.error);
      errors.add(1, { ...attributes, 'store.error_code': code });
      operations.add(1, { ...attributes, 'store.outcome': 'error' });
    } else {
      operations.add(1, { ...attributes, 'store.outcome': 'ok' });
    }
    // A copy's bytes are counted by the get and add it is made of.
    if (event.bytes !== undefined && event.operation !== 'copy') bytes.add(event.bytes, attributes);
    if (event.durationMs !== undefined) duration.record(event.durationMs / 1000, attributes);
    if (event.retries) retries.add(event.retries, attributes);
    span.end();
  };

  const onStart = (message: unknown) => {
    const event = message as StoreOperationEvent;
    const parent = parents.get(event);
    const parentContext = (parent && inFlight.get(parent)?.spanContext) ?? context.active();
    const span = tracer.startSpan(
      `store.${event.operation}`,
      { kind: SpanKind.INTERNAL, attributes: spanAttributes(event) },
      parentContext,
    );
    inFlight.set(event, {
      span,
      spanContext: trace.setSpan(parentContext, span),
      finished: false,
    });
  };
  // A synchronous throw ends the operation at `end` (no asyncEnd follows).
  const onEnd = (message: unknown) => {
    const event = message as StoreOperationEvent;
    if (event.error !== undefined) finish(event);
  };
  const onAsyncEnd = (message: unknown) => {
    const event = message as StoreOperationEvent;
    // An opened get ends with its stream.
    if (event.operation === 'get' && event.error === undefined) return;
    finish(event);
  };
  const onStreamClose = (message: unknown) => finish(message as StoreOperationEvent);

  const handlers: [string, (message: unknown) => void][] = [];
  for (const operation of STORE_OPERATIONS) {
    const name = storeChannelName(operation);
    handlers.push(
      [`tracing:${name}:start`, onStart],
      [`tracing:${name}:end`, onEnd],
      [`tracing:${name}:asyncEnd`, onAsyncEnd],
    );
  }
  handlers.push([GET_STREAM_CLOSE_CHANNEL, onStreamClose]);
  const starts = STORE_OPERATIONS.map((operation) =>
    diagnosticsChannel.channel(`tracing:${storeChannelName(operation)}:start`),
  );
  for (const start of starts) {
    start.bindStore(current, (message) => {
      const event = message as StoreOperationEvent;
      const parent = current.getStore();
      if (parent) parents.set(event, parent);
      return event;
    });
  }
  for (const [name, handler] of handlers) diagnosticsChannel.subscribe(name, handler);

  let enabled = true;
  return {
    disable() {
      if (!enabled) return;
      enabled = false;
      for (const [name, handler] of handlers) diagnosticsChannel.unsubscribe(name, handler);
      for (const start of starts) start.unbindStore(current);
      observeStores.remove();
    },
  };
}

/** The gauges of `stores`' bounds; `remove` stops observing them. */
function gaugeStores(
  meter: Meter,
  stores: Readonly<Record<string, StoreStatsSource>>,
): { remove(): void } {
  const entries = Object.entries(stores);
  if (entries.length === 0) return { remove: () => undefined };
  const active = meter.createObservableGauge(METRIC_NAMES.active, {
    description: 'Adds and gets running (a get until its stream closed)',
    unit: '{operation}',
  });
  const queued = meter.createObservableGauge(METRIC_NAMES.queued, {
    description: 'Adds and gets waiting for a place under their limit',
    unit: '{operation}',
  });
  const memoryUsed = meter.createObservableGauge(METRIC_NAMES.memoryUsed, {
    description: 'Buffer memory held by adds and reads ahead',
    unit: 'By',
  });
  const memoryQueued = meter.createObservableGauge(METRIC_NAMES.memoryQueued, {
    description: 'Adds waiting for buffer memory',
    unit: '{operation}',
  });
  const memoryLimit = meter.createObservableGauge(METRIC_NAMES.memoryLimit, {
    description: 'The configured buffer-memory limit',
    unit: 'By',
  });
  const observe = (result: BatchObservableResult) => {
    for (const [name, source] of entries) {
      const stats = source.stats();
      const store = { 'store.name': name };
      for (const [operation, state] of [
        ['add', stats.adds],
        ['get', stats.gets],
      ] as const) {
        const attributes = { ...store, 'store.operation': operation };
        result.observe(active, state.inUse, attributes);
        result.observe(queued, state.queued, attributes);
      }
      const { memory } = stats;
      result.observe(memoryUsed, memory.inUse - memory.readAhead, {
        ...store,
        'store.memory.use': 'add',
      });
      result.observe(memoryUsed, memory.readAhead, { ...store, 'store.memory.use': 'read_ahead' });
      result.observe(memoryQueued, memory.queued, store);
      if (memory.limit !== undefined) result.observe(memoryLimit, memory.limit, store);
    }
  };
  const observables = [active, queued, memoryUsed, memoryQueued, memoryLimit];
  meter.addBatchObservableCallback(observe, observables);
  return { remove: () => meter.removeBatchObservableCallback(observe, observables) };
}
