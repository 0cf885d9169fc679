// Stores a file in an embedded default file backend, reads it back, and shows
// that the checksums computed on the way in match the bytes read out.
//   node examples/quickstart/store-and-read.mjs [FILE]
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MultiStore } from '@store/core';

const file = process.argv[2] ?? fileURLToPath(import.meta.url);
// The same directory the `store` CLI's embedded default uses: <data dir>/local.
const dataDir = join(
  process.env.STORE_DATA_DIR ??
    join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'store'),
  'local',
);

// The same config as an INI file with `[DEFAULT] enabled_backends = local:file`.
// The file driver is found from installed packages' metadata, as any driver is.
const store = await MultiStore.create({
  enabledBackends: { local: 'file' },
  defaultBackend: 'local',
  backends: { local: { filesystem_store_datadir: dataDir } },
});
try {
  const { size } = await stat(file);
  const added = await store.add(randomUUID(), createReadStream(file), size, {
    hashingAlgo: 'sha512',
  });
  console.log(`stored   ${file}`);
  console.log(`location ${added.location}`);
  console.log(`size     ${added.size}`);
  console.log(`checksum ${added.checksum} (md5)`);
  console.log(`multihash ${added.multihash} (sha512)`);

  const { stream } = await store.get(added.location);
  const md5 = createHash('md5');
  const sha512 = createHash('sha512');
  for await (const chunk of stream) {
    md5.update(chunk);
    sha512.update(chunk);
  }
  const ok = md5.digest('hex') === added.checksum && sha512.digest('hex') === added.multihash;
  console.log(`read back: checksums ${ok ? 'match' : 'DO NOT match'}`);
  process.exitCode = ok ? 0 : 1;
} finally {
  await store.close();
}
