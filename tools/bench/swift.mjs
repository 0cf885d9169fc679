// Benchmark row: @store/swift add (md5 + sha512) and get of a 1 GiB image against the
// Swift API of the radosgw of tools/services, beside python3-swiftclient's `swift
// upload` / `swift download` and glance_store's own swift driver (tools/glance-peer)
// moving the same file to and from the same radosgw, in one run. @store and
// glance_store read one INI file (a swift_store_config_file account reference); each
// reads the images the other wrote. Everything made is deleted again. Beside them, the
// floor: curl moving the same bytes with no hashing, openssl hashing them with no
// transfer, and the CPU Ceph's daemons spend on each operation (they share the cores).
//   node tools/bench/swift.mjs [--size-mib 1024] [--runs 3]

import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  benchBase,
  benchDir,
  CEPH_DAEMONS,
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
  withServerCpu,
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
/** `fn`'s run, with the CPU Ceph's daemons spent meanwhile. */
const serving = (fn) => withServerCpu(CEPH_DAEMONS, fn);

/** A v1 token and the storage URL, for curl's bare transfers. */
async function v1Auth() {
  const response = await fetch(authUrl, { headers: { 'X-Auth-User': user, 'X-Auth-Key': key } });
  const token = response.headers.get('x-auth-token');
  const storageUrl = response.headers.get('x-storage-url');
  if (!response.ok || !token || !storageUrl) throw new Error(`v1 auth: HTTP ${response.status}`);
  return { token, storageUrl };
}

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
  const curlPuts = [];
  const curlGets = [];
  const hashings = [];
  // curl reads the token from a file (`-H @file`): argv would show it in ps.
  const { token, storageUrl } = await v1Auth();
  const tokenHeader = join(work, 'token.header');
  await writeFile(tokenHeader, `X-Auth-Token: ${token}\n`, { mode: 0o600 });
  const curl = (args) => timeCommand('curl', ['-sSf', '-H', `@${tokenHeader}`, ...args]);
  const bareObject = `${storageUrl}/${container}/curl`;
  // Interleaved, one image at a time per side, each deleted before the next run.
  for (let i = 0; i < runs; i++) {
    const cliName = `cli-${i}`;
    cliUps.push(
      await serving(() => swiftCli(['upload', container, source, '--object-name', cliName])),
    );
    cliDowns.push(await serving(() => swiftCli(['download', container, cliName, '-o', download])));
    await rm(download);
    await swiftCli(['delete', container, cliName]);

    // The floor: the same bytes moved with nothing else done, and hashed with nothing moved.
    curlPuts.push(await serving(() => curl(['-T', source, bareObject, '-o', '/dev/null'])));
    curlGets.push(await serving(() => curl([bareObject, '-o', '/dev/null'])));
    await curl(['-X', 'DELETE', bareObject, '-o', '/dev/null']);
    const md5 = await timeCommand('openssl', ['md5', source]);
    const sha512 = await timeCommand('openssl', ['sha512', source]);
    hashings.push({ ...sha512, cpuSeconds: md5.cpuSeconds + sha512.cpuSeconds });

    const mine = await serving(() => ours(['add-file-source', source, `store-${i}`]));
    const theirs = await serving(() =>
      glance(['add', 'swift', `glance-${i}`, source, '--hash', 'sha512']),
    );
    for (const added of [mine, theirs]) {
      if (added.multihash !== expected) throw new Error('add: multihash mismatch');
    }
    if (mine.checksum !== theirs.checksum) throw new Error('add: md5 mismatch');
    // Each reads the image the other wrote.
    const myGet = await serving(() => ours(['get', theirs.location]));
    const theirGet = await serving(() =>
      glance(['get', mine.location, '--backend', 'swift', '--no-hash']),
    );
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
    fmt(run.serverCpuSeconds),
    mibps(seconds),
    fmt(run.peakRssMiB, 0),
  ];
  const storeAdd = medianOf(sides.store.adds);
  const storeGet = medianOf(sides.store.gets);
  const glanceAdd = medianOf(sides.glance.adds);
  const glanceGet = medianOf(sides.glance.gets);
  const cliUp = medianOf(cliUps);
  const cliDown = medianOf(cliDowns);
  const curlPut = medianOf(curlPuts);
  const curlGet = medianOf(curlGets);
  const hashing = medianOf(hashings);
  console.log(`\n### swift driver against radosgw, ${sizeMiB} MiB image (median of ${runs})\n`);
  console.log(
    table(
      [
        'op',
        'side',
        'seconds, median (min–max)',
        'CPU s',
        'Ceph CPU s',
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
        ['add', 'floor: curl PUT (no hashing)', ...cells(curlPut), ''],
        ['get', '@store/swift', ...cells(storeGet), ''],
        [
          'get',
          'glance_store swift',
          ...cells(glanceGet),
          `${fmt(glanceGet.seconds / storeGet.seconds)}x`,
        ],
        ['get', 'swift download', ...cells(cliDown), `${fmt(cliDown.seconds / storeGet.seconds)}x`],
        ['get', 'floor: curl GET to /dev/null', ...cells(curlGet), ''],
      ],
    ),
  );
  console.log(
    '\nWhat each side does: @store and glance_store adds read the source file, take md5 + sha512 and ' +
      'PUT it as one object (below swift_store_large_object_size); their gets read every byte and discard it ' +
      '(each reads the image the other wrote). @store and glance_store seconds are measured inside the process ' +
      '(interpreter start-up excluded); swift upload / download seconds are the whole process (python3-swiftclient ' +
      `start-up included; upload sends the file with its md5, download writes it to ${benchBase} and checks the md5). ` +
      'CPU s is user + sys of the whole process, peak RSS its maximum resident set; Ceph CPU s is what ' +
      'radosgw, ceph-osd, ceph-mon and ceph-mgr spent meanwhile. ' +
      'Targets (issue 18): add >= 2x glance_store and no slower than swift upload; get >= 1.5x glance_store; peak RSS < 200 MiB.',
  );
  // However an add or a get is written, this machine's cores must do at least the CPU
  // work of the bare transfer (client and Ceph) plus, for an add, the hashing; the
  // fastest either can be is that work spread evenly over every core.
  const cores = availableParallelism();
  const addFloor = (curlPut.cpuSeconds + curlPut.serverCpuSeconds + hashing.cpuSeconds) / cores;
  const getFloor = (curlGet.cpuSeconds + curlGet.serverCpuSeconds) / cores;
  console.log(
    `\nFloor on ${cores} cores: openssl md5 + sha512 of the image take ${fmt(hashing.cpuSeconds)} CPU s. ` +
      `An add with both hashes needs at least (${fmt(curlPut.cpuSeconds)} + ${fmt(curlPut.serverCpuSeconds)} + ` +
      `${fmt(hashing.cpuSeconds)}) / ${cores} = ${fmt(addFloor)} s, so at most ${fmt(glanceAdd.seconds / addFloor)}x ` +
      `glance_store's median add; a get needs at least (${fmt(curlGet.cpuSeconds)} + ${fmt(curlGet.serverCpuSeconds)}) / ` +
      `${cores} = ${fmt(getFloor)} s, so at most ${fmt(glanceGet.seconds / getFloor)}x glance_store's median get. ` +
      '(Bare curl CPU + Ceph CPU of the same transfer, + hashing CPU, spread evenly over every core.)',
  );
  console.log(`Auth ${authUrl} (v1), container ${container}.`);
} finally {
  await swiftCli(['delete', container]).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
}
