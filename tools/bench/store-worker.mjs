// The one child process of every benchmark row: one add, get or delete through
// MultiStore, drivers found by discovery from tools/bench (all drivers are its
// dependencies). Prints { seconds, bytes, checksum?, multihash?, location? } as JSON;
// seconds is the operation alone (store set-up and close excluded).
//   node store-worker.mjs [--config <ini> --backend <id>] add <source-file> <image-id>
//   node store-worker.mjs [--config <ini> --backend <id>] add-stream <source-file> <image-id>
//   node store-worker.mjs [--config <ini> --backend <id>] add-file-source <source-file> <image-id>
//   node store-worker.mjs [--config <ini> --backend <id>] add-block <MiB> <image-id>
//   node store-worker.mjs [--config <ini> --backend <id>] get <location> [--hash] [--reuse]
//   node store-worker.mjs [--config <ini> --backend <id>] get <location> --pipeline|--pipe-to <out-file>
//   node store-worker.mjs [--config <ini> --backend <id>] delete <location>
// The backend is either one of an INI file's (the same file glance_store reads: the peer
// row) or, without --config, { type, options } as JSON in STORE_BENCH_BACKEND (not argv:
// the options hold keys). add reads with createReadStream in 1 MiB chunks, add-stream
// with createReadStream's defaults (64 KiB, as an app written the obvious way), and
// add-file-source with core's fileSource. get --hash also takes md5 + sha512 of what it reads; get
// --reuse reads with reuseBuffers (this loop is done with each chunk when it pulls the next).
// get --pipeline writes to a file by pipeline(stream, createWriteStream), --pipe-to by GetResult.pipeTo.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as core from '@store/core';

const { createImageHasher, loadConfig, MultiStore } = core;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    config: { type: 'string' },
    backend: { type: 'string', default: 'bench' },
    hash: { type: 'boolean', default: false },
    reuse: { type: 'boolean', default: false },
    pipeline: { type: 'string' },
    'pipe-to': { type: 'string' },
  },
});
const [op, target, imageId] = positionals;
const backend = values.backend;

function storeConfig() {
  if (values.config) return loadConfig(values.config);
  const { type, options } = JSON.parse(process.env.STORE_BENCH_BACKEND ?? 'null') ?? {};
  if (!type) throw new Error('store-worker: give --config or STORE_BENCH_BACKEND={type, options}');
  return {
    enabledBackends: { [backend]: type },
    defaultBackend: backend,
    backends: { [backend]: options ?? {} },
  };
}

const store = await MultiStore.create(await storeConfig(), {
  discovery: { from: dirname(fileURLToPath(import.meta.url)) },
});
let seconds;
let result;
try {
  // A backend that failed to configure (e.g. rbd without its native binding) is only
  // disabled; say why here instead of failing later with "unknown backend".
  const disabled = store.disabledBackends.find((d) => d.id === backend);
  if (disabled) throw new Error(`backend ${backend} (${disabled.type}): ${disabled.reason}`);
  const started = process.hrtime.bigint();
  if (op === 'add') {
    const { size } = await stat(target);
    const added = await store.add(
      imageId,
      createReadStream(target, { highWaterMark: 1 << 20 }),
      size,
      { backend, hashingAlgo: 'sha512' },
    );
    result = {
      bytes: added.size,
      checksum: added.checksum,
      multihash: added.multihash,
      location: added.location,
    };
  } else if (op === 'add-stream' || op === 'add-file-source') {
    const fromFile = op === 'add-file-source';
    const source = fromFile ? await core.fileSource(target) : createReadStream(target);
    const size = fromFile ? source.size : (await stat(target)).size;
    const added = await store.add(imageId, source, size, { backend, hashingAlgo: 'sha512' });
    result = {
      bytes: added.size,
      checksum: added.checksum,
      multihash: added.multihash,
      location: added.location,
    };
  } else if (op === 'add-block') {
    // The library's add path alone: one 1 MiB block of random bytes yielded `target`
    // times (its bytes never change, so handing the same buffer over again is safe),
    // with no source to read.
    const count = Number(target);
    const block = randomBytes(1 << 20);
    const added = await store.add(
      imageId,
      (function* () {
        for (let i = 0; i < count; i++) yield block;
      })(),
      count * block.byteLength,
      { backend, hashingAlgo: 'sha512' },
    );
    result = { bytes: added.size, location: added.location };
  } else if (op === 'get' && (values.pipeline || values['pipe-to'])) {
    const got = await store.get(target, { backend });
    const out = values.pipeline ?? values['pipe-to'];
    if (values.pipeline) await pipeline(got.stream, createWriteStream(out));
    else await got.pipeTo(createWriteStream(out));
    result = { bytes: (await stat(out)).size };
  } else if (op === 'get') {
    // The same md5 + sha512 as on the way in, in worker threads as add does.
    const hasher = values.hash ? createImageHasher('sha512', { parallel: true }) : undefined;
    try {
      const { stream } = await store.get(target, { backend, reuseBuffers: values.reuse });
      let bytes = 0;
      for await (const chunk of stream) {
        bytes += chunk.byteLength;
        if (hasher) await hasher.update(chunk);
      }
      const { checksum, multihash } = hasher ? await hasher.digest() : {};
      result = { bytes, checksum, multihash };
    } finally {
      hasher?.dispose();
    }
  } else if (op === 'delete') {
    await store.delete(target, { backend });
    result = {};
  } else {
    throw new Error(`unknown operation ${op}`);
  }
  seconds = Number(process.hrtime.bigint() - started) / 1e9;
} finally {
  await store.close();
}
console.log(JSON.stringify({ seconds, ...result }));
