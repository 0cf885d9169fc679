// Benchmark row: @store/file add (md5 + sha512) as apps call it (the CLI, core's
// fileSource, fs.createReadStream with its defaults, and with 1 MiB reads) and get of a 1 GiB image, beside
// `openssl dgst -sha512` and `cat` of the same file in the same run; plus the
// peak RSS of adding and reading a 4 GiB image.
//   node tools/bench/file.mjs [--size-mib 1024] [--runs 3]
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  benchBase,
  benchDir,
  MiB,
  makeSourceFile,
  median,
  medianOf,
  rowArgs,
  sha512sum,
  storeRunner,
  table,
  timeCommand,
  VERSUS_HEADERS,
  versusRow,
} from './measure.mjs';

const { sizeMiB, runs, ...values } = rowArgs(3, {
  'big-gib': { type: 'string', default: '4' },
});
const work = await benchDir('file');
const datadir = join(work, 'images');
/** The CLI, with its embedded config: a file backend under STORE_DATA_DIR/local. */
const cli = fileURLToPath(new URL('../../packages/cli/dist/cli.js', import.meta.url));
const cliData = join(work, 'cli-data');
const store = storeRunner({ type: 'file', options: { filesystem_store_datadir: datadir } });
try {
  const source = makeSourceFile(work, sizeMiB);
  const bytes = sizeMiB * MiB;
  const openssl = await median(runs, () => timeCommand('openssl', ['dgst', '-sha512', source]));
  const cat = await median(runs, () => timeCommand('cat', [source]));
  // One image at a time: each run adds, reads back, then deletes its image.
  const adds = [];
  const streamAdds = [];
  const sourceAdds = [];
  const cliAdds = [];
  const gets = [];
  const reusedGets = [];
  const blockAdds = [];
  for (let i = 0; i < runs; i++) {
    blockAdds.push(await store(['add-block', String(sizeMiB), `block-${i}`]));
    await rm(join(datadir, `block-${i}`));
    const added = await store(['add', source, `img-${i}`]);
    gets.push(await store(['get', added.location]));
    reusedGets.push(await store(['get', added.location, '--reuse']));
    adds.push(added);
    await rm(join(datadir, `img-${i}`));
    // The add paths of an app (issue 20, decision 1), each in a fresh process.
    streamAdds.push(await store(['add-stream', source, `stream-${i}`]));
    await rm(join(datadir, `stream-${i}`));
    sourceAdds.push(await store(['add-file-source', source, `source-${i}`]));
    await rm(join(datadir, `source-${i}`));
    cliAdds.push(
      await timeCommand(process.execPath, [cli, 'add', source, '--id', `cli-${i}`], {
        env: { ...process.env, HOME: work, STORE_DATA_DIR: cliData, STORE_CONFIG: '' },
      }),
    );
    await rm(join(cliData, 'local', `cli-${i}`));
  }
  for (const run of [...streamAdds, ...sourceAdds]) {
    if (run.multihash !== adds[0].multihash) throw new Error('multihash mismatch');
  }
  const add = medianOf(adds);
  const streamAdd = medianOf(streamAdds);
  const sourceAdd = medianOf(sourceAdds);
  const cliAdd = medianOf(cliAdds);
  const blockAdd = medianOf(blockAdds);
  const get = medianOf(gets);
  const reusedGet = medianOf(reusedGets);
  const catPiped = await median(runs, () => timeCommand('sh', ['-c', `cat '${source}' | cat`]));
  if (add.multihash !== sha512sum(source)) throw new Error('multihash mismatch');

  // 4 GiB: memory must stay bounded by chunk size, not image size.
  const big = join(work, 'big.raw');
  execFileSync('truncate', ['-s', `${values['big-gib']}G`, big]);
  const bigAdd = await store(['add', big, 'big']);
  const bigGet = await store(['get', bigAdd.location]);
  const bigReusedGet = await store(['get', bigAdd.location, '--reuse']);
  await rm(big);

  console.log(`\n### file driver, ${sizeMiB} MiB image (median of ${runs})\n`);
  console.log(
    table(VERSUS_HEADERS, [
      versusRow(
        'store add FILE (CLI, whole process)',
        cliAdd,
        bytes,
        'openssl dgst -sha512',
        openssl,
      ),
      versusRow('add, fileSource(path)', sourceAdd, bytes, 'openssl dgst -sha512', openssl),
      versusRow(
        'add, fs.createReadStream(path) defaults',
        streamAdd,
        bytes,
        'openssl dgst -sha512',
        openssl,
      ),
      versusRow('add, createReadStream 1 MiB chunks', add, bytes, 'openssl dgst -sha512', openssl),
      versusRow(
        'add from memory (no source read)',
        blockAdd,
        bytes,
        'openssl dgst -sha512',
        openssl,
      ),
      versusRow('get', get, bytes, 'cat > /dev/null', cat),
      versusRow('get (reuseBuffers)', reusedGet, bytes, 'cat > /dev/null', cat),
      versusRow('get', get, bytes, 'cat piped into cat', catPiped),
      versusRow(`add ${values['big-gib']} GiB`, bigAdd, bigAdd.bytes),
      versusRow(`get ${values['big-gib']} GiB`, bigGet, bigGet.bytes),
      versusRow(`get ${values['big-gib']} GiB (reuseBuffers)`, bigReusedGet, bigReusedGet.bytes),
    ]),
  );
  console.log(
    '\nWhat each side does: every add reads the source file, takes md5 + sha512 and writes the ' +
      'image to a file (add from memory: no source read); openssl reads and hashes it. get reads ' +
      'every byte and discards it; cat writes it to /dev/null (or through a pipe to a second cat).',
  );
  console.log(
    `Data directory: ${benchBase}. seconds: median (min–max) of ${runs} runs, the operation inside its process, except the CLI and baseline rows (whole process); CPU s: user + sys of the whole process (median). Targets (issue 20): CLI and fileSource add <= 1.35x openssl, default createReadStream add <= 1.5x; get <= 1.25x cat; peak RSS < 150 MiB at 4 GiB.`,
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
