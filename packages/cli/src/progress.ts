/**
 * The progress bar of add, get, copy and verify: bytes, percentage, throughput
 * and ETA, redrawn in place on stderr at most ten times a second. Only on a
 * terminal and never with --json, so pipes and scripts see clean output.
 */
import type { OutputStream } from './io.js';
import { formatBytes, formatDuration } from './units.js';

/** Receives the byte count of a transfer. */
export interface Progress {
  /** Bytes done so far. */
  update(bytes: number): void;
  /** Draws the final state and ends the line. */
  done(): void;
  /** Ends the line after a failure, leaving what was drawn. */
  fail(): void;
}

const REDRAW_MS = 100;
const BAR_WIDTH = 24;

/** A progress that draws nothing. */
export const noProgress: Progress = { update() {}, done() {}, fail() {} };

/**
 * A progress bar for a transfer of `total` bytes (undefined or 0 = unknown, then
 * without percentage and ETA), drawn on `stream`.
 */
export function progressBar(
  stream: OutputStream,
  label: string,
  total: number | undefined,
  now: () => number = Date.now,
): Progress {
  const started = now();
  let bytes = 0;
  let drawnAt = 0;
  let drawn = false;
  let finished = false;

  const line = (): string => {
    const seconds = Math.max((now() - started) / 1000, 0.001);
    const rate = bytes / seconds;
    const parts = [label.padEnd(4)];
    if (total) {
      const ratio = Math.min(bytes / total, 1);
      const filled = Math.round(ratio * BAR_WIDTH);
      parts.push(`[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`);
      parts.push(`${Math.floor(ratio * 100)}%`.padStart(4));
      parts.push(`${formatBytes(bytes)} / ${formatBytes(total)}`);
    } else parts.push(formatBytes(bytes));
    parts.push(`${formatBytes(rate)}/s`);
    if (total && rate > 0) parts.push(`ETA ${formatDuration((total - bytes) / rate)}`);
    const text = parts.join('  ');
    const width = stream.columns && stream.columns > 10 ? stream.columns - 1 : text.length;
    return text.slice(0, width);
  };
  const draw = () => {
    drawnAt = now();
    drawn = true;
    // \r and erase-to-end-of-line: redraw in place.
    stream.write(`\r${line()}\x1b[K`);
  };

  draw();
  return {
    update(n) {
      bytes = n;
      if (!finished && now() - drawnAt >= REDRAW_MS) draw();
    },
    done() {
      if (finished) return;
      finished = true;
      if (total) bytes = Math.max(bytes, total);
      draw();
      stream.write('\n');
    },
    fail() {
      if (finished) return;
      finished = true;
      if (drawn) stream.write('\n');
    },
  };
}
