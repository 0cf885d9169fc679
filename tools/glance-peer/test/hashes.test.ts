/**
 * Every hashing algorithm glance_store accepts (Python's hashlib.algorithms_available,
 * checked in store_add_to_backend_with_multihash) gives the same multihash through
 * @store for the same bytes; the shake functions, which glance_store accepts but
 * cannot finish (hexdigest needs a length), are refused by @store before writing.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MultiStore } from '@store/core';
import { patternBytes } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peer, type SharedConfig, sharedConfig } from './peer.js';

let dir: string;
let glance: SharedConfig['glance'];
let store: MultiStore;
const data = patternBytes(100_003, 5);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'store-interop-hashes-'));
  await writeFile(join(dir, 'src'), data);
  ({ store, glance } = await sharedConfig(dir, [
    '[DEFAULT]',
    'enabled_backends = f:file',
    '[glance_store]',
    'default_backend = f',
    '[f]',
    `filesystem_store_datadir = ${join(dir, 'images')}`,
  ]));
});
afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('hashing_algorithm names: glance_store and @store agree', async () => {
  const { algorithms } = (await peer(['hashes'])) as unknown as { algorithms: string[] };

  it('glance_store lists the names this test relies on', () => {
    expect(algorithms).toEqual(
      expect.arrayContaining(['blake2b', 'blake2s', 'sha3_256', 'sha512_256', 'md5', 'sha512']),
    );
  });

  for (const name of algorithms) {
    const xof = name.startsWith('shake_');
    it(
      xof
        ? `${name}: glance_store fails after accepting it, @store refuses it up front`
        : `${name}: the same multihash for the same bytes`,
      async () => {
        const theirs = await glance('add', 'f', `g-${name}`, join(dir, 'src'), '--hash', name);
        if (xof) {
          expect(theirs.error).toBe('TypeError');
          await expect(
            store.add(`s-${name}`, data, data.byteLength, { hashingAlgo: name }),
          ).rejects.toMatchObject({ code: 'UnknownHashingAlgo' });
          return;
        }
        expect(theirs.error).toBeUndefined();
        const mine = await store.add(`s-${name}`, data, data.byteLength, { hashingAlgo: name });
        expect(mine.multihash).toBe(theirs.multihash);
        expect(mine.checksum).toBe(theirs.checksum);
      },
    );
  }
});
