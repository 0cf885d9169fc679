// Benchmark row: get of a 1 GiB random image from @store/file the ways an app or a
// user does it (issue 20, decision 1), beside `cat`, a for-await loop over
// fs.createReadStream and glance_store's own get (tools/glance-peer) of the same image.
// Every case is a fresh process; seconds of the node and python children are the get
// alone, of `cat` and the CLI the whole process (start-up included); CPU s is always
// the whole process (user + sys).
//   node tools/bench/file-get.mjs [--size-mib 1024] [--runs 3] [--no-peer]
//   node tools/bench/file-get.mjs --child <file>     (the createReadStream loop)
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

if (process.argv[2] === '--child') {
  const { createReadStream } = await import('node:fs');
  const started = process.hrtime.bigint();
  let bytes = 0;
  for await (const chunk of createReadStream(process.argv[3], { highWaterMark: 1 << 20 }))
    bytes += chunk.byteLength;
  console.log(JSON.stringify({ seconds: Number(process.hrtime.bigint() - started) / 1e9, bytes }));
} else {
  const {
    benchDir,
    MiB,
    makeSourceFile,
    medianOf,
    rowArgs,
    runJsonChild,
    runNodeChild,
    storeWorker,
    table,
    timeCommand,
    VERSUS_HEADERS,
    versusRow,
  } = await import('./measure.mjs');
  const { sizeMiB, runs, ...values } = rowArgs(3, {
    'no-peer': { type: 'boolean', default: false },
  });
  const peerScript = join(here, '..', 'glance-peer', 'glance_peer.py');
  const cli = join(here, '..', '..', 'packages', 'cli', 'dist', 'cli.js');
  const withPeer = !values['no-peer'] && existsSync('/usr/lib/python3/dist-packages/glance_store');
  const work = await benchDir('file-get');
  try {
    const source = makeSourceFile(work, sizeMiB);
    const bytes = sizeMiB * MiB;
    const config = join(work, 'glance-api.conf');
    await writeFile(
      config,
      [
        '[DEFAULT]',
        'enabled_backends = file:file',
        '[glance_store]',
        'default_backend = file',
        '[file]',
        `filesystem_store_datadir = ${join(work, 'images')}`,
        '',
      ].join('\n'),
    );
    const store = (args) =>
      runNodeChild(storeWorker, ['--config', config, '--backend', 'file', ...args]);
    const { location } = await store(['add-file-source', source, 'image']);
    const out = join(work, 'out.raw');
    const checked = (size) => (result) => {
      if (result.bytes !== undefined && result.bytes !== size)
        throw new Error(`read ${result.bytes} of ${size} bytes`);
      return result;
    };
    const cases = {
      cat: () => timeCommand('cat', [source]),
      catToFile: () => timeCommand('sh', ['-c', `cat '${source}' > '${out}'`]),
      readStream: () => runNodeChild(join(here, 'file-get.mjs'), ['--child', source]),
      glance: () =>
        runJsonChild('/usr/bin/python3', [
          peerScript,
          '--config',
          config,
          'get',
          location,
          '--backend',
          'file',
          '--no-hash',
        ]),
      forAwait: () => store(['get', location]),
      pipeline: () => store(['get', location, '--pipeline', out]),
      pipeTo: () => store(['get', location, '--pipe-to', out]),
      cli: () => timeCommand(process.execPath, [cli, '--config', config, 'get', location]),
    };
    if (!withPeer) delete cases.glance;
    const results = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
    // Interleaved, so a burst of load on the shared machine hits every case alike.
    for (let i = 0; i < runs; i++) {
      for (const [name, run] of Object.entries(cases)) {
        results[name].push(checked(bytes)(await run()));
        await rm(out, { force: true });
      }
    }
    const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, medianOf(v)]));
    const rows = [
      versusRow('cat FILE > /dev/null', m.cat, bytes),
      versusRow('for await over createReadStream (1 MiB)', m.readStream, bytes, 'cat', m.cat),
      ...(m.glance
        ? [versusRow('glance_store get (python, every byte)', m.glance, bytes, 'cat', m.cat)]
        : []),
      versusRow('@store get, for await', m.forAwait, bytes, 'createReadStream loop', m.readStream),
      ...(m.glance
        ? [
            versusRow('@store get, for await', m.forAwait, bytes, 'glance_store get', m.glance),
            versusRow('@store get, pipeTo(file)', m.pipeTo, bytes, 'glance_store get', m.glance),
            versusRow(
              '@store get, pipeline(createWriteStream(file))',
              m.pipeline,
              bytes,
              'glance_store get',
              m.glance,
            ),
          ]
        : []),
      versusRow('@store get, pipeTo(file)', m.pipeTo, bytes, 'cat FILE > file', m.catToFile),
      versusRow(
        '@store get, pipeline(createWriteStream(file))',
        m.pipeline,
        bytes,
        'cat FILE > file',
        m.catToFile,
      ),
      versusRow('store get LOC > /dev/null (CLI)', m.cli, bytes, 'cat', m.cat),
    ];
    console.log(`\n### file driver get, ${sizeMiB} MiB image (median of ${runs}, min–max)\n`);
    console.log(table(VERSUS_HEADERS, rows));
    console.log(
      '\nWhat each side does: cat FILE > /dev/null, the createReadStream loop, glance_store get ' +
        'and @store get with for await read every byte and discard it; pipeTo, pipeline and ' +
        'cat FILE > file write every byte to a file on the same tmpfs; the CLI writes to /dev/null.',
    );
    console.log(
      'ratio: seconds / baseline seconds. Targets (issue 20): for await <= 1.1x the createReadStream loop; every @store get at least as fast as glance_store (ratio <= 1); the CLI <= 1.5x cat.',
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
