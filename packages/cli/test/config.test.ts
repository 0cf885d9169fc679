import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '@store/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, json, run, type Sandbox, sandbox } from './cli.js';

let box: Sandbox;
beforeAll(() => {
  assertBuilt();
  box = sandbox();
});
afterAll(() => box.cleanup());

function twoBackends(dir: string): string {
  return `[DEFAULT]
enabled_backends = fast:file, slow:file

[glance_store]
default_backend = fast

[fast]
store_description = Fast disks
filesystem_store_datadir = ${dir}/fast

[slow]
filesystem_store_datadir = ${dir}/slow
`;
}

interface BackendsJson {
  config: { kind: string; path?: string; dataDir?: string };
  default: string | null;
  backends: {
    id: string;
    type: string;
    default: boolean;
    capabilityNames: string[];
    addDisabled?: string;
  }[];
  disabled: { id: string; type: string; reason: string }[];
}

describe('store config: where it comes from', () => {
  it('uses the embedded default when no config is named or present', async () => {
    const result = await run(box, ['backends', '--json']);
    expect(result.code).toBe(0);
    expect(json<BackendsJson>(result.out)).toEqual({
      config: { kind: 'embedded', dataDir: box.dataDir },
      default: 'local',
      backends: [
        {
          id: 'local',
          type: 'file',
          description: 'Embedded default: images in the user data directory',
          schemes: ['file', 'filesystem'],
          capabilities: 79,
          capabilityNames: ['READ_RANDOM', 'WRITE_ACCESS', 'DRIVER_REUSABLE'],
          default: true,
          reserved: false,
          options: expect.objectContaining({
            filesystem_store_datadir: join(box.dataDir, 'local'),
          }),
        },
      ],
      disabled: [],
    });
    const human = await run(box, ['backends']);
    expect(human.out).toContain(`config: embedded default (data directory ${box.dataDir})`);
    expect(human.out).toMatch(
      /^local {2}file {2}yes {6}no {8}READ_RANDOM, WRITE_ACCESS, DRIVER_REUSABLE \(79\)/m,
    );
    // Without $STORE_DATA_DIR: the XDG data dir (here under the sandbox's HOME).
    const xdg = await run(box, ['backends', '--json'], { env: { STORE_DATA_DIR: undefined } });
    expect(json<BackendsJson>(xdg.out).config.dataDir).toBe(
      join(box.env.HOME!, '.local', 'share', 'store'),
    );
  });

  it('prefers --config, then $STORE_CONFIG, then ./store.conf', async () => {
    const dir = join(box.root, 'cfg');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'a.conf'), twoBackends(join(dir, 'a')));
    writeFileSync(
      join(dir, 'b.conf'),
      twoBackends(join(dir, 'b')).replace('fast:file, ', '').replace('= fast', '= slow'),
    );
    writeFileSync(
      join(dir, 'store.conf'),
      '[DEFAULT]\nenabled_backends = here:file\n[here]\nfilesystem_store_datadir = /tmp\n',
    );
    const ids = async (args: string[], env: Record<string, string | undefined> = {}) =>
      json<BackendsJson>(
        (await run(box, ['backends', '--json', ...args], { cwd: dir, env })).out,
      ).backends.map((b) => b.id);
    expect(await ids([])).toEqual(['here']);
    expect(await ids([], { STORE_CONFIG: join(dir, 'b.conf') })).toEqual(['slow']);
    expect(await ids(['--config', 'a.conf'], { STORE_CONFIG: join(dir, 'b.conf') })).toEqual([
      'fast',
      'slow',
    ]);
    const source = json<BackendsJson>(
      (await run(box, ['backends', '--json', '--config', 'a.conf'], { cwd: dir })).out,
    ).config;
    expect(source).toEqual({ kind: 'option', path: join(dir, 'a.conf') });
  });

  it('exits 1 with BadStoreConfiguration for a bad config, masking credentials', async () => {
    const dir = join(box.root, 'bad');
    mkdirSync(dir, { recursive: true });
    const missing = await run(box, ['backends', '--config', join(dir, 'nope.conf')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^store: BadStoreConfiguration: Cannot read config file /);

    // Every command that needs the config reports it the same way.
    for (const args of [
      ['add', '-'],
      ['get', 'file:///x'],
      ['size', 'file:///x'],
      ['delete', 'file:///x'],
      ['copy', 'file:///x', '--to', 'b'],
      ['backends'],
      ['verify'],
      ['verify', 'file:///x', '--checksum', 'ab'],
    ]) {
      const result = await run(box, [...args, '--json'], {
        env: { STORE_CONFIG: join(dir, 'nope.conf') },
        input: 'x',
      });
      expect(result.code, args.join(' ')).toBe(1);
      expect(json<{ error: { code: string } }>(result.stderr).error.code).toBe(
        'BadStoreConfiguration',
      );
    }

    writeFileSync(join(dir, 'syntax.conf'), '[DEFAULT]\nthis line has no value\n');
    const syntax = await run(box, ['add', '-', '--json'], {
      env: { STORE_CONFIG: join(dir, 'syntax.conf') },
      input: 'x',
    });
    expect(syntax.code).toBe(1);
    expect(json(syntax.stderr)).toEqual({
      error: {
        code: 'BadStoreConfiguration',
        message: `${join(dir, 'syntax.conf')}, line 2: expected 'key = value' after 'this' (the line is not shown: it may hold a secret)`,
      },
    });

    writeFileSync(join(dir, 'type.conf'), '[DEFAULT]\nenabled_backends = x:nosuchdriver\n');
    const type = await run(box, ['backends', '--config', join(dir, 'type.conf')]);
    expect(type.code).toBe(1);
    expect(type.stderr).toMatch(
      /^store: BadStoreConfiguration: No backend is usable: 'x' \(unknown backend type/m,
    );

    // A credential-looking option's value never shows, even inside another option's error.
    writeFileSync(
      join(dir, 'secret.conf'),
      `[DEFAULT]\nenabled_backends = x:file\n[glance_store]\ndefault_backend = x\n[x]\nadmin_password = Sw0rdf1sh-9\nfilesystem_store_datadir = /dev/null/Sw0rdf1sh-9\n`,
    );
    // The unusable data directory only disables adding: backends lists it, verify fails.
    for (const extra of [[], ['--debug']]) {
      const listed = await run(box, ['backends', '--config', join(dir, 'secret.conf'), ...extra]);
      expect(listed.code).toBe(0);
      expect(listed.out).toMatch(/^adding disabled \(still reading\):\n {2}x \(file\): /m);
      const secret = await run(box, ['verify', '--config', join(dir, 'secret.conf'), ...extra]);
      expect(secret.code).toBe(1);
      expect(secret.stderr).toMatch(/store: StoreAddDisabled: /);
      for (const text of [listed.out, listed.stderr, secret.stderr])
        expect(text).not.toContain('Sw0rdf1sh');
    }
  });
});

