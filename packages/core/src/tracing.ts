/**
 * Every {@link MultiStore} operation published on a `node:diagnostics_channel`
 * TracingChannel, so tracing and metrics (see `@store/otel`) need no dependency of
 * core. Nothing is built or published while no one subscribes: the manager checks
 * {@link isTraced} first and takes its plain path.
 */
import diagnosticsChannel, { type Channel, type TracingChannel } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';

/** The traced operations: the public data calls of {@link MultiStore}. */
export type StoreOperation = 'add' | 'get' | 'getSize' | 'delete' | 'copy' | 'setAcls';

/** Every traced operation, in a stable order. */
export const STORE_OPERATIONS: readonly StoreOperation[] = Object.freeze([
  'add',
  'get',
  'getSize',
  'delete',
  'copy',
  'setAcls',
]);

/**
 * The context object of one traced operation: the same object is published on
 * every event of the operation (and, for a get, on {@link GET_STREAM_CLOSE_CHANNEL}),
 * so subscribers can correlate by identity (a WeakMap). Fields are filled as they
 * become known. Locations are masked (URI userinfo, signed-URL credentials and every
 * secret option value); errors are the typed, masked errors the caller receives.
 * Unlike Node's own `tracePromise`, no `result` is attached: a result holds an
 * unmasked location (add) or the image stream (get).
 */
export interface StoreOperationEvent {
  readonly operation: StoreOperation;
  /**
   * The backend id: the one asked for (add's default backend, copy's target), or
   * the only backend handling the location's scheme; the one that served once known.
   * Undefined when several backends were searched and none served.
   */
  backend: string | undefined;
  /** The backend's driver type (`file`, `s3`, …) when `backend` is known. */
  driver: string | undefined;
  /**
   * The location, masked: the one given (get, getSize, delete, setAcls, copy's
   * source) or, for add, the one stored (known at the end).
   */
  location: string | undefined;
  /** The image id (add, copy). */
  imageId?: string;
  /**
   * Bytes moved: add and copy, bytes stored (at asyncEnd); get, bytes read from the
   * backend, set when the stream closes (see {@link GET_STREAM_CLOSE_CHANNEL}).
   */
  bytes: number | undefined;
  /** The image size reported: getSize's answer, the size a get's stream announces. */
  size: number | undefined;
  /** `performance.now()` when the operation started. */
  readonly startTime: number;
  /**
   * Milliseconds from start to the operation settling; for a get, updated to the
   * time until its stream closed when {@link GET_STREAM_CLOSE_CHANNEL} publishes.
   */
  durationMs: number | undefined;
  /** The error's code (a `StoreErrorCode`) when the operation or a get's stream failed. */
  errorCode: string | undefined;
  /** The typed, masked error the caller received. */
  error?: unknown;
  /** Get only, at stream close: whether the stream was read to its end. */
  complete?: boolean;
  /**
   * Times the manager repeated the operation after a transient failure (getSize,
   * delete, and a get before its stream is out; see retry.ts); absent when none.
   */
  retries?: number;
}

/** The TracingChannel name of an operation: `@store/core.MultiStore.<operation>`. */
export function storeChannelName(operation: StoreOperation): string {
  return `@store/core.MultiStore.${operation}`;
}

/**
 * A plain channel on which a get's event is published once more when its stream
 * closes (read to the end, failed or destroyed), with `bytes`, `complete`,
 * `durationMs` and, if the stream failed, `error` and `errorCode` set. A stream that
 * is never read nor destroyed never closes, so this is not published for it.
 */
export const GET_STREAM_CLOSE_CHANNEL = '@store/core.MultiStore.get.streamClose';

type OperationChannel = TracingChannel<StoreOperationEvent, StoreOperationEvent>;

function operationChannel(operation: StoreOperation): OperationChannel {
  return diagnosticsChannel.tracingChannel(storeChannelName(operation)) as OperationChannel;
}

/**
 * The channels, held here for the life of the process: Node looks channels up by
 * name, so a subscriber that names them (or uses these) reaches the same ones from
 * any copy of core.
 */
export const storeChannels: Readonly<Record<StoreOperation, OperationChannel>> & {
  readonly getStreamClose: Channel;
} = Object.freeze({
  add: operationChannel('add'),
  get: operationChannel('get'),
  getSize: operationChannel('getSize'),
  delete: operationChannel('delete'),
  copy: operationChannel('copy'),
  setAcls: operationChannel('setAcls'),
  getStreamClose: diagnosticsChannel.channel(GET_STREAM_CLOSE_CHANNEL),
});

/**
 * Whether anyone listens to `operation` (TracingChannel#hasSubscribers is Node
 * 20.13+; this reads each channel, as engines allow Node 20.0).
 */
export function isTraced(operation: StoreOperation): boolean {
  const c = storeChannels[operation];
  return (
    c.start.hasSubscribers ||
    c.end.hasSubscribers ||
    c.asyncStart.hasSubscribers ||
    c.asyncEnd.hasSubscribers ||
    c.error.hasSubscribers ||
    (operation === 'get' && storeChannels.getStreamClose.hasSubscribers)
  );
}

/** A new event for `operation`; call only when {@link isTraced}. */
export function operationEvent(
  operation: StoreOperation,
  fields: { backend?: string; driver?: string; location?: string; imageId?: string },
): StoreOperationEvent {
  return {
    operation,
    backend: fields.backend,
    driver: fields.driver,
    location: fields.location,
    ...(fields.imageId !== undefined ? { imageId: fields.imageId } : {}),
    bytes: undefined,
    size: undefined,
    startTime: performance.now(),
    durationMs: undefined,
    errorCode: undefined,
  };
}

function errorCodeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function failed(event: StoreOperationEvent, err: unknown): void {
  event.durationMs = performance.now() - event.startTime;
  event.error = err;
  event.errorCode = errorCodeOf(err);
}

/**
 * Runs `run` as `event`'s operation, publishing as Node's `tracePromise` does:
 * start and end around the call (the start channel's bound stores active during
 * it), then on success asyncStart and asyncEnd after `onResult` filled the event,
 * on failure error, asyncStart and asyncEnd.
 */
export function traceOperation<T>(
  event: StoreOperationEvent,
  run: () => Promise<T>,
  onResult?: (result: T) => void,
): Promise<T> {
  const c = storeChannels[event.operation];
  return c.start.runStores(event, () => {
    let pending: Promise<T>;
    try {
      pending = run();
    } catch (err) {
      failed(event, err);
      c.error.publish(event);
      c.end.publish(event);
      throw err;
    }
    c.end.publish(event);
    return pending.then(
      (result) => {
        event.durationMs = performance.now() - event.startTime;
        onResult?.(result);
        c.asyncStart.publish(event);
        c.asyncEnd.publish(event);
        return result;
      },
      (err: unknown) => {
        failed(event, err);
        c.error.publish(event);
        c.asyncStart.publish(event);
        c.asyncEnd.publish(event);
        throw err;
      },
    );
  });
}

/**
 * Publishes a get's event on {@link GET_STREAM_CLOSE_CHANNEL} when its stream
 * closes, with what `bytesRead` reports then.
 */
export function traceGetStream(
  event: StoreOperationEvent,
  stream: Readable,
  bytesRead: () => number | undefined,
): void {
  stream.once('close', () => {
    event.bytes = bytesRead();
    event.complete = stream.readableEnded;
    event.durationMs = performance.now() - event.startTime;
    if (stream.errored) {
      event.error = stream.errored;
      event.errorCode = errorCodeOf(stream.errored);
    }
    storeChannels.getStreamClose.publish(event);
  });
}
