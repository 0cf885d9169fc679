/** `store size <location>`: prints an image's size in bytes. */
import { redactUri } from '@store/core';
import type { Command } from './command.js';

export const sizeCommand: Command = {
  name: 'size',
  summary: "print an image's size in bytes",
  synopsis: '<location>',
  positionals: { min: 1, max: 1, names: '<location>' },
  options: {},
  description: `Prints the size in bytes of the image at <location>.

--json prints {"location", "size"}. Credentials in <location>
(userinfo, signed-URL query values) are printed masked.`,
  async run(ctx, args) {
    const location = args.positionals[0]!;
    const { store } = await ctx.openStore();
    const size = await store.getSize(location, { signal: ctx.signal });
    if (ctx.flags.json) ctx.printJson({ location: redactUri(location), size });
    else ctx.printLines([String(size)]);
  },
};
