// The HTTP clients under the swift gets, with no store around them: one 1 GiB GET of the
// same object from radosgw's Swift API, read to the end and discarded, by Node's
// http.get, by Python's http.client (glance_store's swift driver reads through it) and
// by curl, interleaved. Shows what a Node get costs before any @store code runs.
//   node tools/bench/http-clients.mjs [--size-mib 1024] [--runs 5]
import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  benchDir,
  fmt,
  MiB,
  makeSourceFile,
  medianOf,
  needService,
  rowArgs,
  runJsonChild,
  secondsCell,
  table,
  timeCommand,
} from './measure.mjs';

const { sizeMiB, runs } = rowArgs(5);
const env = await needService('ceph radosgw (Swift)', [
  'STORE_TEST_SWIFT_AUTH_URL',
  'STORE_TEST_SWIFT_USER',
  'STORE_TEST_SWIFT_KEY',
]);
const auth = await fetch(env.STORE_TEST_SWIFT_AUTH_URL, {
  headers: { 'X-Auth-User': env.STORE_TEST_SWIFT_USER, 'X-Auth-Key': env.STORE_TEST_SWIFT_KEY },
});
const token = auth.headers.get('x-auth-token');
const storageUrl = auth.headers.get('x-storage-url');
if (!auth.ok || !token || !storageUrl) throw new Error(`v1 auth: HTTP ${auth.status}`);

const work = await benchDir('http-clients');
const container = `${storageUrl}/store-bench-http-${randomUUID().slice(0, 8)}`;
const object = `${container}/image`;
// The token reaches each client through a file or the environment, never argv.
const header = join(work, 'token.header');
await writeFile(header, `X-Auth-Token: ${token}\n`, { mode: 0o600 });
const childEnv = { ...process.env, BENCH_URL: object, BENCH_TOKEN: token };
const curl = (args) => timeCommand('curl', ['-sSf', '-H', `@${header}`, ...args]);

const nodeGet = `
const http = require('node:http');
const started = process.hrtime.bigint();
http.get(process.env.BENCH_URL, { headers: { 'X-Auth-Token': process.env.BENCH_TOKEN } }, (res) => {
  let bytes = 0;
  res.on('data', (chunk) => { bytes += chunk.length; });
  res.on('end', () => console.log(JSON.stringify({ bytes, seconds: Number(process.hrtime.bigint() - started) / 1e9 })));
});`;
const pythonGet = `
import http.client, json, os, time, urllib.parse
url = urllib.parse.urlsplit(os.environ['BENCH_URL'])
started = time.monotonic()
connection = http.client.HTTPConnection(url.netloc)
connection.request('GET', url.path, headers={'X-Auth-Token': os.environ['BENCH_TOKEN']})
answer = connection.getresponse()
total = 0
while True:
    chunk = answer.read(65536)
    if not chunk:
        break
    total += len(chunk)
print(json.dumps({'bytes': total, 'seconds': time.monotonic() - started}))`;

try {
  await curl(['-X', 'PUT', container, '-o', '/dev/null']);
  await curl(['-T', makeSourceFile(work, sizeMiB), object, '-o', '/dev/null']);
  const sides = { node: [], python: [], curl: [] };
  for (let i = 0; i < runs; i++) {
    sides.node.push(await runJsonChild(process.execPath, ['-e', nodeGet], { env: childEnv }));
    sides.python.push(await runJsonChild('/usr/bin/python3', ['-c', pythonGet], { env: childEnv }));
    sides.curl.push(await curl([object, '-o', '/dev/null']));
  }
  for (const run of [...sides.node, ...sides.python])
    if (run.bytes !== sizeMiB * MiB) throw new Error(`read ${run.bytes} bytes`);
  const row = (name, what, runs_) => {
    const run = medianOf(runs_);
    return [name, what, secondsCell(run), fmt(run.cpuSeconds), fmt(sizeMiB / run.seconds, 0)];
  };
  console.log(`\n### One ${sizeMiB} MiB GET from radosgw's Swift API (median of ${runs})\n`);
  console.log(
    table(
      ['client', 'reads', 'seconds, median (min–max)', 'CPU s', 'MiB/s'],
      [
        row('Node http.get', "'data' events, discarded", sides.node),
        row('Python http.client', 'read(65536) until empty', sides.python),
        row('curl', 'to /dev/null', sides.curl),
      ],
    ),
  );
  console.log(
    '\nNode and Python seconds are the GET inside the process (start-up excluded); curl is the whole ' +
      'process. CPU s is user + sys of the whole process, start-up included.',
  );
} finally {
  await curl(['-X', 'DELETE', object, '-o', '/dev/null']).catch(() => undefined);
  await curl(['-X', 'DELETE', container, '-o', '/dev/null']).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
}
