// What a get's chunk size and read depth cost: 1 GiB read by positional reads, 4 or 8
// in flight (the file driver's readAhead depth), into a new buffer per read or into
// depth + 2 reused ones, at 64 KiB, 256 KiB and 1 MiB. Each case runs in a fresh process;
// prints CPU-seconds (user + sys) and wall time, min / median / max of --runs. The
// choice behind core's FRESH_READ_BYTES (plain get), the 1 MiB reads pipeTo lends and
// the file driver's READ_AHEAD.
//   node tools/bench/get-chunks.mjs [--size-mib 1024] [--runs 3]
//   node tools/bench/get-chunks.mjs --child <file> <bytes> fresh|reused <depth>
import { open, rm } from 'node:fs/promises';
import { benchDir, fmt, makeSourceFile, runNodeChild, table } from './measure.mjs';

if (process.argv[2] === '--child') {
  const [path, sizeArg, mode, depthArg] = process.argv.slice(3);
  const size = Number(sizeArg);
  const DEPTH = Number(depthArg);
  const ring = [];
  let turn = 0;
  const allocate =
    mode === 'reused'
      ? () => (ring[turn++ % (DEPTH + 2)] ??= Buffer.allocUnsafeSlow(size))
      : () => Buffer.allocUnsafeSlow(size);
  const file = await open(path);
  const total = (await file.stat()).size;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const queue = [];
  let next = 0;
  let bytes = 0;
  for (;;) {
    while (queue.length < DEPTH && next < total) {
      const target = allocate();
      queue.push(file.read(target, 0, Math.min(size, total - next), next));
      next += size;
    }
    const head = queue.shift();
    if (!head) break;
    bytes += (await head).bytesRead;
  }
  const used = process.cpuUsage(cpu);
  await file.close();
  console.log(
    JSON.stringify({
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
      cpuSeconds: (used.user + used.system) / 1e6,
      bytes,
    }),
  );
} else {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({
    options: {
      'size-mib': { type: 'string', default: '1024' },
      runs: { type: 'string', default: '3' },
    },
  });
  const runs = Number(values.runs);
  const work = await benchDir('get-chunks');
  try {
    const source = makeSourceFile(work, Number(values['size-mib']));
    const script = new URL(import.meta.url).pathname;
    const cases = [];
    for (const mode of ['fresh', 'reused'])
      for (const size of [64 << 10, 256 << 10, 1 << 20])
        for (const depth of [4, 8]) cases.push({ mode, size, depth, results: [] });
    // Interleaved, so a burst of load on the shared machine hits every case alike.
    for (let i = 0; i < runs; i++) {
      for (const c of cases) {
        const result = await runNodeChild(script, [
          '--child',
          source,
          String(c.size),
          c.mode,
          String(c.depth),
        ]);
        if (result.bytes !== Number(values['size-mib']) * 1024 * 1024)
          throw new Error('short read');
        c.results.push(result);
      }
    }
    const spread = (list) => {
      const sorted = [...list].sort((a, b) => a - b);
      return `${fmt(sorted[0])} / ${fmt(sorted[Math.floor(sorted.length / 2)])} / ${fmt(sorted.at(-1))}`;
    };
    console.log(
      `\n### get chunk size, ${values['size-mib']} MiB (${runs} runs, min / median / max)\n`,
    );
    console.log(
      table(
        ['buffers', 'read size', 'reads in flight', 'CPU s', 'wall s'],
        cases.map((c) => [
          c.mode === 'fresh' ? 'new per read' : `${c.depth + 2} reused`,
          `${c.size >> 10} KiB`,
          String(c.depth),
          spread(c.results.map((r) => r.cpuSeconds)),
          spread(c.results.map((r) => r.seconds)),
        ]),
      ),
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
