/**
 * The file driver, loaded from its sources (core depends on no driver package),
 * behind a MultiStore in a new temporary directory: only for the core tests that
 * need real files (open descriptors under /proc/self/fd, positional reads ahead
 * into lent buffers). Tests that need a backend and no files use core's memoryDriver.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DriverDefinition, MultiStore, type MultiStoreOptions } from '../src/index.js';

export interface TempFileStore {
  readonly store: MultiStore;
  readonly dir: string;
  /** Closes the store and removes the directory. */
  dispose(): Promise<void>;
}

/**
 * A store whose default backend `local` is a file backend in a new directory named
 * `prefix…`, created with `options` (the file driver added to them).
 */
export async function tempFileStore(
  prefix: string,
  options: MultiStoreOptions = {},
): Promise<TempFileStore> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const driverModule = new URL('../../file/src/index.ts', import.meta.url).href;
  const fileDriver = ((await import(driverModule)) as { default: DriverDefinition }).default;
  const store = await MultiStore.create(
    {
      enabledBackends: { local: 'file' },
      defaultBackend: 'local',
      backends: { local: { filesystem_store_datadir: dir } },
    },
    { ...options, drivers: [fileDriver] },
  );
  return {
    store,
    dir,
    dispose: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
