/**
 * Counts the HTTP requests this process sends to one server, each try of a
 * retried call included, from `node:http`'s diagnostics channel (the AWS and
 * Azure SDKs and the swift and http drivers all send through `node:http`). A
 * test asserts with it how many tries a call made (bounded retries), where a
 * timed assertion would only guess at them from the wall clock.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';

/** A running count, from {@link countRequests}. */
export interface RequestCounter {
  /** Requests sent to the server since the counter started (refused connections included). */
  readonly count: number;
  /** Stops counting. */
  close(): void;
}

/**
 * Starts counting the requests whose `Host` is `host:port` (default host
 * 127.0.0.1). A request counts when it starts, before its connection is made, so
 * tries against a port nothing listens on count too.
 */
export function countRequests(target: { host?: string; port: number }): RequestCounter {
  const want = `${target.host ?? '127.0.0.1'}:${target.port}`;
  let count = 0;
  const onStart = (message: unknown) => {
    const { request } = message as { request: ClientRequest };
    if (String(request.getHeader('host')) === want) count++;
  };
  diagnosticsChannel.subscribe('http.client.request.start', onStart);
  return {
    get count() {
      return count;
    },
    close: () => {
      diagnosticsChannel.unsubscribe('http.client.request.start', onStart);
    },
  };
}
