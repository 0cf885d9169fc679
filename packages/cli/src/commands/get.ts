/** `store get <location> …`: streams an image to a file or to stdout. */
import { resolve } from 'node:path';
import { redactUri } from '@store/core';
import { keyValues } from '../format.js';
import { writeFileAtomically, writeToStream } from '../outfile.js';
import { parseCount } from '../usage.js';
import { type Command, stringOption } from './command.js';

export const getCommand: Command = {
  name: 'get',
  summary: 'read an image to a file or to standard output',
  synopsis: '<location> [--out FILE] [--offset N] [--length N]',
  positionals: { min: 1, max: 1, names: '<location>' },
  options: {
    out: {
      type: 'string',
      value: 'FILE',
      help: 'write to FILE, replaced only once complete (default: standard output)',
    },
    offset: { type: 'string', value: 'N', help: 'first byte to read (needs READ_OFFSET)' },
    length: {
      type: 'string',
      value: 'N',
      help: 'bytes to read from the offset (needs READ_CHUNK)',
    },
  },
  description: `Streams the image at <location> to FILE or, without --out, to standard output
(so it pipes into sha512sum and the like). With --out the bytes go to a hidden
temporary file beside FILE that is renamed into place when complete; on a
failure or Ctrl-C no file is left. Temporary files of FILE left by a run that
was killed outright are removed once an hour old (never a running one's).

--json prints {"location", "backend", "size", "offset", "bytes", "out"} ("out"
is null for standard output); when the data goes to standard output, that
document goes to stderr instead, so the data stays clean. Credentials in <location>
(userinfo, signed-URL query values) are printed masked.`,
  async run(ctx, args) {
    const offset = parseCount('offset', stringOption(args, 'offset'));
    const length = parseCount('length', stringOption(args, 'length'));
    const outOption = stringOption(args, 'out');
    const out =
      outOption === undefined || outOption === '-' ? undefined : resolve(ctx.io.cwd, outOption);
    const location = args.positionals[0]!;
    const { store } = await ctx.openStore();
    const got = await store.get(location, {
      ...(offset !== undefined ? { offset } : {}),
      ...(length !== undefined ? { chunkSize: length } : {}),
      signal: ctx.signal,
    });
    const progress = ctx.progress('get', got.size);
    let bytes: number;
    try {
      const onBytes = (n: number) => progress.update(n);
      bytes = out
        ? await writeFileAtomically(out, got.pipeTo, onBytes, ctx.logger)
        : await writeToStream(ctx.io.stdout, got.pipeTo, onBytes);
      progress.done();
    } catch (err) {
      progress.fail();
      throw err;
    } finally {
      got.stream.destroy();
    }
    // The location may carry credentials (userinfo, a signed URL's query): never echo them.
    const shown = redactUri(location);
    const result = {
      location: shown,
      backend: got.backend,
      size: got.size,
      offset: offset ?? 0,
      bytes,
      out: out ?? null,
    };
    if (ctx.flags.json) ctx.printJson(result, out ? ctx.io.stdout : ctx.io.stderr);
    else if (out) {
      ctx.printLines(
        keyValues([
          ['wrote', `${bytes} bytes to ${out}`],
          ['from', `${shown} (backend ${got.backend})`],
        ]),
      );
    }
  },
};
