// How long @store/rbd holds the event loop: the loop's delay (perf_hooks'
// monitorEventLoopDelay) while a random image is added and read back, against the Ceph
// cluster of tools/services, one row a run. librbd's calls run off the loop (aio writes,
// reads on the thread pool); one that blocked it would show as a whole write's time.
// The rbd test suite checks the bytes; this is the responsiveness.
//   node tools/bench/rbd-loop.mjs [--size-mib 256] [--runs 3]
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { MultiStore } from '@store/core';
import rbdDriver from '@store/rbd';
import { fmt, MiB, needService, rowArgs, table } from './measure.mjs';

const { sizeMiB, runs } = rowArgs(3, {});
const env = await needService('ceph (rbd)', [
  'STORE_TEST_CEPH_CONF',
  'STORE_TEST_CEPH_USER',
  'STORE_TEST_RBD_POOL',
]);
const store = await MultiStore.create(
  {
    enabledBackends: { ceph: 'rbd' },
    defaultBackend: 'ceph',
    backends: {
      ceph: {
        rbd_store_ceph_conf: env.STORE_TEST_CEPH_CONF,
        rbd_store_user: env.STORE_TEST_CEPH_USER,
        rbd_store_pool: env.STORE_TEST_RBD_POOL,
      },
    },
  },
  { drivers: [rbdDriver] },
);
const block = randomBytes(MiB);
async function* source() {
  for (let i = 0; i < sizeMiB; i++) yield block;
}
const ms = (ns) => fmt(ns / 1e6, 1);

/** Runs `fn` and returns the event loop's delay meanwhile, sampled every 10 ms. */
async function loopDelay(fn) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  try {
    await fn();
  } finally {
    delay.disable();
  }
  return [ms(delay.percentile(50)), ms(delay.percentile(99)), ms(delay.max)];
}

const rows = [];
try {
  for (let run = 1; run <= runs; run++) {
    let added;
    const imageId = `store-bench-loop-${process.pid}-${run}`;
    try {
      rows.push([
        String(run),
        'add',
        ...(await loopDelay(async () => {
          added = await store.add(imageId, source(), sizeMiB * MiB);
        })),
      ]);
      rows.push([
        String(run),
        'get',
        ...(await loopDelay(async () => {
          for await (const _ of (await store.get(added.location)).stream);
        })),
      ]);
    } finally {
      if (added) await store.delete(added.location);
    }
  }
} finally {
  await store.close();
}
console.log(`${sizeMiB} MiB image; event-loop delay sampled every 10 ms (the 10 ms included)`);
console.log(table(['run', 'operation', 'p50 ms', 'p99 ms', 'max ms'], rows));
