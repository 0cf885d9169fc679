/**
 * Integrity on read against real files: `get(uri, { verify })` passes an intact
 * image and fails the stream at its end when the file was changed on disk.
 */
import { mkdtemp, open as openFile, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MultiStore } from '@store/core';
import { chunked, collect, digest, patternBytes } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fileDriver from '../src/index.js';

let root: string;
let store: MultiStore;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'store-file-verify-'));
  store = await MultiStore.create(
    {
      enabledBackends: { local: 'file' },
      defaultBackend: 'local',
      backends: { local: { filesystem_store_datadir: root } },
    },
    { drivers: [fileDriver] },
  );
});
afterAll(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

async function readAll(uri: string, verify: Parameters<MultiStore['get']>[1]) {
  const { stream } = await store.get(uri, verify);
  return collect(stream);
}

/** Overwrites one byte of the file in place (same size, same name): silent corruption. */
async function flipByte(path: string, at: number): Promise<void> {
  const handle = await openFile(path, 'r+');
  try {
    const one = Buffer.alloc(1);
    await handle.read(one, 0, 1, at);
    one[0] = one[0]! ^ 0xff;
    await handle.write(one, 0, 1, at);
  } finally {
    await handle.close();
  }
}

describe('verify on read with the file driver', () => {
  for (const [label, size] of [
    ['small (hashed inline)', 70_001],
    ['large (hashed in worker threads)', 9 * 1024 * 1024 + 7],
  ] as const) {
    it(`passes an intact ${label} image and catches a byte changed on disk`, async () => {
      const data = patternBytes(size, size);
      const id = `verify-${size}`;
      const added = await store.add(id, chunked(data), size, { hashingAlgo: 'sha256' });
      expect(added.multihash).toBe(digest('sha256', data));
      const expected = {
        checksum: added.checksum,
        multihash: added.multihash,
        hashingAlgo: added.hashingAlgo,
      };
      expect(Buffer.compare(await readAll(added.location, { verify: expected }), data)).toBe(0);

      await flipByte(join(root, id), size - 3);
      // Without verify the corrupted bytes are served as they are (as glance_store does).
      expect(digest('sha256', await readAll(added.location, {}))).not.toBe(added.multihash);
      for (const verify of [
        expected,
        { checksum: added.checksum },
        { multihash: added.multihash, hashingAlgo: 'sha256' },
      ]) {
        const err = await readAll(added.location, { verify }).catch((e) => e);
        expect(err.code).toBe('ChecksumMismatch');
      }
    });
  }

  it('catches a file truncated on disk', async () => {
    const data = patternBytes(300_000, 5);
    const added = await store.add('verify-truncated', data, data.byteLength);
    await truncate(join(root, 'verify-truncated'), 100_000);
    const err = await readAll(added.location, {
      verify: { multihash: added.multihash },
    }).catch((e) => e);
    expect(err.code).toBe('ChecksumMismatch');
  });

  it('delivers every byte before failing, so a caller that stops early is never told', async () => {
    const data = patternBytes(200_000, 6);
    const added = await store.add('verify-partial', data, data.byteLength);
    await flipByte(join(root, 'verify-partial'), 10);
    const { stream } = await store.get(added.location, { verify: { multihash: added.multihash } });
    let received = 0;
    const err = await (async () => {
      for await (const chunk of stream) received += (chunk as Buffer).byteLength;
    })().catch((e) => e);
    expect(received).toBe(data.byteLength);
    expect(err.code).toBe('ChecksumMismatch');
  });

  it('refuses verify on a partial read', async () => {
    const added = await store.add('verify-range', patternBytes(10, 7), 10);
    const err = await store
      .get(added.location, { offset: 2, verify: { multihash: added.multihash } })
      .catch((e) => e);
    expect(err.code).toBe('Invalid');
  });
});
