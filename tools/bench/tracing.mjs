// What the operation tracing channels cost (issue 19, item 1): small operations on a
// file backend (tmpfs) with no subscriber and with a subscriber on every channel
// (handlers that do nothing, so what is timed is building and publishing the events).
// The modes alternate within each run, so load that drifts hits both alike.
//   node tools/bench/tracing.mjs [--runs 7] [--sizes 20000] [--cycles 2000]
import diagnosticsChannel from 'node:diagnostics_channel';
import { rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  GET_STREAM_CLOSE_CHANNEL,
  MultiStore,
  STORE_OPERATIONS,
  storeChannelName,
} from '@store/core';
import fileDriver from '@store/file';
import { benchDir, fmt, table } from './measure.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    sizes: { type: 'string', default: '20000' },
    cycles: { type: 'string', default: '2000' },
  },
});
const runs = Number(values.runs);
const sizes = Number(values.sizes);
const cycles = Number(values.cycles);

const work = await benchDir('tracing');
const store = await MultiStore.create(
  {
    enabledBackends: { local: 'file' },
    defaultBackend: 'local',
    backends: { local: { filesystem_store_datadir: join(work, 'images') } },
  },
  { drivers: [fileDriver] },
);

const names = [
  ...STORE_OPERATIONS.flatMap((op) =>
    ['start', 'end', 'asyncStart', 'asyncEnd', 'error'].map(
      (phase) => `tracing:${storeChannelName(op)}:${phase}`,
    ),
  ),
  GET_STREAM_CLOSE_CHANNEL,
];
let published = 0;
const onEvent = () => {
  published++;
};
const subscribe = () => {
  for (const name of names) diagnosticsChannel.subscribe(name, onEvent);
};
const unsubscribe = () => {
  for (const name of names) diagnosticsChannel.unsubscribe(name, onEvent);
};

const payload = Buffer.alloc(4096, 7);
const { location } = await store.add('bench-size', payload, payload.length);

const rows = {
  [`${sizes} getSize`]: async () => {
    for (let i = 0; i < sizes; i++) await store.getSize(location);
    return sizes;
  },
  [`${cycles} × (add 4 KiB, get read to the end, delete)`]: async () => {
    for (let i = 0; i < cycles; i++) {
      const added = await store.add(`bench-${i}`, payload, payload.length);
      const { stream } = await store.get(added.location);
      for await (const _chunk of stream);
      await store.delete(added.location);
    }
    return cycles * 3;
  },
};

const modes = {
  'no subscriber': { before: () => undefined, after: () => undefined },
  'subscriber on every channel': { before: subscribe, after: unsubscribe },
};

const times = {};
for (const row of Object.keys(rows))
  for (const mode of Object.keys(modes)) times[`${row}|${mode}`] = [];
const opsOf = {};
const load = loadavg()[0];

// One warm-up pass of each row and mode, not timed.
for (const [row, run] of Object.entries(rows)) {
  for (const mode of Object.values(modes)) {
    mode.before();
    opsOf[row] = await run();
    mode.after();
  }
}
for (let r = 0; r < runs; r++) {
  const order = Object.entries(modes);
  if (r % 2) order.reverse();
  for (const [row, run] of Object.entries(rows)) {
    for (const [name, mode] of order) {
      mode.before();
      const start = performance.now();
      await run();
      times[`${row}|${name}`].push(performance.now() - start);
      mode.after();
    }
  }
}
await store.delete(location);
await store.close();
await rm(work, { recursive: true, force: true });

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const out = [];
for (const row of Object.keys(rows)) {
  const baseline = sorted(times[`${row}|no subscriber`])[Math.floor(runs / 2)];
  for (const mode of Object.keys(modes)) {
    const xs = sorted(times[`${row}|${mode}`]);
    const med = xs[Math.floor(runs / 2)];
    out.push([
      row,
      mode,
      fmt(xs[0], 0),
      fmt(med, 0),
      fmt(xs.at(-1), 0),
      fmt((med * 1000) / opsOf[row], 1),
      mode === 'no subscriber' ? '' : `${fmt(((med - baseline) / baseline) * 100, 1)} %`,
    ]);
  }
}
console.log(
  `node ${process.version}, ${runs} runs per cell, modes alternating; 1-min load average at start ${fmt(load)} on ${(await import('node:os')).cpus().length} cores (shared machine); ${published} events published while subscribed`,
);
console.log(
  table(
    ['operations', 'mode', 'min ms', 'median ms', 'max ms', 'median µs/op', 'median vs none'],
    out,
  ),
);
