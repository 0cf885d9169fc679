// The driver's contract suite, as any driver author runs it: @store/testkit
// checks every behaviour the manager and callers rely on, against a real
// directory, and that the suite leaves it as it found it.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MultiStore } from '@store/core';
import { describeDriverContract } from '@store/testkit';
import { expect } from 'vitest';
import memoDriver from '../src/index.js';

let dir;

describeDriverContract({
  name: 'memo',
  setup: async () => {
    dir = await mkdtemp(join(tmpdir(), 'store-memo-'));
    const store = await MultiStore.create(
      {
        enabledBackends: { notes: 'memo' },
        defaultBackend: 'notes',
        backends: { notes: { memo_dir: dir } },
      },
      { drivers: [memoDriver] },
    );
    // Every entry, temporary files included: a failed write must leave none.
    return { store, backend: 'notes', listObjects: () => readdir(dir) };
  },
  teardown: async () => {
    const left = await readdir(dir);
    await rm(dir, { recursive: true, force: true });
    expect(left, 'entries left after the suite').toEqual([]);
  },
});
