/**
 * `store verify`: checks the configuration (glance_store's verify_default_store),
 * or, given a location and digests, that an image's bytes match them.
 */
import { DriverLoadFailure, StoreAddDisabled } from '@store/core';
import { describeSource } from '../config.js';
import { keyValues } from '../format.js';
import { UsageError } from '../usage.js';
import { type Command, stringOption } from './command.js';

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'check the config (default backend, drivers), or an image against its digests',
  synopsis: '[<location> (--checksum MD5 | --multihash HEX [--hash ALGO])]',
  positionals: { min: 0, max: 1, names: '[<location>]' },
  options: {
    checksum: { type: 'string', value: 'MD5', help: 'md5 hex digest the image must have' },
    multihash: { type: 'string', value: 'HEX', help: 'multihash hex digest the image must have' },
    hash: { type: 'string', value: 'ALGO', help: 'algorithm of --multihash (default: sha512)' },
  },
  description: `Without a location: checks that a default backend is configured and enabled
and that no backend is disabled (unknown type, driver failing to load or refusing
its configuration) or reads only because its write side failed to configure;
exit 1 otherwise.
With a location: reads the whole image and checks it against --checksum and/or
--multihash; exit 1 with ChecksumMismatch when it differs.

--json prints {"ok": true, "config", "default", "backends"} for the config, or
{"ok": true, "location", "backend", "size", "checksum"?, "multihash"?,
"hashingAlgo"?} for an image.`,
  async run(ctx, args) {
    const location = args.positionals[0];
    const checksum = stringOption(args, 'checksum');
    const multihash = stringOption(args, 'multihash');
    const hash = stringOption(args, 'hash');
    if (!location && (checksum || multihash || hash)) {
      throw new UsageError('--checksum, --multihash and --hash need a <location>', 'verify');
    }
    if (location && checksum === undefined && multihash === undefined) {
      throw new UsageError('verifying an image needs --checksum or --multihash', 'verify');
    }
    const { store, source } = await ctx.openStore();
    if (!location) {
      store.verifyDefault();
      const [disabled] = store.disabledBackends;
      if (disabled) {
        throw new DriverLoadFailure(
          `Backend '${disabled.id}' (${disabled.type}) is disabled: ${disabled.reason}`,
        );
      }
      const readOnly = store.backends.find((b) => b.addDisabledReason !== undefined);
      if (readOnly) {
        throw new StoreAddDisabled(
          `Backend '${readOnly.id}' (${readOnly.type}) cannot add images: ${readOnly.addDisabledReason}`,
        );
      }
      const ids = store.backends.map((b) => b.id);
      if (ctx.flags.json) {
        ctx.printJson({ ok: true, config: source, default: store.defaultBackend, backends: ids });
      } else {
        ctx.printLines(
          keyValues([
            ['config', `${describeSource(source)}: OK`],
            ['default', store.defaultBackend ?? ''],
            ['backends', ids.join(', ')],
          ]),
        );
      }
      return;
    }
    const got = await store.get(location, {
      signal: ctx.signal,
      verify: {
        ...(checksum !== undefined ? { checksum } : {}),
        ...(multihash !== undefined ? { multihash } : {}),
        ...(hash !== undefined ? { hashingAlgo: hash } : {}),
      },
    });
    const progress = ctx.progress('read', got.size);
    try {
      let bytes = 0;
      for await (const chunk of got.stream) {
        bytes += (chunk as Uint8Array).byteLength;
        progress.update(bytes);
      }
      progress.done();
    } catch (err) {
      progress.fail();
      throw err;
    } finally {
      got.stream.destroy();
    }
    const checked = {
      ...(checksum !== undefined ? { checksum: checksum.toLowerCase() } : {}),
      ...(multihash !== undefined
        ? { multihash: multihash.toLowerCase(), hashingAlgo: hash ?? 'sha512' }
        : {}),
    };
    if (ctx.flags.json) {
      ctx.printJson({ ok: true, location, backend: got.backend, size: got.size, ...checked });
    } else {
      ctx.printLines(
        keyValues([
          ['verified', location],
          ['backend', got.backend],
          ['size', String(got.size)],
          ...(checked.checksum
            ? [['checksum', `${checked.checksum} (md5) matches`] as [string, string]]
            : []),
          ...(checked.multihash
            ? [
                ['multihash', `${checked.multihash} (${checked.hashingAlgo}) matches`] as [
                  string,
                  string,
                ],
              ]
            : []),
        ]),
      );
    }
  },
};
