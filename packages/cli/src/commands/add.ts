/** `store add <file|-> …`: stores an image and prints location, size and digests. */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { type AddResult, fileSource, type ImageData, NotFound } from '@store/core';
import { keyValues } from '../format.js';
import { parseCount } from '../usage.js';
import { type Command, stringOption } from './command.js';

/** The JSON shape of an add (and, with `source`, of a copy). */
export function addResultJson(imageId: string, added: AddResult): Record<string, unknown> {
  return {
    imageId,
    location: added.location,
    backend: added.backend,
    size: added.size,
    checksum: added.checksum,
    multihash: added.multihash,
    hashingAlgo: added.hashingAlgo,
    metadata: added.metadata,
  };
}

/** The human `key value` rows of an add or copy result. */
export function addResultRows(imageId: string, added: AddResult): [string, string][] {
  return [
    ['location', added.location],
    ['image id', imageId],
    ['backend', added.backend],
    ['size', String(added.size)],
    ['checksum', `${added.checksum} (md5)`],
    ['multihash', `${added.multihash} (${added.hashingAlgo})`],
  ];
}

/** What add reads: a regular file through core's fileSource, anything else as a stream. */
async function openInput(
  file: string,
  cwd: string,
  stdin: Readable,
  signal: AbortSignal,
): Promise<{ data: ImageData; size: number; close: () => void }> {
  if (file === '-') return { data: stdin, size: 0, close: () => stdin.destroy() };
  const path = resolve(cwd, file);
  const info = await stat(path).catch((err: Error) => {
    throw new NotFound(`Cannot read the file to add, ${path}: ${err.message}`);
  });
  if (info.isFile()) {
    const source = await fileSource(path, { signal });
    return { data: source, size: source.size, close: () => void source.close() };
  }
  // Special files (/dev/stdin, FIFOs) have no meaningful size: stream them as unknown.
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  return { data: stream, size: 0, close: () => stream.destroy() };
}

export const addCommand: Command = {
  name: 'add',
  summary: 'store an image and print its location, size, checksum and multihash',
  synopsis: '<file|-> [--backend ID] [--id IMAGE_ID] [--hash ALGO] [--size N]',
  positionals: { min: 1, max: 1, names: '<file|->' },
  options: {
    backend: {
      type: 'string',
      value: 'ID',
      help: 'backend to store into (default: the default backend)',
    },
    id: { type: 'string', value: 'IMAGE_ID', help: 'image id (default: a new UUID)' },
    hash: { type: 'string', value: 'ALGO', help: 'multihash algorithm (default: sha512)' },
    size: {
      type: 'string',
      value: 'N',
      help: 'declared size in bytes; data of another length fails (default: the file size, unknown for -)',
    },
  },
  description: `Stores the file (or standard input, for -) as an image, hashing it on the way
with md5 (the checksum) and the multihash algorithm. Interrupting it (Ctrl-C)
leaves nothing in the backend.

--json prints: {"imageId", "location", "backend", "size", "checksum",
"multihash", "hashingAlgo", "metadata"}.`,
  async run(ctx, args) {
    const declared = parseCount('size', stringOption(args, 'size'));
    const backend = stringOption(args, 'backend');
    const hash = stringOption(args, 'hash');
    const imageId = stringOption(args, 'id') ?? randomUUID();
    const { store } = await ctx.openStore();
    const input = await openInput(args.positionals[0]!, ctx.io.cwd, ctx.io.stdin, ctx.signal);
    const size = declared ?? input.size;
    const progress = ctx.progress('add', size || undefined);
    let added: AddResult;
    try {
      added = await store.add(imageId, input.data, size, {
        ...(backend !== undefined ? { backend } : {}),
        ...(hash !== undefined ? { hashingAlgo: hash } : {}),
        signal: ctx.signal,
        onProgress: (bytes) => progress.update(bytes),
      });
      progress.done();
    } catch (err) {
      progress.fail();
      throw err;
    } finally {
      // Stop reading the input (stdin included) whatever happened.
      input.close();
    }
    if (ctx.flags.json) ctx.printJson(addResultJson(imageId, added));
    else ctx.printLines(keyValues(addResultRows(imageId, added)));
  },
};
