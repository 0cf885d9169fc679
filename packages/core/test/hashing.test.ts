/**
 * Worker-thread hashing shares one small pool of threads across every image:
 * many concurrent images hash correctly, a disposed image does not disturb the
 * others on the same threads, and the thread count does not grow with concurrency.
 */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { createImageHasher, shutdownHashWorkers } from '../src/index.js';

const threads = async () => (await readdir('/proc/self/task')).length;

function bytes(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 7) & 0xff;
  return out;
}

describe('worker-thread hashing', () => {
  it('hashes 64 concurrent images on a bounded pool of threads', async () => {
    // Warm the pool, then count: 64 images must not add a thread each.
    await createImageHasher('sha512', { parallel: true }).digest();
    const before = await threads();
    const images = Array.from({ length: 64 }, (_, i) => bytes(300_000 + i * 1000, i));
    const results = await Promise.all(
      images.map(async (image, i) => {
        const hasher = createImageHasher(i % 2 ? 'sha512' : 'sha3-256', {
          parallel: true,
          batchBytes: 64 * 1024,
        });
        for (let at = 0; at < image.byteLength; at += 50_000)
          await hasher.update(image.subarray(at, at + 50_000));
        if (i % 8 === 0) {
          // Abandon some midway: the others on the same workers must not notice.
          hasher.dispose();
          await expect(hasher.digest()).rejects.toMatchObject({ code: 'BackendException' });
          return undefined;
        }
        return hasher.digest();
      }),
    );
    expect(await threads()).toBeLessThanOrEqual(before + Math.max(2, availableParallelism()));
    for (const [i, result] of results.entries()) {
      if (i % 8 === 0) continue;
      const algorithm = i % 2 ? 'sha512' : 'sha3-256';
      expect(result).toEqual({
        checksum: createHash('md5').update(images[i]!).digest('hex'),
        multihash: createHash(algorithm).update(images[i]!).digest('hex'),
      });
    }
  });

  it('gives md5 alone when asked for md5, and an empty image its digests', async () => {
    const md5 = createImageHasher('md5', { parallel: true });
    await md5.update(bytes(10, 1));
    const d = await md5.digest();
    expect(d.multihash).toBe(d.checksum);
    expect(await createImageHasher('sha256', { parallel: true }).digest()).toEqual({
      checksum: createHash('md5').digest('hex'),
      multihash: createHash('sha256').digest('hex'),
    });
  });

  it('stops the process-wide pool on shutdownHashWorkers: threads gone, work in progress failed, the next hash starts it again', async () => {
    await createImageHasher('sha512', { parallel: true }).digest();
    const running = createImageHasher('sha256', { parallel: true, batchBytes: 64 * 1024 });
    await running.update(bytes(200_000, 3));
    const withPool = await threads();
    await shutdownHashWorkers();
    await expect(running.digest()).rejects.toMatchObject({
      code: 'BackendException',
      message: expect.stringContaining('shutdownHashWorkers'),
    });
    expect(await threads()).toBeLessThanOrEqual(withPool - 2);
    const image = bytes(100_000, 4);
    const again = createImageHasher('sha512', { parallel: true });
    await again.update(image);
    expect((await again.digest()).multihash).toBe(createHash('sha512').update(image).digest('hex'));
    await shutdownHashWorkers();
    await shutdownHashWorkers(); // stopping a stopped pool is harmless
  });
});
