/**
 * glance_store's exception tree: StoreRandomGetNotSupported is a
 * StoreGetNotSupported (exceptions.py), in this copy of core and across copies
 * (the CommonJS build against the sources). Run `pnpm --filter @store/core build` first.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import * as core from '../src/index.js';

const cjs = createRequire(import.meta.url)('../dist/index.cjs') as typeof core;

describe('StoreRandomGetNotSupported', () => {
  it('is a StoreGetNotSupported and a StoreError, keeping its own code and name', () => {
    const err = new core.StoreRandomGetNotSupported('no ranged reads');
    expect(err).toBeInstanceOf(core.StoreGetNotSupported);
    expect(err).toBeInstanceOf(core.StoreError);
    expect(err).not.toBeInstanceOf(core.StoreAddDisabled);
    expect(err.code).toBe('StoreRandomGetNotSupported');
    expect(err.name).toBe('StoreRandomGetNotSupported');
    expect(new core.StoreGetNotSupported('x')).not.toBeInstanceOf(core.StoreRandomGetNotSupported);
  });

  it('is a StoreGetNotSupported across copies of core', () => {
    expect(new cjs.StoreRandomGetNotSupported('x')).toBeInstanceOf(core.StoreGetNotSupported);
    expect(new core.StoreRandomGetNotSupported('x')).toBeInstanceOf(cjs.StoreGetNotSupported);
    expect(new cjs.StoreGetNotSupported('x')).not.toBeInstanceOf(core.StoreRandomGetNotSupported);
  });
});
