/**
 * `store gc`: what each backend holds that no add completed (its orphans:
 * unfinished multipart uploads, uncommitted blocks, partial RBD images,
 * temporary files, Swift segments without a manifest), shown by default and
 * removed with --remove when older than --older-than.
 */
import { type Orphan, StoreError } from '@store/core';
import { table } from '../format.js';
import { formatAge, formatBytes, parseDuration } from '../units.js';
import { UsageError } from '../usage.js';
import { type Command, stringOption } from './command.js';

/** glance_store has no orphan sweep; a day leaves every add under way alone. */
const DEFAULT_AGE = '1d';

/** One orphan as printed, with what became of it. */
interface Shown {
  readonly orphan: Orphan;
  readonly old: boolean;
  removed?: boolean;
  kept?: string;
}

/** One backend's outcome. */
interface BackendReport {
  readonly id: string;
  readonly type: string;
  readonly collects: boolean;
  readonly orphans: Shown[];
  error?: StoreError | Error;
}

export const gcCommand: Command = {
  name: 'gc',
  summary: "show (or --remove) what backends hold that no add completed: a crashed add's leftovers",
  synopsis: '[--backend ID] [--older-than AGE] [--remove]',
  positionals: { min: 0, max: 0, names: '' },
  options: {
    backend: { type: 'string', value: 'ID', help: 'only this backend (default: every one)' },
    'older-than': {
      type: 'string',
      value: 'AGE',
      help: `what counts as old: 30 (seconds), 90s, 15m, 12h, 1d, 2w, 1d12h (default ${DEFAULT_AGE})`,
    },
    remove: { type: 'boolean', help: 'remove the old ones (without it, only show them)' },
  },
  description: `Lists each backend's orphans: what an add left when its process died, or when
cleaning up after a failure failed too. s3: unfinished multipart uploads; azure:
blobs with staged blocks never committed; rbd: images without a protected
snapshot that no client has open; file: temporary files whose writer is not
running; swift: segments whose manifest does not exist. Readers never see them,
but they take space. A driver without the listing (http) is shown as such.

Nothing is removed without --remove, and then only orphans older than
--older-than (default ${DEFAULT_AGE}): an add under way holds the same things, and
age (last written, where the backend tells) is what sets it apart. An orphan
that became an image meanwhile is kept. Ctrl-C stops it, as any command.

--json prints {"olderThan": MS, "remove": BOOL, "backends": [{"id", "type",
"collects": BOOL, "orphans": [{"kind", "id", "imageId"?, "where", "bytes"?,
"since": ISO-8601, "ageMs", "old": BOOL, "removed"?: true, "kept"?: REASON}],
"error"?: {"code", "message"}}]}. Exits 1 when a backend could not be listed or an
orphan could not be removed, after reporting the others.`,
  async run(ctx, args) {
    const ageText = stringOption(args, 'older-than') ?? DEFAULT_AGE;
    const olderThan = parseDuration(ageText);
    if (olderThan === undefined)
      throw new UsageError(
        `--older-than must be a duration such as 30, 90s, 15m, 12h, 1d or 1d12h, got '${ageText}'`,
        'gc',
      );
    const remove = args.values.remove === true;
    const only = stringOption(args, 'backend');
    const { store } = await ctx.openStore();
    if (only !== undefined) store.backend(only); // UnknownScheme, before any listing
    const backends = store.backends.filter((b) => only === undefined || b.id === only);
    const reports: BackendReport[] = [];
    const now = Date.now();
    for (const backend of backends) {
      ctx.signal.throwIfAborted();
      const report: BackendReport = {
        id: backend.id,
        type: backend.type,
        collects: store.collectsOrphans(backend.id),
        orphans: [],
      };
      reports.push(report);
      if (!report.collects) continue;
      try {
        for await (const orphan of store.orphans(backend.id, { signal: ctx.signal })) {
          report.orphans.push({ orphan, old: now - orphan.since.getTime() >= olderThan });
        }
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        report.error = err as Error;
        continue;
      }
      if (!remove) continue;
      for (const shown of report.orphans) {
        if (!shown.old) continue;
        ctx.signal.throwIfAborted();
        try {
          await store.removeOrphan(backend.id, shown.orphan, { signal: ctx.signal });
          shown.removed = true;
        } catch (err) {
          if (ctx.signal.aborted) throw err;
          if (err instanceof StoreError && err.code === 'InUseByStore') shown.kept = err.message;
          else report.error ??= err as Error;
        }
      }
    }
    print(ctx, reports, { olderThan, ageText, remove, now });
    const failed = reports.find((r) => r.error);
    if (failed?.error) throw failed.error;
  },
};

function print(
  ctx: Parameters<Command['run']>[0],
  reports: readonly BackendReport[],
  run: { olderThan: number; ageText: string; remove: boolean; now: number },
): void {
  if (ctx.flags.json) {
    ctx.printJson({
      olderThan: run.olderThan,
      remove: run.remove,
      backends: reports.map((r) => ({
        id: r.id,
        type: r.type,
        collects: r.collects,
        orphans: r.orphans.map(({ orphan, old, removed, kept }) => ({
          kind: orphan.kind,
          id: ctx.redact(orphan.id),
          ...(orphan.imageId !== undefined ? { imageId: orphan.imageId } : {}),
          where: ctx.redact(orphan.where),
          ...(orphan.bytes !== undefined ? { bytes: orphan.bytes } : {}),
          since: orphan.since.toISOString(),
          ageMs: Math.max(0, run.now - orphan.since.getTime()),
          old,
          ...(removed ? { removed: true } : {}),
          ...(kept !== undefined ? { kept: ctx.redact(kept) } : {}),
        })),
        ...(r.error
          ? {
              error: {
                code: r.error instanceof StoreError ? r.error.code : 'Error',
                message: ctx.redact(r.error.message),
              },
            }
          : {}),
      })),
    });
    return;
  }
  const lines: string[] = [];
  let old = 0;
  let removed = 0;
  for (const r of reports) {
    const head = `${r.id} (${r.type})`;
    if (!r.collects) {
      lines.push(`${head}: its driver cannot list orphans`);
      continue;
    }
    if (r.orphans.length === 0 && !r.error) lines.push(`${head}: no orphans`);
    if (r.orphans.length > 0) {
      lines.push(`${head}:`);
      const rows = r.orphans.map(({ orphan, old: isOld, removed: gone, kept }) => [
        `  ${orphan.kind}`,
        orphan.bytes !== undefined ? formatBytes(orphan.bytes) : '-',
        formatAge(run.now - orphan.since.getTime()),
        gone ? 'removed' : kept !== undefined ? 'kept: now in use' : isOld ? 'old' : 'young',
        ctx.redact(orphan.where),
      ]);
      lines.push(...table(['  KIND', 'BYTES', 'AGE', 'STATE', 'WHERE'], rows));
      old += r.orphans.filter((o) => o.old).length;
      removed += r.orphans.filter((o) => o.removed).length;
    }
    if (r.error) lines.push(`${head}: failed: ${ctx.redact(r.error.message)}`);
  }
  lines.push('');
  lines.push(
    run.remove
      ? `removed ${removed} orphan(s) older than ${run.ageText}`
      : old > 0
        ? `${old} orphan(s) older than ${run.ageText}: run 'store gc --remove' to remove them`
        : `no orphans older than ${run.ageText}`,
  );
  ctx.printLines(lines);
}
