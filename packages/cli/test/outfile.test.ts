/**
 * `store get --out FILE` killed outright (SIGKILL) cannot remove its temporary
 * file: the next `get --out FILE` removes it once older than an hour, and never
 * one whose writer is still running. The image comes from a real HTTP server on
 * 127.0.0.1 that can stall mid-body, so the killed run is really mid-write.
 */
import { once } from 'node:events';
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, run, type Sandbox, sandbox, start } from './cli.js';

let box: Sandbox;
let server: Server;
let url: string;
const body = Buffer.alloc(1024 * 1024, 'outfile ');
/** Requests to /stall get the first 64 KiB, then nothing until the connection closes. */
const stalled = new Set<import('node:http').ServerResponse>();

beforeAll(async () => {
  assertBuilt();
  box = sandbox();
  server = createServer((req, res) => {
    res.writeHead(200, { 'content-length': body.byteLength });
    if (req.url === '/stall') {
      res.write(body.subarray(0, 65536));
      stalled.add(res);
      return;
    }
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  writeFileSync(
    join(box.cwd, 'store.conf'),
    '[DEFAULT]\nenabled_backends = web:http\n\n[glance_store]\ndefault_backend = web\n',
  );
});
afterAll(async () => {
  for (const res of stalled) res.destroy();
  server.closeAllConnections();
  server.close();
  box.cleanup();
});

const partialsOf = (name: string) =>
  readdirSync(box.cwd)
    .filter((n) => n.startsWith(`.${name}.store-partial-`))
    .sort();

/**
 * Starts `store get URL/stall --out name`; resolves once its temporary file
 * holds all the server sends (so no later write refreshes its mtime).
 */
async function stalledGet(name: string) {
  const running = start(box, ['get', `${url}/stall`, '--out', name]);
  const prefix = `.${name}.store-partial-${running.child.pid}-`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const mine = partialsOf(name).filter((n) => n.startsWith(prefix));
    if (mine.length === 1 && statSync(join(box.cwd, mine[0]!)).size === 65536)
      return { ...running, partial: mine[0]! };
    if (running.child.exitCode !== null || Date.now() > deadline) {
      running.child.kill('SIGKILL');
      throw new Error(`store get did not start writing: ${(await running.done).stderr}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function age(name: string, seconds: number): void {
  const then = new Date(Date.now() - seconds * 1000);
  utimesSync(join(box.cwd, name), then, then);
}

describe('store get --out sweeps what a killed run left beside FILE', () => {
  it('keeps a young leftover, removes one older than an hour, never a running get', async () => {
    const killed = await stalledGet('image.raw');
    killed.child.kill('SIGKILL');
    expect((await killed.done).signal).toBe('SIGKILL');
    expect(partialsOf('image.raw')).toEqual([killed.partial]);

    // Young: a new get leaves it alone.
    const first = await run(box, ['get', `${url}/whole`, '--out', 'image.raw']);
    expect(first.code, first.stderr).toBe(0);
    expect(readFileSync(join(box.cwd, 'image.raw')).equals(body)).toBe(true);
    expect(partialsOf('image.raw')).toEqual([killed.partial]);

    // A running get's file, aged past the limit, is kept too.
    const live = await stalledGet('image.raw');
    age(killed.partial, 7200);
    age(live.partial, 7200);
    const second = await run(box, ['get', `${url}/whole`, '--out', 'image.raw']);
    expect(second.code, second.stderr).toBe(0);
    expect(partialsOf('image.raw')).toEqual([live.partial]);

    live.child.kill('SIGKILL');
    await live.done;
    // Another target's leftovers are not this get's business.
    const third = await run(box, ['get', `${url}/whole`, '--out', 'other.raw']);
    expect(third.code, third.stderr).toBe(0);
    expect(partialsOf('image.raw')).toEqual([live.partial]);
    const fourth = await run(box, ['get', `${url}/whole`, '--out', 'image.raw']);
    expect(fourth.code, fourth.stderr).toBe(0);
    expect(partialsOf('image.raw')).toEqual([]);
  });
});
