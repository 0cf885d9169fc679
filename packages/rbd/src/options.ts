/** The rbd driver's options, with glance_store's names and defaults. */
import { BadStoreConfiguration, type OptionSpec } from '@store/core';

export const RBD_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'rbd_store_chunk_size',
    type: 'int',
    default: 8,
    min: 1,
    help: 'Size, in MiB, of the RADOS objects images are striped into (the image order), and the unit of reads and writes. Should be a power of two; other values are rounded down to one, as glance_store does.',
  },
  {
    name: 'rbd_store_pool',
    type: 'string',
    default: 'images',
    help: 'RADOS pool in which images are stored.',
  },
  {
    name: 'rbd_store_user',
    type: 'string',
    help: 'RADOS user to authenticate as (without the "client." prefix). Unset: librados picks it from the Ceph configuration. Its keyring is found through the Ceph configuration (a client.<user> section with a keyring entry).',
  },
  {
    name: 'rbd_store_ceph_conf',
    type: 'string',
    default: '',
    help: "Ceph configuration file. Empty: librados's default search (CEPH_CONF, /etc/ceph/ceph.conf, ~/.ceph/config, ./ceph.conf).",
  },
  {
    name: 'rados_connect_timeout',
    type: 'int',
    default: 0,
    help: "Seconds to wait for the Ceph monitors when connecting (set as client_mount_timeout). 0 or less keeps the librados default (Ceph's client_mount_timeout, 300 s unless ceph.conf says otherwise).",
  },
  {
    name: 'rados_op_timeout',
    type: 'int',
    default: 60,
    help: "Seconds after which a read, write or delete waiting on an OSD or monitor fails (RemoteServiceUnavailable) instead of waiting (set as rados_osd_op_timeout and rados_mon_op_timeout). The default outlasts Ceph's detection of a failed OSD (osd_heartbeat_grace, 20 s by default) and the remapping after it, so a failover does not fail operations, while a cluster that stopped answering frees its callers within a minute. 0 or less keeps the librados default: wait forever. Not a glance_store option (glance_store leaves it to ceph.conf); named after rados_connect_timeout.",
  },
  {
    name: 'rbd_thin_provisioning',
    type: 'bool',
    default: false,
    help: 'Do not write all-zero chunks: they stay holes in the image, read back as zeros, and use no space.',
  },
];

/** Typed view of the validated options. */
export interface RbdOptions {
  readonly rbd_store_chunk_size: number;
  readonly rbd_store_pool: string;
  readonly rbd_store_user?: string;
  readonly rbd_store_ceph_conf: string;
  readonly rados_connect_timeout: number;
  readonly rados_op_timeout: number;
  readonly rbd_thin_provisioning: boolean;
}

/** librbd's bounds on the object order (4 KiB to 32 MiB objects). */
const MIN_ORDER = 12;
const MAX_ORDER = 25;

/**
 * The image order (log2 of the object size) for a chunk size in MiB, rounded down
 * as glance_store does.
 * @throws BadStoreConfiguration when outside librbd's 4 KiB–32 MiB range.
 */
export function imageOrder(backendId: string, chunkSizeMiB: number): number {
  const order = Math.floor(Math.log2(chunkSizeMiB * 1024 * 1024));
  if (order < MIN_ORDER || order > MAX_ORDER) {
    throw new BadStoreConfiguration(
      `Backend '${backendId}': option 'rbd_store_chunk_size' must be between 1 and ${2 ** (MAX_ORDER - 20)} MiB, got ${chunkSizeMiB}`,
    );
  }
  return order;
}
