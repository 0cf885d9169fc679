// Memory held by readers that stalled: N file gets of one image, each read for
// one chunk and then left unread, as a service whose clients stopped reading.
// Prints the memory before and after, and per stalled reader (issue 15, item 6).
//   node --expose-gc tools/bench/stalled-readers.mjs [--readers 200] [--size-mib 64]
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MultiStore } from '@store/core';
import fileDriver from '@store/file';
import { benchDir, fmt, MiB, makeSourceFile, table } from './measure.mjs';

const { values } = parseArgs({
  options: {
    readers: { type: 'string', default: '200' },
    'size-mib': { type: 'string', default: '64' },
  },
});
const readers = Number(values.readers);
const sizeMiB = Number(values['size-mib']);

const settle = async () => {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    globalThis.gc?.();
  }
};
const memory = () => {
  const { rss, external, arrayBuffers } = process.memoryUsage();
  return { rss, external, arrayBuffers };
};

const work = await benchDir('stalled');
const datadir = join(work, 'images');
const store = await MultiStore.create(
  {
    enabledBackends: { local: 'file' },
    defaultBackend: 'local',
    backends: { local: { filesystem_store_datadir: datadir } },
  },
  { drivers: [fileDriver] },
);
const streams = [];
try {
  const source = makeSourceFile(work, sizeMiB);
  const { createReadStream } = await import('node:fs');
  const { location } = await store.add('image', createReadStream(source), sizeMiB * MiB);
  await settle();
  const before = memory();
  for (let i = 0; i < readers; i++) {
    const { stream } = await store.get(location);
    const reader = stream[Symbol.asyncIterator]();
    if ((await reader.next()).done) throw new Error('the image ended at once');
    // Held, never read again: whatever the get reads ahead stays with it.
    streams.push(stream);
  }
  await settle();
  const after = memory();
  const row = (name, key) => [
    name,
    fmt(before[key] / MiB, 1),
    fmt(after[key] / MiB, 1),
    fmt((after[key] - before[key]) / MiB / readers, 2),
  ];
  console.log(
    `${readers} stalled readers of a ${sizeMiB} MiB image (${new Date().toISOString().slice(0, 10)})`,
  );
  console.log(
    table(
      ['memory', 'before (MiB)', `with ${readers} stalled (MiB)`, 'per reader (MiB)'],
      [row('RSS', 'rss'), row('external', 'external'), row('array buffers', 'arrayBuffers')],
    ),
  );
  if (!globalThis.gc) console.log('(run with --expose-gc for steadier figures)');
} finally {
  for (const stream of streams) stream.destroy();
  await store.close();
  await rm(work, { recursive: true, force: true });
}
