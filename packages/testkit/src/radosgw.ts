/**
 * A radosgw of a test's own on the shared test cluster (its own cephx name, port
 * and run files), so that a fault test can kill and restart it without
 * disturbing anyone; the shared radosgw sees the same buckets and users.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

/** The private radosgw's cephx name; its key is created once (get-or-create) and kept. */
const RGW_NAME = 'client.rgw.storefault';

/** What sets one private radosgw apart. */
export interface PrivateRadosgwOptions {
  /** Its cephx name (`client.rgw.<something>`), so two private gateways can run at once. */
  readonly name?: string;
  /** More radosgw arguments, e.g. `--rgw-keystone-url=…`. */
  readonly args?: readonly string[];
}

/** Started, killed and restarted by pid. Create it with {@link PrivateRadosgw.create}. */
export class PrivateRadosgw {
  #child: ChildProcess | undefined;

  private constructor(
    readonly cephConf: string,
    readonly dir: string,
    readonly port: number,
    readonly name: string,
    readonly args: readonly string[],
  ) {}

  /**
   * Makes its key (with the admin keyring) in a fresh directory and picks a free port;
   * call {@link start} next.
   */
  static async create(
    cephConf: string,
    adminKeyring: string,
    options: PrivateRadosgwOptions = {},
  ): Promise<PrivateRadosgw> {
    const name = options.name ?? RGW_NAME;
    const dir = await mkdtemp(join(tmpdir(), 'store-rgw-fault-'));
    const { stdout } = await promisify(execFile)('ceph', [
      '-c',
      cephConf,
      '-k',
      adminKeyring,
      'auth',
      'get-or-create',
      name,
      'mon',
      'allow rw',
      'osd',
      'allow rwx',
      'mgr',
      'allow rw',
    ]);
    await writeFile(join(dir, 'keyring'), stdout, { mode: 0o600 });
    return new PrivateRadosgw(cephConf, dir, await freePort(), name, options.args ?? []);
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const d = this.dir;
    this.#child = spawn(
      'radosgw',
      [
        '-f',
        '-c',
        this.cephConf,
        '-n',
        this.name,
        '--keyring',
        join(d, 'keyring'),
        '--rgw-frontends',
        `beast endpoint=127.0.0.1:${this.port}`,
        '--rgw-data',
        d,
        '--run-dir',
        d,
        '--pid-file',
        join(d, 'radosgw.pid'),
        '--admin-socket',
        join(d, 'radosgw.asok'),
        '--log-file',
        join(d, 'radosgw.log'),
        ...this.args,
      ],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (this.#child.exitCode !== null)
        throw new Error(`radosgw exited with ${this.#child.exitCode}; see ${d}/radosgw.log`);
      const answered = await fetch(`${this.endpoint}/`, { signal: AbortSignal.timeout(2000) }).then(
        () => true,
        () => false,
      );
      if (answered) return;
      if (Date.now() > deadline) throw new Error('the private radosgw did not answer in 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Stops it by its pid. SIGKILL gives it no chance to finish anything; SIGTERM is a
   * clean stop, followed by SIGKILL when it takes more than 5 s (radosgw drains slowly).
   */
  async stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(child.pid!, signal);
    const late = setTimeout(() => process.kill(child.pid!, 'SIGKILL'), 5_000);
    await exited;
    clearTimeout(late);
  }

  /** Stops it (SIGTERM) and removes its directory. */
  async dispose(): Promise<void> {
    await this.stop('SIGTERM');
    await rm(this.dir, { recursive: true, force: true });
  }
}
