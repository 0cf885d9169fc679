/** The file driver's options, with glance_store's names and defaults. */
import { BadStoreConfiguration, type OptionSpec } from '@store/core';

/** Used when neither `filesystem_store_datadir` nor `filesystem_store_datadirs` is set. */
export const DEFAULT_DATADIR = '/var/lib/glance/images';

export const FILE_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'filesystem_store_datadir',
    type: 'string',
    reservedDefault: (backendId) => `/var/lib/glance/${backendId}`,
    help: `Directory to which images are written. Created at start-up if missing; write access is checked. Defaults to ${DEFAULT_DATADIR} when filesystem_store_datadirs is not set either; setting both is an error.`,
  },
  {
    name: 'filesystem_store_datadirs',
    type: 'multistring',
    help: 'Directories with optional priorities, as "<path>:<priority>" entries (repeat the option). Writes go to the highest-priority directory with room for the image; among equal priorities, the one with the most free space.',
  },
  {
    name: 'filesystem_store_legacy_datadirs',
    type: 'list',
    help: 'Directories no longer written to whose images are still read and deleted (not in glance_store, which reads and deletes any path a location names): comma-separated paths. As with the data directories, only regular files directly inside them are served. Images are never added there.',
  },
  {
    name: 'filesystem_store_metadata_file',
    type: 'string',
    help: 'JSON file of location metadata: an object or a list of objects with string "id" and "mountpoint"; an image under a mountpoint gets that object as its location metadata.',
  },
  {
    name: 'filesystem_store_file_perm',
    type: 'int',
    default: 0,
    help: 'Permissions of stored image files, its digits read as octal (e.g. 640, or 2750 with setgid); 0 or less leaves them as created. The owner must keep read access. Group or other access also grants the directory execute permission for them.',
  },
  {
    name: 'filesystem_store_chunk_size',
    type: 'int',
    default: 65536,
    min: 1,
    help: 'Chunk size in bytes for reading images, and the unit in which thin provisioning detects all-zero regions.',
  },
  {
    name: 'filesystem_thin_provisioning',
    type: 'bool',
    default: false,
    help: 'Leave all-zero chunks as holes in the file (sparse images).',
  },
  {
    name: 'filesystem_store_partial_max_age',
    type: 'int',
    default: 3600,
    min: 0,
    help: 'Seconds after its last write that a temporary file left by a crashed write (.store-partial-<pid>-<uuid>) is removed when the backend starts, unless its writer process is still alive. 0 turns the sweep off (not in glance_store, which writes in place).',
  },
  {
    name: 'filesystem_store_timeout',
    type: 'int',
    default: 0,
    min: 0,
    help: "Seconds a filesystem call (open, stat, read, write, link, unlink) may take before the operation fails with RemoteServiceUnavailable, so a caller is freed from a hung filesystem such as a dead NFS mount; 0 waits for ever, as plain system calls do. While set, this backend keeps at most half of libuv's threads (UV_THREADPOOL_SIZE) busy, and after a timeout it makes no new call until the stuck one returns (its operations fail at once), so the other backends keep working. A call that timed out still holds its thread until the kernel gives up. The name and default of the glance_store blueprint filesystem-timeout-protection (not in glance_store 4.1.0).",
  },
  {
    name: 'filesystem_store_fsync',
    type: 'bool',
    default: false,
    help: 'Flush each image to stable storage before it appears under its final name (not in glance_store; costs write throughput).',
  },
];

/** Typed view of the validated options. */
export interface FileOptions {
  readonly filesystem_store_datadir?: string;
  readonly filesystem_store_datadirs?: readonly string[];
  readonly filesystem_store_legacy_datadirs?: readonly string[];
  readonly filesystem_store_metadata_file?: string;
  readonly filesystem_store_file_perm: number;
  readonly filesystem_store_chunk_size: number;
  readonly filesystem_thin_provisioning: boolean;
  readonly filesystem_store_fsync: boolean;
  readonly filesystem_store_partial_max_age: number;
  readonly filesystem_store_timeout: number;
}

/** Python's os.chmod takes a C int: glance_store's add fails above this (after writing). */
const MAX_FILE_PERM = 0x7fffffff;

/**
 * The mode `filesystem_store_file_perm` asks for, read as glance_store reads it:
 * 0 or less leaves files as created (undefined); otherwise its decimal digits are
 * octal digits (`640` is 0o640, `2750` keeps setgid), and the owner must keep read
 * access. Only the permission bits (0o7777) are returned: chmod keeps no others.
 * @throws BadStoreConfiguration for a digit 8 or 9 (glance_store fails with a
 * ValueError), a mode without owner read (glance_store disables adding), or a value
 * too large for chmod.
 */
export function fileModeOf(backendId: string, perm: number): number | undefined {
  if (perm <= 0) return undefined;
  const bad = (why: string): never => {
    throw new BadStoreConfiguration(
      `Backend '${backendId}': option 'filesystem_store_file_perm' ${why}`,
    );
  };
  const digits = String(perm);
  if (!/^[0-7]+$/.test(digits)) bad(`is read as octal digits, and ${digits} is not octal`);
  const mode = Number.parseInt(digits, 8);
  if (mode > MAX_FILE_PERM) bad(`${digits} is larger than any file mode`);
  if ((mode & 0o400) === 0)
    bad(`${digits} gives the owner no read access: the service could not read its images`);
  return mode & 0o7777;
}
