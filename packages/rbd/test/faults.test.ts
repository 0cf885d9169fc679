/**
 * The OSD stopped mid-write (issue 10): with `rados_op_timeout` set, an add whose
 * writes reach a stopped OSD fails with RemoteServiceUnavailable within about that
 * timeout instead of hanging, leaves no image, and the cluster serves the images it
 * held once the OSD runs again.
 *
 * The test cluster's only OSD is stopped with SIGSTOP for about 3.5 seconds and
 * always resumed with SIGCONT (a stopped OSD blocks every user of the cluster).
 */
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { MultiStore, RemoteServiceUnavailable, StoreError } from '@store/core';
import { collect, digest, patternBytes } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import rbdDriver from '../src/index.js';
import { env, listImages, purgeImages, rbdConfig } from './ceph.js';

const PREFIX = `rbdfault-${process.pid}-`;
const MiB = 1024 * 1024;
/** rados_op_timeout for the store under test, in seconds. */
const OP_TIMEOUT = 2;
/** How long the OSD stays stopped: past the timeout, so the writes time out first. */
const STOP_MS = OP_TIMEOUT * 1000 + 1500;

/** The OSD's pid, from the run directory next to the test cluster's ceph.conf. */
function osdPid(): number {
  const file = join(dirname(env!.STORE_TEST_CEPH_CONF), 'run', 'osd.0.pid');
  const pid = Number(readFileSync(file, 'utf8').trim());
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  // Never signal anything but this cluster's OSD (a stale pid file could name another process).
  if (!cmdline[0]?.endsWith('ceph-osd') || !cmdline.includes(env!.STORE_TEST_CEPH_CONF))
    throw new Error(`pid ${pid} in ${file} is not this cluster's ceph-osd`);
  return pid;
}

describe.skipIf(!env)('rbd: the OSD stopped mid-write', { timeout: 120_000 }, () => {
  let store: MultiStore;
  beforeAll(async () => {
    await purgeImages(PREFIX);
    store = await MultiStore.create(
      rbdConfig({ rados_op_timeout: String(OP_TIMEOUT), rbd_store_chunk_size: '1' }),
      { drivers: [rbdDriver] },
    );
  });
  afterAll(async () => {
    await store?.close();
    await purgeImages(PREFIX);
    expect(await listImages(PREFIX)).toEqual([]);
  });

  it('fails the add within the op timeout (RemoteServiceUnavailable), leaves no image, keeps others', async () => {
    const keeper = patternBytes(3 * MiB + 17, 9);
    const kept = await store.add(`${PREFIX}keeper`, keeper, keeper.byteLength);

    const pid = osdPid();
    let stoppedAt = 0;
    let stopped = false;
    let resume: NodeJS.Timeout | undefined;
    const cont = () => {
      if (!stopped) return;
      process.kill(pid, 'SIGCONT');
      stopped = false;
    };
    // Should this worker die with the OSD stopped, resume it anyway.
    process.once('exit', cont);
    const imageId = `${PREFIX}victim`;
    const total = 32 * MiB;
    async function* source() {
      for (let sent = 0; sent < total; sent += MiB) {
        if (sent === 4 * MiB) {
          process.kill(pid, 'SIGSTOP');
          stopped = true;
          stoppedAt = Date.now();
          resume = setTimeout(cont, STOP_MS);
        }
        yield patternBytes(MiB, sent / MiB);
      }
    }
    let failure: unknown;
    let failedAfterMs = 0;
    try {
      await store.add(imageId, source(), total).then(
        () => undefined,
        (err) => {
          failure = err;
          failedAfterMs = Date.now() - stoppedAt;
        },
      );
    } finally {
      clearTimeout(resume);
      cont();
      process.removeListener('exit', cont);
    }
    console.info(`rbd add failed ${failedAfterMs} ms after the OSD was stopped: ${failure}`);
    expect(failure).toBeInstanceOf(StoreError);
    expect(failure).toBeInstanceOf(RemoteServiceUnavailable);
    // rados_op_timeout ended the write (librados' ETIMEDOUT), not another failure, and
    // with the OSD still stopped (STOP_MS outlasts it): never a hang.
    expect((failure as Error).cause).toMatchObject({ errno: constants.errno.ETIMEDOUT });

    // No partial image; the id is free again; the image stored before is intact.
    expect(await listImages(PREFIX)).toEqual([`${PREFIX}keeper`]);
    const { stream } = await store.get(kept.location);
    expect(digest('sha256', await collect(stream))).toBe(digest('sha256', keeper));
    const again = patternBytes(MiB + 5, 3);
    const readded = await store.add(imageId, again, again.byteLength);
    expect(digest('sha256', await collect((await store.get(readded.location)).stream))).toBe(
      digest('sha256', again),
    );
    await store.delete(readded.location);
    await store.delete(kept.location);
  });
});
