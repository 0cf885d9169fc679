/**
 * Hostile input to the file driver (fast-check): location URIs and image ids.
 * Only typed errors; parse → format → parse is stable; no id reaches outside
 * the data directory.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { BadStoreUri, Invalid, MultiStore } from '@store/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fileDriver, { checkImageId, fileLocation, parseFileLocation } from '../src/index.js';

const RUNS = { numRuns: 10_000 };

const hostile = fc.constantFrom(
  '/',
  '\\',
  '..',
  '.',
  '\0',
  '%2e%2e',
  '%2F',
  '?',
  '#',
  ' ',
  '\t',
  '\n',
  '\r',
  '~',
  ':',
  '@',
  'é',
  '\u202e',
  '.store-partial-',
  'x'.repeat(300),
);
const pathish = fc
  .array(
    fc.oneof(hostile, fc.string({ maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 4 })),
    {
      maxLength: 10,
    },
  )
  .map((parts) => parts.join(''));

describe('file location parser', () => {
  const uri = fc.oneof(
    fc
      .tuple(
        fc.constantFrom('file://', 'filesystem://', 'FILE://', 'File:///', 'file:', 's3://', ''),
        pathish,
      )
      .map(([scheme, path]) => `${scheme}${path}`),
    fc.string({ unit: 'binary' }),
  );

  it('throws only BadStoreUri, and parse → format → parse is stable', () => {
    fc.assert(
      fc.property(uri, (text) => {
        let location: ReturnType<typeof parseFileLocation>;
        try {
          location = parseFileLocation(text);
        } catch (err) {
          expect(err).toBeInstanceOf(BadStoreUri);
          return;
        }
        expect(location.path.startsWith('/')).toBe(true);
        expect(location.path.includes('\0')).toBe(false);
        expect(location.uri).toBe(`file://${location.path}`);
        expect(parseFileLocation(location.uri)).toEqual(location);
      }),
      RUNS,
    );
  });
});

describe('image ids', () => {
  const dir = '/var/lib/glance/images';
  const id = fc.oneof(pathish, fc.string({ unit: 'binary', maxLength: 300 }));

  it('are refused with Invalid, or name a file directly inside the data directory', () => {
    fc.assert(
      fc.property(id, (imageId) => {
        try {
          checkImageId(imageId);
        } catch (err) {
          expect(err).toBeInstanceOf(Invalid);
          expect((err as Error).message).not.toContain('\0');
          return;
        }
        const path = resolve(dir, imageId);
        expect(dirname(path)).toBe(dir);
        expect(basename(path)).toBe(imageId);
        expect(Buffer.byteLength(imageId)).toBeLessThanOrEqual(255);
        // Its location reads back as the same file.
        expect(parseFileLocation(fileLocation(path).uri).path).toBe(path);
      }),
      RUNS,
    );
  });

  describe('through the manager onto a real disk', () => {
    let root: string;
    let store: MultiStore;
    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), 'store-file-ids-'));
      store = await MultiStore.create(
        {
          enabledBackends: { l: 'file' },
          defaultBackend: 'l',
          backends: { l: { filesystem_store_datadir: join(root, 'data') } },
        },
        { drivers: [fileDriver] },
      );
    });
    afterAll(async () => {
      await store.close();
      await rm(root, { recursive: true, force: true });
    });

    it('store a hostile id under exactly that name in the data directory, or nothing at all', async () => {
      await fc.assert(
        fc.asyncProperty(id, async (imageId) => {
          try {
            const added = await store.add(imageId, Buffer.from('x'), 1);
            expect(await readdir(join(root, 'data'))).toEqual([imageId]);
            expect(added.location).toBe(`file://${join(root, 'data')}/${imageId}`);
            await store.delete(added.location);
          } catch (err) {
            expect(err, String(err)).toBeInstanceOf(Invalid);
          }
          expect(await readdir(join(root, 'data'))).toEqual([]);
          expect(await readdir(root)).toEqual(['data']);
        }),
        { numRuns: 500 },
      );
    });
  });
});
