/**
 * A Keystone of a test's own: Debian's keystone (python3-keystone) on sqlite in
 * a scratch directory, served by its own wsgiref test server on 127.0.0.1, with
 * a project and user for glance and the object-store endpoints of a private
 * radosgw that validates tokens against it. Nothing shared is touched.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@store/testkit';

const run = promisify(execFile);
const MANAGE = '/usr/bin/keystone-manage';
const SERVER = '/usr/bin/keystone-wsgi-public';

/** Whether Debian's keystone is installed (`apt-get install python3-keystone`). */
export const keystoneInstalled = existsSync(MANAGE) && existsSync(SERVER);

/** A project with one user holding the `member` role in it. */
export interface KeystoneUser {
  readonly project: string;
  readonly projectId: string;
  readonly user: string;
  readonly password: string;
}

export class PrivateKeystone {
  #child: ChildProcess | undefined;
  readonly adminPassword = randomUUID();

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/v3`;
  }

  /**
   * Creates the database, keys and admin (keystone-manage bootstrap, its catalog
   * holding only itself), then serves it.
   */
  static async start(): Promise<PrivateKeystone> {
    const dir = await mkdtemp(join(tmpdir(), 'store-keystone-'));
    const ks = new PrivateKeystone(dir, await freePort());
    const conf = join(dir, 'keystone.conf');
    await writeFile(
      conf,
      [
        '[DEFAULT]',
        `log_file = ${join(dir, 'keystone.log')}`,
        '[database]',
        `connection = sqlite:///${join(dir, 'keystone.db')}`,
        '[token]',
        'provider = fernet',
        '[fernet_tokens]',
        `key_repository = ${join(dir, 'fernet-keys')}`,
        '[fernet_receipts]',
        `key_repository = ${join(dir, 'fernet-keys')}`,
        '[credential]',
        `key_repository = ${join(dir, 'credential-keys')}`,
        '',
      ].join('\n'),
    );
    const manage = (...args: string[]) =>
      run('/usr/bin/python3', [MANAGE, '--config-file', conf, ...args]).catch((err) => {
        // keystone-manage can fail at interpreter exit (eventlet and logging) after doing its work.
        if (!String(err.stderr).includes("has no attribute 'getcurrent'")) throw err;
      });
    await manage('db_sync');
    // The server's pooled connections keep read transactions open; in sqlite's default
    // journal mode they block every commit after the first ("database is locked"). WAL does not.
    await run('/usr/bin/python3', [
      '-c',
      'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("pragma journal_mode=wal")',
      join(dir, 'keystone.db'),
    ]);
    const owner = ['--keystone-user', 'root', '--keystone-group', 'root'];
    await manage('fernet_setup', ...owner);
    await manage('credential_setup', ...owner);
    await manage(
      'bootstrap',
      '--bootstrap-password',
      ks.adminPassword,
      '--bootstrap-admin-url',
      ks.url,
      '--bootstrap-public-url',
      ks.url,
      '--bootstrap-region-id',
      'RegionOne',
    );
    ks.#child = spawn(
      '/usr/bin/python3',
      [SERVER, '--host', '127.0.0.1', '--port', String(ks.port)],
      {
        env: {
          ...process.env,
          OS_KEYSTONE_CONFIG_DIR: dir,
          OS_KEYSTONE_CONFIG_FILES: 'keystone.conf',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    // wsgiref prints the tracebacks of failed requests on stderr: kept in the log directory.
    ks.#child.stderr!.pipe(createWriteStream(join(dir, 'server.log')));
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (ks.#child.exitCode !== null) throw new Error(`keystone exited; see ${dir}/keystone.log`);
      const up = await fetch(ks.url, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (up) return ks;
      if (Date.now() > deadline) throw new Error('the private keystone did not answer in 120 s');
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** A token for admin in project admin. */
  async adminToken(): Promise<string> {
    return (await this.token('admin', 'admin', this.adminPassword)).token;
  }

  /** A project-scoped token and its catalog. */
  async token(
    project: string,
    user: string,
    password: string,
  ): Promise<{ token: string; catalog: unknown[]; projectId: string }> {
    const answer = await fetch(`${this.url}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: user, domain: { id: 'default' }, password } },
          },
          scope: { project: { name: project, domain: { id: 'default' } } },
        },
      }),
    });
    if (answer.status !== 201) throw new Error(`keystone token answered ${answer.status}`);
    const body = (await answer.json()) as {
      token: { catalog: unknown[]; project: { id: string } };
    };
    return {
      token: answer.headers.get('x-subject-token')!,
      catalog: body.token.catalog,
      projectId: body.token.project.id,
    };
  }

  async #admin(path: string, body: unknown): Promise<Record<string, { id: string }>> {
    const answer = await fetch(`${this.url}${path}`, {
      method: body === undefined ? 'PUT' : 'POST',
      headers: { 'content-type': 'application/json', 'x-auth-token': await this.adminToken() },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!answer.ok) {
      const log = await readFile(join(this.dir, 'server.log'), 'utf8').catch(() => '');
      const errors = log.split('\n').filter((l) => /ERROR|Error/.test(l));
      throw new Error(
        `keystone ${path} answered ${answer.status}: ${(await answer.text()).slice(0, 300)} ${errors.slice(-3).join(' | ')}`,
      );
    }
    return answer.status === 204 ? {} : ((await answer.json()) as Record<string, { id: string }>);
  }

  /** Registers an object-store service whose public and internal endpoints are `url`. */
  async addObjectStore(url: string): Promise<void> {
    const { service } = await this.#admin('/services', {
      service: { type: 'object-store', name: 'swift' },
    });
    for (const iface of ['public', 'internal']) {
      await this.#admin('/endpoints', {
        endpoint: { service_id: service!.id, interface: iface, url, region_id: 'RegionOne' },
      });
    }
  }

  /** Creates a project and a user with the `member` role in it. */
  async addUser(project: string, user: string): Promise<KeystoneUser> {
    const password = randomUUID();
    const created = await this.#admin('/projects', {
      project: { name: project, domain_id: 'default' },
    });
    const made = await this.#admin('/users', {
      user: { name: user, domain_id: 'default', password, default_project_id: created.project!.id },
    });
    const roles = await fetch(`${this.url}/roles?name=member`, {
      headers: { 'x-auth-token': await this.adminToken() },
    });
    const role = ((await roles.json()) as { roles: { id: string }[] }).roles[0]!;
    await this.#admin(
      `/projects/${created.project!.id}/users/${made.user!.id}/roles/${role.id}`,
      undefined,
    );
    return { project, projectId: created.project!.id, user, password };
  }

  /**
   * Sets the user's password to what it is: Keystone revokes every token the
   * user holds (a revocation event), while the password keeps working.
   */
  async revokeTokensOf(user: KeystoneUser): Promise<void> {
    const token = await this.adminToken();
    const found = await fetch(`${this.url}/users?name=${encodeURIComponent(user.user)}`, {
      headers: { 'x-auth-token': token },
    });
    const id = ((await found.json()) as { users: { id: string }[] }).users[0]!.id;
    const answer = await fetch(`${this.url}/users/${id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', 'x-auth-token': token },
      body: JSON.stringify({ user: { password: user.password } }),
    });
    if (!answer.ok) throw new Error(`keystone password reset answered ${answer.status}`);
    // Fernet tokens carry their issue time in seconds: a token issued in the second of
    // the revocation would count as revoked too.
    await new Promise((r) => setTimeout(r, 1100));
  }

  /** radosgw arguments validating Swift tokens against this Keystone as its admin. */
  radosgwArgs(): string[] {
    return [
      `--rgw-keystone-url=http://127.0.0.1:${this.port}`,
      '--rgw-keystone-api-version=3',
      '--rgw-keystone-admin-user=admin',
      `--rgw-keystone-admin-password=${this.adminPassword}`,
      '--rgw-keystone-admin-project=admin',
      '--rgw-keystone-admin-domain=Default',
      '--rgw-keystone-accepted-roles=member,admin',
      '--rgw-keystone-implicit-tenants=false',
      // Every token checked with Keystone on every request, so a revoked one is refused at once.
      '--rgw-keystone-token-cache-size=0',
    ];
  }

  /** Stops the server by its pid and removes the directory. */
  async dispose(): Promise<void> {
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(child.pid!, 'SIGTERM');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
