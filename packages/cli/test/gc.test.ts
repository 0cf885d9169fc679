/**
 * `store gc` against the embedded file backend: a real orphan is what `store
 * add` leaves when it is killed with SIGKILL mid-way (its temporary file, whose
 * writer is gone). gc shows it, keeps it while young, removes it with --remove
 * once older than --older-than, and says which backends cannot tell.
 */
import { existsSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatAge, parseDuration } from '../src/units.js';
import { assertBuilt, json, run, type Sandbox, sandbox, start } from './cli.js';

let box: Sandbox;
let partial: string;

interface GcJson {
  olderThan: number;
  remove: boolean;
  backends: {
    id: string;
    type: string;
    collects: boolean;
    orphans: {
      kind: string;
      id: string;
      where: string;
      bytes?: number;
      old: boolean;
      removed?: true;
    }[];
  }[];
}

beforeAll(async () => {
  assertBuilt();
  box = sandbox();
  const local = join(box.dataDir, 'local');
  const { child, done } = start(box, ['add', '-', '--id', 'killed']);
  child.stdin!.write(Buffer.alloc(256 * 1024, 1));
  for (;;) {
    const found =
      existsSync(local) && readdirSync(local).find((n) => n.startsWith('.store-partial-'));
    if (found) {
      partial = join(local, found);
      break;
    }
    await sleep(20);
  }
  child.kill('SIGKILL');
  expect((await done).signal).toBe('SIGKILL');
}, 60_000);
afterAll(() => box.cleanup());

describe('store gc', () => {
  it('shows a killed add’s temporary file as a young orphan and removes nothing', async () => {
    const result = await run(box, ['gc', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = json<GcJson>(result.out);
    expect(report.olderThan).toBe(86_400_000);
    expect(report.remove).toBe(false);
    expect(report.backends).toHaveLength(1);
    expect(report.backends[0]).toMatchObject({ id: 'local', type: 'file', collects: true });
    expect(report.backends[0]!.orphans).toEqual([
      expect.objectContaining({ kind: 'partial-file', id: partial, old: false }),
    ]);
    const removing = await run(box, ['gc', '--remove']);
    expect(removing.code).toBe(0);
    expect(removing.out).toContain('young');
    expect(removing.out).toContain('removed 0 orphan(s) older than 1d');
    expect(existsSync(partial)).toBe(true);
  });

  it('shows it as old once older than --older-than, and removes it only with --remove', async () => {
    // Half an hour: the backend's own start-up sweep (filesystem_store_partial_max_age,
    // an hour) leaves it, so what gc sees is gc's doing.
    const then = new Date(Date.now() - 30 * 60_000);
    utimesSync(partial, then, then);
    const dry = await run(box, ['gc', '--older-than', '20m']);
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(/local \(file\):\n/);
    expect(dry.out).toMatch(/partial-file .* 30m .*old/);
    expect(dry.out).toContain("1 orphan(s) older than 20m: run 'store gc --remove' to remove them");
    expect(existsSync(partial)).toBe(true);
    // Not older than forty minutes: kept.
    expect((await run(box, ['gc', '--remove', '--older-than', '40m'])).code).toBe(0);
    expect(existsSync(partial)).toBe(true);

    const removed = await run(box, ['gc', '--remove', '--older-than', '20m', '--json']);
    expect(removed.code).toBe(0);
    expect(json<GcJson>(removed.out).backends[0]!.orphans).toEqual([
      expect.objectContaining({ id: partial, old: true, removed: true }),
    ]);
    expect(existsSync(partial)).toBe(false);
    expect((await run(box, ['gc'])).out).toContain('local (file): no orphans');
    // The killed add's id is free.
    expect((await run(box, ['add', '-', '--id', 'killed'], { input: 'x' })).code).toBe(0);
  });

  it('says which backends cannot list orphans', async () => {
    const conf = join(box.root, 'two.conf');
    writeFileSync(
      conf,
      `[DEFAULT]\nenabled_backends = local:file, web:http\n[glance_store]\ndefault_backend = local\n[local]\nfilesystem_store_datadir = ${box.dataDir}/local\n`,
    );
    const result = await run(box, ['gc', '--config', conf]);
    expect(result.code).toBe(0);
    expect(result.out).toContain('web (http): its driver cannot list orphans');
    const one = await run(box, ['gc', '--config', conf, '--backend', 'web', '--json']);
    expect(json<GcJson>(one.out).backends).toEqual([
      { id: 'web', type: 'http', collects: false, orphans: [] },
    ]);
  });

  it('refuses a bad age (usage) and an unknown backend', async () => {
    const bad = await run(box, ['gc', '--older-than', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      "--older-than must be a duration such as 30, 90s, 15m, 12h, 1d or 1d12h, got 'soon'",
    );
    const unknown = await run(box, ['gc', '--backend', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^store: UnknownScheme: /);
  });
});

describe('durations', () => {
  it('parses seconds, units and sums, and nothing else', () => {
    expect(parseDuration('30')).toBe(30_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('1d12h')).toBe(129_600_000);
    expect(parseDuration('2w')).toBe(1_209_600_000);
    for (const text of ['', '1.5h', '-1d', '1y', 'd', '1 d', '1d-2h'])
      expect(parseDuration(text)).toBeUndefined();
  });

  it('formats ages in the two largest units', () => {
    expect(formatAge(0)).toBe('0s');
    expect(formatAge(90_000)).toBe('1m 30s');
    expect(formatAge(2 * 86_400_000 + 3_600_000 + 5_000)).toBe('2d 1h');
  });
});
