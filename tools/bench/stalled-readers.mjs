// Memory held by readers that stalled: N file gets of one image, each read for
// one chunk and then left unread, as a service whose clients stopped reading.
// Prints the memory before and after, and per stalled reader (issue 15, item 6).
// With --pipe-to each get is sent by GetResult.pipeTo to a writable that never calls
// back a write after its fourth, as a response whose client stopped reading.
//   node --expose-gc tools/bench/stalled-readers.mjs [--readers 200] [--size-mib 64] [--pipe-to]
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
    'pipe-to': { type: 'boolean', default: false },
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
  const { Writable } = await import('node:stream');
  for (let i = 0; i < readers; i++) {
    const got = await store.get(location);
    const { stream } = got;
    if (values['pipe-to']) {
      let writes = 0;
      const stalled = new Writable({
        write: (_chunk, _encoding, callback) => {
          // A slow start, then nothing: the client stopped reading.
          if (++writes <= 4) setTimeout(callback, 1);
        },
      });
      got.pipeTo(stalled).catch(() => undefined);
      while (writes < 5) await new Promise((resolve) => setTimeout(resolve, 1));
      streams.push(stream);
      continue;
    }
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
    `${readers} stalled ${values['pipe-to'] ? 'pipeTo gets' : 'readers'} of a ${sizeMiB} MiB image (${new Date().toISOString().slice(0, 10)})`,
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