describe('store backends, drivers, verify and config sample', () => {
  it('lists backends of a config with two file backends', async () => {
    const dir = join(box.root, 'two');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'store.conf'), twoBackends(dir));
    const human = await run(box, ['backends'], { cwd: dir });
    expect(human.code).toBe(0);
    expect(human.out).toMatch(/^ID {4}TYPE {2}DEFAULT {2}RESERVED {2}CAPABILITIES/m);
    expect(human.out).toMatch(/^fast {2}file {2}yes .*Fast disks$/m);
    expect(human.out).toMatch(/^slow {2}file {2}no /m);
    const verified = await run(box, ['verify', '--json'], { cwd: dir });
    expect(json(verified.out)).toEqual({
      ok: true,
      config: { kind: 'working-directory', path: join(dir, 'store.conf') },
      default: 'fast',
      backends: ['fast', 'slow'],
    });
  });

  it('verify fails without a default backend', async () => {
    const dir = join(box.root, 'nodefault');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'store.conf'), twoBackends(dir).replace('default_backend = fast', ''));
    const result = await run(box, ['verify'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "store: BadStoreConfiguration: 'default_backend' config option is not set\n",
    );
    const ok = await run(box, ['verify']);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^config {4}embedded default .*: OK$/m);
  });

  it('lists a backend whose write side failed as reading only, with why; verify fails', async () => {
    const dir = join(box.root, 'add-disabled');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'not-a-dir'), '');
    writeFileSync(
      join(dir, 'store.conf'),
      `[DEFAULT]\nenabled_backends = ok:file, ro:file\n[glance_store]\ndefault_backend = ok\n[ok]\nfilesystem_store_datadir = ${dir}/ok\n[ro]\nfilesystem_store_datadir = ${dir}/not-a-dir/images\n`,
    );
    const listed = json<BackendsJson>((await run(box, ['backends', '--json'], { cwd: dir })).out);
    expect(listed.backends.map((b) => [b.id, b.addDisabled])).toEqual([
      ['ok', undefined],
      ['ro', expect.stringContaining(`cannot write to data directory ${dir}/not-a-dir/images`)],
    ]);
    const human = await run(box, ['backends'], { cwd: dir });
    expect(human.out).toMatch(
      /^adding disabled \(still reading\):\n {2}ro \(file\): Backend 'ro': cannot write to data directory /m,
    );
    const verify = await run(box, ['verify'], { cwd: dir });
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(
      /^store: StoreAddDisabled: Backend 'ro' \(file\) cannot add images: /m,
    );
  });

  it('lists discovered drivers, and a broken driver package as disabled with why', async () => {
    const dir = join(box.root, 'plugins');
    const pkg = join(dir, 'node_modules', 'store-driver-broken');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({
        name: 'store-driver-broken',
        version: '9.9.9',
        store: { drivers: { broken: './missing.js' } },
      }),
    );
    interface DriversJson {
      drivers: {
        type: string;
        package: string;
        version: string;
        status: string;
        reason: string | null;
      }[];
    }
    const env = { STORE_DRIVER_PATH: join(dir, 'node_modules') };
    const result = await run(box, ['drivers', '--check', '--json'], { cwd: dir, env });
    expect(result.code).toBe(0);
    const { drivers } = json<DriversJson>(result.out);
    expect(drivers.find((d) => d.type === 'file')).toEqual({
      type: 'file',
      package: '@store/file',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      status: 'available',
      reason: null,
      description: expect.any(String),
      schemes: ['file', 'filesystem'],
      capabilities: 79,
    });
    const broken = drivers.find((d) => d.type === 'broken');
    expect(broken).toMatchObject({
      package: 'store-driver-broken',
      version: '9.9.9',
      status: 'disabled',
    });
    expect(broken?.reason).toContain('missing.js');
    // A backend of that type is disabled, not fatal: backends shows why, verify fails.
    writeFileSync(
      join(dir, 'store.conf'),
      `[DEFAULT]\nenabled_backends = ok:file, bad:broken\n[glance_store]\ndefault_backend = ok\n[ok]\nfilesystem_store_datadir = ${dir}/ok\n`,
    );
    const backends = json<BackendsJson>(
      (await run(box, ['backends', '--json'], { cwd: dir, env })).out,
    );
    expect(backends.backends.map((b) => b.id)).toEqual(['ok']);
    expect(backends.disabled).toEqual([
      { id: 'bad', type: 'broken', reason: expect.stringContaining('missing.js') },
    ]);
    const listed = await run(box, ['backends'], { cwd: dir, env });
    expect(listed.out).toMatch(/^disabled:\n {2}bad \(broken\): Driver 'broken' is disabled: /m);
    const verify = await run(box, ['verify'], { cwd: dir, env });
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(
      /^store: DriverLoadFailure: Backend 'bad' \(broken\) is disabled: /m,
    );
    rmSync(join(dir, 'store.conf'));

    const human = await run(box, ['drivers', '--check'], { cwd: dir, env });
    expect(human.out).toMatch(/^file +@store\/file +\S+ +available +/m);
    expect(human.out).toMatch(
      /^broken +store-driver-broken +9\.9\.9 +disabled +store-driver-broken: /m,
    );
    expect(human.stderr).toBe('');
  });

  it('lists drivers from metadata without running their code, and never from the working directory', async () => {
    const dir = join(box.root, 'hostile');
    const marker = join(box.root, 'hostile-ran');
    const pkg = join(dir, 'node_modules', 'store-driver-hostile');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({
        name: 'store-driver-hostile',
        version: '6.6.6',
        type: 'module',
        store: { drivers: { hostile: './index.js', file: './index.js' } },
      }),
    );
    writeFileSync(
      join(pkg, 'index.js'),
      `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'ran');\nexport default 42;\n`,
    );
    // In the working directory's node_modules: not found, not run, even by config sample.
    for (const args of [['drivers'], ['drivers', '--check'], ['config', 'sample'], ['backends']]) {
      const result = await run(box, args, { cwd: dir });
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.out).not.toContain('hostile');
    }
    expect(existsSync(marker)).toBe(false);

    // Asked for through STORE_DRIVER_PATH: listed from its metadata, its code not run,
    // and its claim on 'file' loses to the CLI's own @store/file, with a warning naming both.
    const env = { STORE_DRIVER_PATH: join(dir, 'node_modules') };
    const listed = await run(box, ['drivers', '--json'], { cwd: dir, env });
    expect(listed.code).toBe(0);
    const { drivers } = json<{ drivers: { type: string; package: string; status: string }[] }>(
      listed.out,
    );
    expect(drivers.find((d) => d.type === 'hostile')).toMatchObject({
      package: 'store-driver-hostile',
      status: 'found',
    });
    expect(drivers.find((d) => d.type === 'file')).toMatchObject({ package: '@store/file' });
    expect(listed.stderr).toMatch(/'file'.*@store\/file@.*used.*store-driver-hostile@6\.6\.6/);
    expect(existsSync(marker)).toBe(false);
  });

  it('generates a commented sample config from the option schemas', async () => {
    const all = await run(box, ['config', 'sample']);
    expect(all.code).toBe(0);
    expect(all.out).toContain('[DEFAULT]');
    expect(all.out).toContain('#enabled_backends = ');
    expect(all.out).toContain('[glance_store]');
    expect(all.out).toMatch(/^\[file\]$/m);
    expect(all.out).toMatch(/^#filesystem_store_chunk_size = 65536$/m);
    // Bounds are shown beside the type (file perm lost its range: glance_store reads it as octal digits).
    expect(all.out).toMatch(/^# \(type: int; min: \d+(; max: \d+)?\)$/m);
    expect(all.out).toMatch(/^# \(type: int\)\n#filesystem_store_file_perm = 0$/m);
    // It is a valid config once a backend is enabled.
    const enabled = all.out
      .replace(/^#enabled_backends = .*$/m, 'enabled_backends = file:file')
      .replace(/^#filesystem_store_datadir = .*$/m, `filesystem_store_datadir = ${box.root}/s`);
    const config = parseConfig(enabled);
    expect(config.enabledBackends).toEqual({ file: 'file' });
    expect(config.backends.file).toEqual({ filesystem_store_datadir: `${box.root}/s` });

    const one = await run(box, ['config', 'sample', '--driver', 'file', '--json']);
    const doc = json<{
      sample: string;
      drivers: { type: string; options: { name: string; default: unknown }[] }[];
    }>(one.out);
    expect(doc.drivers.map((d) => d.type)).toEqual(['file']);
    expect(doc.drivers[0]!.options.map((o) => o.name)).toContain('filesystem_store_datadirs');
    expect(
      doc.drivers[0]!.options.find((o) => o.name === 'filesystem_thin_provisioning'),
    ).toMatchObject({
      default: false,
    });
    expect(doc.sample).toContain('[file]');

    const unknown = await run(box, ['config', 'sample', '--driver', 'nosuch']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(
      /^store: UnsupportedBackend: No driver for backend type 'nosuch'/,
    );
  });
});
