// What the operation tracing channels cost (issue 19, item 1): small operations on a
// file backend (tmpfs) with no subscriber and with a subscriber on every channel
// (handlers that do nothing, so what is timed is building and publishing the events).
// The modes alternate within each run, so load that drifts hits both alike. Wall time
// and this process's CPU time (user + system, libuv's threads included) are shown: on
// a shared, loaded machine the CPU time swings less.
//   node tools/bench/tracing.mjs [--runs 7] [--sizes 20000] [--cycles 2000]
import diagnosticsChannel from 'node:diagnostics_channel';
import { rm } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
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
const cpuTimes = {};
for (const row of Object.keys(rows)) {
  for (const mode of Object.keys(modes)) {
    times[`${row}|${mode}`] = [];
    cpuTimes[`${row}|${mode}`] = [];
  }
}
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
      const cpu = process.cpuUsage();
      const start = performance.now();
      await run();
      times[`${row}|${name}`].push(performance.now() - start);
      const used = process.cpuUsage(cpu);
      cpuTimes[`${row}|${name}`].push((used.user + used.system) / 1000);
      mode.after();
    }
  }
}
await store.delete(location);
await store.close();
await rm(work, { recursive: true, force: true });

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const medianOf = (xs) => sorted(xs)[Math.floor(xs.length / 2)];
const spread = (xs) =>
  `${fmt(sorted(xs)[0], 0)} / ${fmt(medianOf(xs), 0)} / ${fmt(sorted(xs).at(-1), 0)}`;
const out = [];
for (const row of Object.keys(rows)) {
  const wallNone = medianOf(times[`${row}|no subscriber`]);
  const cpuNone = medianOf(cpuTimes[`${row}|no subscriber`]);
  for (const mode of Object.keys(modes)) {
    const wall = medianOf(times[`${row}|${mode}`]);
    const cpu = medianOf(cpuTimes[`${row}|${mode}`]);
    const versus = (m, none) =>
      mode === 'no subscriber' ? '' : `${fmt(((m - none) / none) * 100, 1)} %`;
    out.push([
      row,
      mode,
      spread(times[`${row}|${mode}`]),
      fmt((wall * 1000) / opsOf[row], 1),
      versus(wall, wallNone),
      spread(cpuTimes[`${row}|${mode}`]),
      fmt((cpu * 1000) / opsOf[row], 1),
      versus(cpu, cpuNone),
    ]);
  }
}
console.log(
  `node ${process.version}, ${runs} runs per cell, modes alternating; 1-min load average at start ${fmt(load)} on ${cpus().length} cores (shared machine); ${published} events published while subscribed`,
);
console.log(
  table(
    [
      'operations',
      'mode',
      'wall ms min / median / max',
      'wall µs/op',
      'vs none',
      'CPU ms min / median / max',
      'CPU µs/op',
      'vs none',
    ],
    out,
  ),
);
