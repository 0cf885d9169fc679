// Benchmark row: @store/swift add (md5 + sha512) and get of a 1 GiB image against the
// Swift API of the radosgw of tools/services, beside python3-swiftclient's `swift
// upload` / `swift download` and glance_store's own swift driver (tools/glance-peer)
// moving the same file to and from the same radosgw, in one run. @store and
// glance_store read one INI file (a swift_store_config_file account reference); each
// reads the images the other wrote. Everything made is deleted again.
//   node tools/bench/swift.mjs [--size-mib 1024] [--runs 3]

import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  benchBase,
  benchDir,
  fmt,
  MiB,
  makeSourceFile,
  medianOf,
  needService,
  rowArgs,
  runJsonChild,
  runNodeChild,
  secondsCell,
  sha512sum,
  storeWorker,
  table,
  timeCommand,
} from './measure.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const peerScript = join(here, '..', 'glance-peer', 'glance_peer.py');
const python = '/usr/bin/python3'; // Debian's, which has python3-glance-store and python3-swiftclient

const { sizeMiB, runs } = rowArgs(3);
const {
  STORE_TEST_SWIFT_AUTH_URL: authUrl,
  STORE_TEST_SWIFT_USER: user,
  STORE_TEST_SWIFT_KEY: key,
} = await needService('ceph radosgw (Swift)', [
  'STORE_TEST_SWIFT_AUTH_URL',
  'STORE_TEST_SWIFT_USER',
  'STORE_TEST_SWIFT_KEY',
]);
const container = `store-bench-swift-${randomUUID().slice(0, 8)}`;

// The swift CLI takes its credentials from the environment (never argv, where ps shows them).
const swiftEnv = { ...process.env, ST_AUTH: authUrl, ST_USER: user, ST_KEY: key };
const swiftCli = (args, options = {}) =>
  timeCommand(python, ['/usr/bin/swift', ...args], { env: swiftEnv, ...options });

const work = await benchDir('swift');
const config = join(work, 'glance-api.conf');
const accounts = join(work, 'glance-swift.conf');
const glance = (args) => runJsonChild(python, [peerScript, '--config', config, ...args]);
const ours = (args) =>
  runNodeChild(storeWorker, ['--config', config, '--backend', 'swift', ...args]);

try {
  await writeFile(
    accounts,
    `[ref1]\nauth_address = ${authUrl}\nuser = ${user}\nkey = ${key}\nauth_version = 1\n`,
    { mode: 0o600 },
  );
  await writeFile(
    config,
    [
      '[DEFAULT]',
      'enabled_backends = swift:swift',
      '[glance_store]',
      'default_backend = swift',
      '[swift]',
      `swift_store_config_file = ${accounts}`,
      'default_swift_reference = ref1',
      `swift_store_container = ${container}`,
      'swift_store_create_container_on_put = true',
      '',
    ].join('\n'),
  );
  const source = makeSourceFile(work, sizeMiB);
  const download = join(work, 'download.raw');
  const bytes = sizeMiB * MiB;
  const expected = sha512sum(source);

  const sides = { store: { adds: [], gets: [] }, glance: { adds: [], gets: [] } };
  const cliUps = [];
  const cliDowns = [];
  // Interleaved, one image at a time per side, each deleted before the next run.
  for (let i = 0; i < runs; i++) {
    const cliName = `cli-${i}`;
    cliUps.push(await swiftCli(['upload', container, source, '--object-name', cliName]));
    cliDowns.push(await swiftCli(['download', container, cliName, '-o', download]));
    await rm(download);
    await swiftCli(['delete', container, cliName]);

    const mine = await ours(['add-file-source', source, `store-${i}`]);
    const theirs = await glance(['add', 'swift', `glance-${i}`, source, '--hash', 'sha512']);
    for (const added of [mine, theirs]) {
      if (added.multihash !== expected) throw new Error('add: multihash mismatch');
    }
    if (mine.checksum !== theirs.checksum) throw new Error('add: md5 mismatch');
    // Each reads the image the other wrote.
    const myGet = await ours(['get', theirs.location]);
    const theirGet = await glance(['get', mine.location, '--backend', 'swift', '--no-hash']);
    if (myGet.bytes !== bytes || theirGet.bytes !== bytes) throw new Error('get: size mismatch');
    sides.store.adds.push(mine);
    sides.store.gets.push(myGet);
    sides.glance.adds.push(theirs);
    sides.glance.gets.push(theirGet);
    await ours(['delete', theirs.location]);
    await glance(['delete', mine.location, '--backend', 'swift']);
  }

  const mibps = (s) => fmt(bytes / MiB / s, 0);
  const cells = (run, seconds = run.seconds) => [
    secondsCell(run),
    fmt(run.cpuSeconds),
    mibps(seconds),
    fmt(run.peakRssMiB, 0),
  ];
  const storeAdd = medianOf(sides.store.adds);
  const storeGet = medianOf(sides.store.gets);
  const glanceAdd = medianOf(sides.glance.adds);
  const glanceGet = medianOf(sides.glance.gets);
  const cliUp = medianOf(cliUps);
  const cliDown = medianOf(cliDowns);
  console.log(`\n### swift driver against radosgw, ${sizeMiB} MiB image (median of ${runs})\n`);
  console.log(
    table(
      [
        'op',
        'side',
        'seconds, median (min–max)',
        'CPU s',
        'MiB/s',
        'peak RSS MiB',
        '@store speedup',
      ],
      [
        ['add', '@store/swift (md5 + sha512)', ...cells(storeAdd), ''],
        [
          'add',
          'glance_store swift (md5 + sha512)',
          ...cells(glanceAdd),
          `${fmt(glanceAdd.seconds / storeAdd.seconds)}x`,
        ],
        ['add', 'swift upload', ...cells(cliUp), `${fmt(cliUp.seconds / storeAdd.seconds)}x`],
        ['get', '@store/swift', ...cells(storeGet), ''],
        [
          'get',
          'glance_store swift',
          ...cells(glanceGet),
          `${fmt(glanceGet.seconds / storeGet.seconds)}x`,
        ],
        ['get', 'swift download', ...cells(cliDown), `${fmt(cliDown.seconds / storeGet.seconds)}x`],
      ],
    ),
  );
  console.log(
    '\nWhat each side does: @store and glance_store adds read the source file, take md5 + sha512 and ' +
      'PUT it as one object (below swift_store_large_object_size); their gets read every byte and discard it ' +
      '(each reads the image the other wrote). @store and glance_store seconds are measured inside the process ' +
      '(interpreter start-up excluded); swift upload / download seconds are the whole process (python3-swiftclient ' +
      `start-up included; upload sends the file with its md5, download writes it to ${benchBase} and checks the md5). ` +
      'CPU s is user + sys of the whole process, peak RSS its maximum resident set. ' +
      'Targets (issue 18): add >= 2x glance_store and no slower than swift upload; get >= 1.5x glance_store; peak RSS < 200 MiB.',
  );
  console.log(`Auth ${authUrl} (v1), container ${container}.`);
} finally {
  await swiftCli(['delete', container]).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
}
