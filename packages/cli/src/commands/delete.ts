/** `store delete <location>`: removes an image. */
import { redactUri } from '@store/core';
import type { Command } from './command.js';

export const deleteCommand: Command = {
  name: 'delete',
  summary: 'remove an image',
  synopsis: '<location>',
  positionals: { min: 1, max: 1, names: '<location>' },
  options: {},
  description: `Removes the image at <location> from the backend that holds it.

--json prints {"location", "deleted": true}. Credentials in <location>
(userinfo, signed-URL query values) are printed masked.`,
  async run(ctx, args) {
    const location = args.positionals[0]!;
    const { store } = await ctx.openStore();
    await store.delete(location, { signal: ctx.signal });
    const shown = redactUri(location);
    if (ctx.flags.json) ctx.printJson({ location: shown, deleted: true });
    else ctx.printLines([`deleted ${shown}`]);
  },
};
