// Benchmark row: Apache OpenDAL's Node binding (`opendal` 0.47, its fs service) beside
// @store's file driver on the same directory (tmpfs by default), 1 GiB random image:
// write with md5 + sha512 computed by the caller, and read consuming every byte. OpenDAL
// has no hashing of its own, so its caller hashes each chunk (node:crypto, md5 then
// sha512, as glance_store does) before handing it to the writer. @store runs its default
// paths: add from fs.createReadStream with default options, add through core's
// fileSource, and get consumed by for await. Every case is a fresh process, interleaved.
//   node tools/bench/opendal.mjs [--size-mib 1024] [--runs 3]
//   node tools/bench/opendal.mjs --child write <root> <source-file> <name>
//   node tools/bench/opendal.mjs --child read <root> <name>
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MiB = 1024 * 1024;

if (process.argv[2] === '--child') {
  const { createHash } = await import('node:crypto');
  const { createReadStream } = await import('node:fs');
  const { Operator } = await import('opendal');
  const [op, root, ...rest] = process.argv.slice(3);
  const operator = new Operator('fs', { root });
  const started = process.hrtime.bigint();
  let result;
  if (op === 'write') {
    const [source, name] = rest;
    const md5 = createHash('md5');
    const sha512 = createHash('sha512');
    const writer = await operator.writer(name);
    let bytes = 0;
    // 1 MiB reads of the source: OpenDAL's best case (each write is one call into the binding).
    for await (const chunk of createReadStream(source, { highWaterMark: MiB })) {
      md5.update(chunk);
      sha512.update(chunk);
      await writer.write(chunk);
      bytes += chunk.byteLength;
    }
    await writer.close();
    result = { bytes, checksum: md5.digest('hex'), multihash: sha512.digest('hex') };
  } else if (op === 'read') {
    const [name] = rest;
    const reader = await operator.reader(name);
    let bytes = 0;
    // 1 MiB per read, as the createReadStream baseline of file-get.mjs (its default is 16 KiB).
    for await (const chunk of reader.createReadStream({ highWaterMark: MiB }))
      bytes += chunk.byteLength;
    result = { bytes };
  } else throw new Error(`opendal child: unknown operation ${op}`);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(JSON.stringify({ seconds, ...result }));
} else {
  const {
    benchDir,
    fmt,
    makeSourceFile,
    medianOf,
    rowArgs,
    runCells,
    runNodeChild,
    storeWorker,
    table,
  } = await import('./measure.mjs');
  const { sizeMiB, runs } = rowArgs(3);
  const script = fileURLToPath(import.meta.url);
  const work = await benchDir('opendal');
  try {
    const source = makeSourceFile(work, sizeMiB);
    const bytes = sizeMiB * MiB;
    const opendalRoot = join(work, 'opendal');
    const images = join(work, 'images');
    const config = join(work, 'glance-api.conf');
    await writeFile(
      config,
      [
        '[DEFAULT]',
        'enabled_backends = file:file',
        '[glance_store]',
        'default_backend = file',
        '[file]',
        `filesystem_store_datadir = ${images}`,
        '',
      ].join('\n'),
    );
    const store = (args) =>
      runNodeChild(storeWorker, ['--config', config, '--backend', 'file', ...args]);
    const opendal = (args) => runNodeChild(script, ['--child', ...args]);
    const { location } = await store(['add-file-source', source, 'read-me']);
    await opendal(['write', opendalRoot, source, 'read-me']);
    let n = 0;
    const cases = {
      opendalWrite: async () => {
        const name = `w${n++}`;
        const r = await opendal(['write', opendalRoot, source, name]);
        await rm(join(opendalRoot, name));
        return r;
      },
      addStream: async () => {
        const r = await store(['add-stream', source, `s${n++}`]);
        await store(['delete', r.location]);
        return r;
      },
      addFileSource: async () => {
        const r = await store(['add-file-source', source, `f${n++}`]);
        await store(['delete', r.location]);
        return r;
      },
      opendalRead: () => opendal(['read', opendalRoot, 'read-me']),
      get: () => store(['get', location]),
    };
    const results = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
    // Interleaved, so a burst of load on the shared machine hits every case alike.
    for (let i = 0; i < runs; i++) {
      for (const [name, run] of Object.entries(cases)) {
        const r = await run();
        if (r.bytes !== bytes) throw new Error(`${name}: moved ${r.bytes} of ${bytes} bytes`);
        results[name].push(r);
      }
    }
    const writes = ['opendalWrite', 'addStream', 'addFileSource'].flatMap((k) => results[k]);
    if (new Set(writes.map((r) => `${r.checksum} ${r.multihash}`)).size !== 1)
      throw new Error('OpenDAL and @store disagree on the checksums');
    const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, medianOf(v)]));
    const row = (op, does, run, peer) => [
      op,
      does,
      ...runCells(run, bytes),
      peer ? `${fmt(peer.seconds / run.seconds)}x` : '',
    ];
    const writeDoes = 'reads the source file, md5 + sha512, writes a file';
    console.log(
      `\n### OpenDAL (fs) beside @store file, ${sizeMiB} MiB image (median of ${runs})\n`,
    );
    console.log(
      table(
        [
          'op',
          'what it does',
          'seconds, median (min–max)',
          'CPU s',
          'MiB/s',
          'peak RSS MiB',
          'speedup over OpenDAL',
        ],
        [
          row('OpenDAL writer, caller hashes (1 MiB reads)', writeDoes, m.opendalWrite),
          row('@store add, createReadStream defaults', writeDoes, m.addStream, m.opendalWrite),
          row('@store add, fileSource', writeDoes, m.addFileSource, m.opendalWrite),
          row('OpenDAL reader stream (1 MiB reads)', 'consumes every byte', m.opendalRead),
          row('@store get, for await', 'consumes every byte', m.get, m.opendalRead),
        ],
      ),
    );
    console.log(
      '\nseconds: the operation inside its process (start-up excluded); ' +
        'CPU s: user + sys of the whole process. Speedup: OpenDAL seconds / @store seconds (> 1: @store is faster).',
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
