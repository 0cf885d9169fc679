/**
 * FsDeadline's bookkeeping on its own, with calls that settle when the test says
 * (the real hang is test/timeout.test.ts): the cap on calls in flight, refusal
 * while a call is stuck, results of late calls handed to `late`, and clean-up
 * deferred until the stuck calls return.
 */
import { describe, expect, it } from 'vitest';
import { FsDeadline } from '../src/fs-deadline.js';

/** A call that returns when `finish` is called. */
function pending<T>() {
  let finish!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    finish = resolve;
  });
  return { promise, finish };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'ok',
    (err: { code?: string }) => err.code ?? 'error',
  );
}

describe('FsDeadline', () => {
  it('with no timeout, runs calls as they come', async () => {
    const calls = new FsDeadline('b', 0, 1);
    const results = await Promise.all([1, 2, 3].map((n) => calls.run('x', async () => n)));
    expect(results).toEqual([1, 2, 3]);
  });

  it('keeps at most maxInFlight calls running; the others start as slots free', async () => {
    const calls = new FsDeadline('b', 60_000, 2);
    const first = pending<number>();
    const second = pending<number>();
    let thirdStarted = false;
    const a = calls.run('a', () => first.promise);
    const b = calls.run('b', () => second.promise);
    const c = calls.run('c', async () => {
      thirdStarted = true;
      return 3;
    });
    await Promise.resolve();
    expect(thirdStarted).toBe(false);
    first.finish(1);
    expect(await a).toBe(1);
    expect(await c).toBe(3);
    second.finish(2);
    expect(await b).toBe(2);
  });

  it('a stuck call fails its caller, refuses queued and new calls, defers clean-up, and hands its late result over', async () => {
    const calls = new FsDeadline('b', 20, 1);
    const hung = pending<string>();
    const late: string[] = [];
    const stuck = calls.run(
      'open of /x',
      () => hung.promise,
      (value) => late.push(value),
    );
    const queued = calls.run('stat of /y', async () => 'y');
    expect(await codeOf(stuck)).toBe('RemoteServiceUnavailable');
    expect(await codeOf(queued)).toBe('RemoteServiceUnavailable');
    expect(calls.stuck).toBe(1);
    const refused = calls.run('unlink of /z', async () => 'z');
    await expect(refused).rejects.toThrow(/not attempted: an earlier call \(open of \/x\)/);

    let cleaned = false;
    await calls.cleanup(async () => {
      cleaned = true;
    });
    expect(cleaned).toBe(false);

    hung.finish('handle');
    await new Promise((resolve) => setImmediate(resolve));
    expect(late).toEqual(['handle']);
    expect(cleaned).toBe(true);
    expect(calls.stuck).toBe(0);
    expect(await calls.run('stat of /y', async () => 'y')).toBe('y');
  });
});
