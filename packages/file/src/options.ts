/** The file driver's options, with glance_store's names and defaults. */
import type { OptionSpec } from '@store/core';

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
    name: 'filesystem_store_metadata_file',
    type: 'string',
    help: 'JSON file of location metadata: an object or a list of objects with string "id" and "mountpoint"; an image under a mountpoint gets that object as its location metadata.',
  },
  {
    name: 'filesystem_store_file_perm',
    type: 'int',
    default: 0,
    min: 0,
    max: 777,
    help: 'Permissions of stored image files, read as octal (e.g. 640). 0 leaves them as created. Group or other access also grants the directory execute permission for them.',
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
  readonly filesystem_store_metadata_file?: string;
  readonly filesystem_store_file_perm: number;
  readonly filesystem_store_chunk_size: number;
  readonly filesystem_thin_provisioning: boolean;
  readonly filesystem_store_fsync: boolean;
  readonly filesystem_store_partial_max_age: number;
}
