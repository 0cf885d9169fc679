/**
 * The soak in its short form (the full form is tools/soak/run): concurrent adds,
 * gets and deletes of mixed sizes with injected faults against a file backend,
 * every byte read back verified, nothing left behind.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nonLoopbackHosts, openBackend } from '../src/backend.mjs';
import { attachOtel } from '../src/metrics.mjs';
import { drawSize, parseSizes } from '../src/sizes.mjs';
import { runSoak } from '../src/soak.mjs';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'store-soak-test-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('soak, short form', () => {
  it('16 workers for 8 s on the default file backend: every read verified, faults typed, nothing left', async () => {
    const subject = await openBackend({});
    let report: Awaited<ReturnType<typeof runSoak>>;
    try {
      report = await runSoak(subject, {
        concurrency: 16,
        durationMs: 8_000,
        sizes: parseSizes('4:0-4k,3:64k-256k,2:1m-2m,1:4m-6m'),
        faultRate: 0.1,
      });
    } finally {
      await subject.close();
    }
    console.info(`soak short form: ${JSON.stringify(report)}`);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.adds).toBeGreaterThan(10);
    expect(report.gets).toBeGreaterThan(5);
    expect(report.verifiedReads).toBe(report.gets);
    expect(report.faultsAsExpected).toBe(report.faultsInjected);
    expect(report.leftovers).toEqual([]);
    // Memory bounded by chunk size × concurrency, not by bytes moved (loose: a vitest worker).
    expect(report.rss.endMiB - report.rss.startMiB).toBeLessThan(400);
  });

  it('takes a glance-style config file, so other drivers can join', async () => {
    const conf = join(root, 'soak.conf');
    await writeFile(
      conf,
      `[DEFAULT]\nenabled_backends = disk:file\n\n[glance_store]\ndefault_backend = disk\n\n[disk]\nfilesystem_store_datadir = ${join(root, 'disk')}\n`,
    );
    const subject = await openBackend({ config: conf });
    try {
      const report = await runSoak(subject, {
        concurrency: 4,
        durationMs: 20_000,
        maxOps: 40,
        sizes: parseSizes('1:1-300k'),
        faultRate: 0.2,
      });
      expect(report.ok).toBe(true);
      expect(report.ops).toBeGreaterThanOrEqual(40);
      expect(report.ops).toBeLessThan(40 + 4);
      expect(report.backend).toBe(`disk (file in ${join(root, 'disk')})`);
    } finally {
      await subject.close();
    }
  });

  it('with limits and @store/otel attached: no bound held more than its limit, the gauges exported', async () => {
    const subject = await openBackend({
      limits: { concurrentAdds: 2, concurrentGets: 3, bufferMemory: 16 << 20 },
    });
    const otel = attachOtel(subject.store, { intervalMs: 500 });
    let report: Awaited<ReturnType<typeof runSoak>>;
    let metrics: Awaited<ReturnType<typeof otel.summary>>;
    try {
      report = await runSoak(subject, {
        concurrency: 16,
        durationMs: 4_000,
        sizes: parseSizes('2:0-64k,1:1m-3m'),
        faultRate: 0.1,
        sampleMs: 1_000,
      });
      metrics = await otel.summary();
    } finally {
      await otel.close();
      await subject.close();
    }
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    const { peaks, limits } = report.bounds;
    expect(limits).toEqual({ concurrentAdds: 2, concurrentGets: 3, bufferMemoryMiB: 16 });
    expect(peaks.adds).toBeLessThanOrEqual(2);
    expect(peaks.gets).toBeLessThanOrEqual(3);
    expect(peaks.bufferBytes).toBeLessThanOrEqual(16 << 20);
    // 16 workers and 2 places: adds queued.
    expect(peaks.queuedAdds).toBeGreaterThan(0);
    expect(report.rss.samples.length).toBeGreaterThan(0);
    expect(metrics['store.buffer_memory.limit']?.values).toEqual({ '(all)': 16 << 20 });
    const active = metrics['store.operations.active']?.values ?? {};
    expect(active['store.operation=add']).toBeLessThanOrEqual(2);
    const ops = metrics['store.operations']?.values ?? {};
    expect(ops['store.operation=add,store.backend=soak,store.driver=file,store.outcome=ok']).toBe(
      report.adds,
    );
  });

  it('refuses backends that point anywhere but 127.0.0.1', async () => {
    expect(
      nonLoopbackHosts({
        s3_store_host: 'http://s3.example.com:7480',
        https_proxy: 'http://127.0.0.1:3128',
        rbd_store_host: '10.0.0.1',
      }),
    ).toEqual(['s3_store_host: s3.example.com', 'rbd_store_host: 10.0.0.1']);
    expect(nonLoopbackHosts({ endpoint: 'http://localhost:10000', x: ['http://[::1]:1'] })).toEqual(
      [],
    );
    const conf = join(root, 'remote.conf');
    await writeFile(
      conf,
      '[DEFAULT]\nenabled_backends = far:file\n[far]\nfilesystem_store_datadir = /tmp/x\nstore_description = http://images.example.org/\n',
    );
    await expect(openBackend({ config: conf })).rejects.toThrow(/only 127.0.0.1/);
  });

  it('draws sizes from the weighted mix', () => {
    const ranges = parseSizes('3:1-10,1:1m-1m');
    let draws = 0;
    let big = 0;
    let seed = 1;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return (seed - 1) / 2147483646;
    };
    for (; draws < 4000; draws++) {
      const size = drawSize(ranges, random);
      if (size === 1024 * 1024) big++;
      else expect(size >= 1 && size <= 10).toBe(true);
    }
    expect(big / draws).toBeGreaterThan(0.2);
    expect(big / draws).toBeLessThan(0.3);
    expect(() => parseSizes('1:5-2')).toThrow(/bad size range/);
    expect(() => parseSizes('x')).toThrow(/bad size range/);
  });
});
