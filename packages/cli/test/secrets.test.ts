/**
 * What the CLI prints on success never carries a credential of the location it
 * was given (userinfo, signed-URL query values), and a typo in a config name is an
 * error with a hint. Images come from a real HTTP server on 127.0.0.1.
 */
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, run, type Sandbox, sandbox } from './cli.js';

let box: Sandbox;
let server: Server;
let port: number;
const body = Buffer.from('an image served over http\n');

beforeAll(async () => {
  assertBuilt();
  box = sandbox();
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': body.byteLength });
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
  writeFileSync(
    join(box.cwd, 'store.conf'),
    `[DEFAULT]\nenabled_backends = web:http, local:file\n[glance_store]\ndefault_backend = local\n[local]\nfilesystem_store_datadir = ${join(box.root, 'images')}\n`,
  );
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
  box.cleanup();
});

const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
/** Passwords from printable ASCII, whitespace and unicode. */
const password = fc
  .array(
    fc.oneof(
      fc.constantFrom(...printable),
      fc.constantFrom(' ', '\t', '\n', '\u00a0', '\u3000', '@', ':', '/', '?', '#', '%'),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
    ),
    { minLength: 6, maxLength: 16 },
  )
  .map((chars) => chars.join(''))
  .filter((p) => encodeURIComponent(p).length >= 8 && p.trim().length >= 4);

describe('store prints the locations it was given with their credentials masked', () => {
  it('in get (--json, --out), size, copy and their human forms', async () => {
    const passwords = [' p@ss wörd/🔑 ', ...fc.sample(password, { numRuns: 2, seed: 15 })];
    for (const pw of passwords) {
      const signature = `SiG${encodeURIComponent(pw).slice(0, 12)}xyz`;
      const location = `http://admin:${encodeURIComponent(pw)}@127.0.0.1:${port}/image?sv=2022&sig=${signature}`;
      const runs = [
        await run(box, ['get', location, '--json']),
        await run(box, ['get', location, '--out', 'image.raw', '--json']),
        await run(box, ['get', location, '--out', 'image.raw']),
        await run(box, ['size', location, '--json']),
        await run(box, ['size', location]),
        await run(box, ['copy', location, '--to', 'local', '--json']),
        await run(box, ['copy', location, '--to', 'local']),
      ];
      for (const [i, result] of runs.entries()) {
        expect(result.code, `run ${i}: ${result.stderr}`).toBe(0);
        const printed = `${result.out}\n${result.stderr}`;
        for (const leak of [pw, encodeURIComponent(pw), signature])
          expect(printed.includes(leak), `run ${i} leaked ${JSON.stringify(leak)}`).toBe(false);
      }
      const getJson = JSON.parse(runs[1]!.out);
      expect(getJson.location).toBe(`http://***:***@127.0.0.1:${port}/image?sv=2022&sig=***`);
      expect(JSON.parse(runs[5]!.out).source).toBe(getJson.location);
      expect(runs[2]!.out).toMatch(
        /^from +http:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:\d+\/image\?sv=2022&sig=\*\*\* /m,
      );
    }
  }, 180_000);
});

describe('store refuses a typo in a config name, with a hint', () => {
  it('for a section, a backend option and a [DEFAULT] option; other unknown names are warnings', async () => {
    const cases: [string, string][] = [
      [
        '[DEFAULT]\nenabled_backends = fast:file\n[fats]\nfilesystem_store_datadir = /tmp/x\n',
        'unknown section [fats] (did you mean [fast]?)',
      ],
      [
        '[DEFAULT]\nenabled_backends = fast:file\n[fast]\nfilesystem_store_datadri = /tmp/x\n',
        "unknown option 'filesystem_store_datadri' (did you mean 'filesystem_store_datadir'?)",
      ],
      [
        '[DEFAULT]\nenabled_backend = fast:file\n',
        "unknown option 'enabled_backend' (did you mean 'enabled_backends'?)",
      ],
    ];
    for (const [i, [text, message]] of cases.entries()) {
      const path = join(box.root, `typo-${i}.conf`);
      writeFileSync(path, text);
      const result = await run(box, ['backends', '--config', path]);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain('BadStoreConfiguration');
      expect(result.stderr).toContain(message);
    }
    const path = join(box.root, 'glance-api.conf');
    writeFileSync(
      path,
      `[DEFAULT]\nbind_port = 9292\nenabled_backends = fast:file\n[fast]\nfilesystem_store_datadir = ${join(box.root, 'fast')}\n[database]\nconnection = sqlite://\n`,
    );
    const result = await run(box, ['backends', '--config', path]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("ignoring unknown option 'bind_port'");
    expect(result.stderr).toContain('ignoring unknown section [database]');
  });
});
