/** `store copy <location> --to BACKEND`: Glance's copy-image, done by the library. */
import { randomUUID } from 'node:crypto';
import { redactUri } from '@store/core';
import { keyValues } from '../format.js';
import { UsageError } from '../usage.js';
import { addResultJson, addResultRows } from './add.js';
import { type Command, stringOption } from './command.js';

export const copyCommand: Command = {
  name: 'copy',
  summary: 'copy an image into another backend, verifying it on arrival',
  synopsis: '<location> --to BACKEND [--id IMAGE_ID] [--hash ALGO]',
  positionals: { min: 1, max: 1, names: '<location>' },
  options: {
    to: { type: 'string', value: 'BACKEND', help: 'backend id to copy into (required)' },
    id: { type: 'string', value: 'IMAGE_ID', help: 'image id of the copy (default: a new UUID)' },
    hash: { type: 'string', value: 'ALGO', help: 'multihash algorithm (default: sha512)' },
  },
  description: `Streams the image at <location> into backend BACKEND. The copy's size must
equal the source's, and the copy is read back from BACKEND and its multihash
checked; on any failure or Ctrl-C nothing is left in BACKEND.

--json prints the add shape plus the source: {"source", "imageId", "location",
"backend", "size", "checksum", "multihash", "hashingAlgo", "metadata"}. Credentials in <location>
(userinfo, signed-URL query values) are printed masked.`,
  async run(ctx, args) {
    const to = stringOption(args, 'to');
    if (to === undefined || to === '') throw new UsageError('copy needs --to BACKEND', 'copy');
    const imageId = stringOption(args, 'id') ?? randomUUID();
    const hash = stringOption(args, 'hash');
    const source = args.positionals[0]!;
    const { store } = await ctx.openStore();
    // The size is only needed to draw the bar; skip the extra call otherwise.
    const progress =
      ctx.flags.json || !ctx.io.stderr.isTTY
        ? ctx.progress('copy', undefined)
        : ctx.progress('copy', await store.getSize(source, { signal: ctx.signal }));
    let copied: Awaited<ReturnType<typeof store.copy>>;
    try {
      copied = await store.copy(source, {
        to,
        imageId,
        ...(hash !== undefined ? { hashingAlgo: hash } : {}),
        signal: ctx.signal,
        onProgress: (bytes) => progress.update(bytes),
      });
      progress.done();
    } catch (err) {
      progress.fail();
      throw err;
    }
    // The source may carry credentials; the new location is printed whole (it is
    // the copy's address, as add prints it).
    const shownSource = redactUri(source);
    if (ctx.flags.json) ctx.printJson({ source: shownSource, ...addResultJson(imageId, copied) });
    else {
      ctx.printLines(
        keyValues([
          ['copied', shownSource],
          ...addResultRows(imageId, copied),
          [
            'verified',
            `size and ${copied.hashingAlgo} multihash, read back from '${copied.backend}'`,
          ],
        ]),
      );
    }
  },
};
