import { describe, expect, it } from 'vitest';
import { effectiveBlockSize, MAX_BLOCKS } from '../src/index.js';

const MiB = 1024 * 1024;

describe('block size', () => {
  it('keeps the configured size while the image fits in the block count limit', () => {
    expect(effectiveBlockSize(4 * MiB, 0)).toBe(4 * MiB);
    expect(effectiveBlockSize(4 * MiB, 4 * MiB * MAX_BLOCKS)).toBe(4 * MiB);
  });

  it('enlarges it to whole MiB for a declared size that would need more blocks', () => {
    expect(effectiveBlockSize(4 * MiB, 4 * MiB * MAX_BLOCKS + 1)).toBe(5 * MiB);
    const size = 1024 * 1024 * MiB; // 1 TiB
    const block = effectiveBlockSize(MiB, size);
    expect(block % MiB).toBe(0);
    expect(Math.ceil(size / block)).toBeLessThanOrEqual(MAX_BLOCKS);
  });
});
