import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { progressBar } from '../src/progress.js';
import { formatBytes, formatDuration } from '../src/units.js';

/** A terminal-like stream recording what is written. */
function terminal(columns?: number) {
  const writes: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        writes.push(chunk.toString());
        callback();
      },
    }),
    { isTTY: true, columns },
  );
  return { stream, writes };
}

describe('progress bar', () => {
  it('shows percentage, bytes, throughput and ETA, redrawn at most every 100 ms', () => {
    const { stream, writes } = terminal();
    let now = 0;
    const bar = progressBar(stream, 'get', 100 << 20, () => now);
    expect(writes).toHaveLength(1);
    now = 50;
    bar.update(1 << 20);
    expect(writes).toHaveLength(1);
    now = 1000;
    bar.update(25 << 20);
    expect(writes.at(-1)).toBe(
      `\rget   [######..................]   25%  25.0 MiB / 100.0 MiB  25.0 MiB/s  ETA 0:03\x1b[K`,
    );
    now = 4000;
    bar.done();
    expect(writes.at(-2)).toContain('[########################]  100%  100.0 MiB / 100.0 MiB');
    expect(writes.at(-1)).toBe('\n');
    bar.update(1);
    bar.fail();
    expect(writes.at(-1)).toBe('\n');
  });

  it('shows bytes and throughput only when the size is unknown, clipped to the terminal', () => {
    const { stream, writes } = terminal(30);
    let now = 0;
    const bar = progressBar(stream, 'add', undefined, () => now);
    now = 2000;
    bar.update(3 * 2 ** 30);
    expect(writes.at(-1)).toBe('\radd   3.0 GiB  1.5 GiB/s\x1b[K');
    bar.fail();
    expect(writes.at(-1)).toBe('\n');
    const narrow = terminal(20);
    progressBar(narrow.stream, 'copy', 10, () => 0);
    expect(narrow.writes[0]!.length).toBe('\r'.length + 19 + '\x1b[K'.length);
  });

  it('formats sizes and durations', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(5 * 1024 ** 4)).toBe('5.0 TiB');
    expect(formatDuration(59.6)).toBe('1:00');
    expect(formatDuration(3725)).toBe('1:02:05');
  });
});
