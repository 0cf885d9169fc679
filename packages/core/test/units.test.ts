import { describe, expect, it } from 'vitest';
import {
  BadStoreConfiguration,
  Capability,
  CapabilitySet,
  capabilityNames,
  configFromIni,
  hasCapability,
  LocationRegistry,
  type OptionSpec,
  parseConfig,
  parseIni,
  redactError,
  redactOptions,
  redactUri,
  renderOptionsSample,
  schemeOf,
  secretRedactor,
  validateOptions,
} from '../src/index.js';

describe('capabilities', () => {
  it("uses glance_store's values", () => {
    expect(Capability).toMatchObject({
      NONE: 0,
      READ_ACCESS: 1,
      READ_OFFSET: 3,
      READ_CHUNK: 5,
      READ_RANDOM: 7,
      WRITE_ACCESS: 8,
      WRITE_OFFSET: 24,
      WRITE_CHUNK: 40,
      WRITE_RANDOM: 56,
      RW_ACCESS: 9,
      RW_OFFSET: 27,
      RW_CHUNK: 45,
      RW_RANDOM: 63,
      DRIVER_REUSABLE: 64,
      ALL: 255,
    });
  });
  it('names masks without repeating covered bits', () => {
    expect(capabilityNames(79)).toEqual(['READ_RANDOM', 'WRITE_ACCESS', 'DRIVER_REUSABLE']);
    expect(capabilityNames(65)).toEqual(['READ_ACCESS', 'DRIVER_REUSABLE']);
    expect(capabilityNames(63)).toEqual(['RW_RANDOM']);
    expect(capabilityNames(0)).toEqual(['NONE']);
    expect(capabilityNames(255)).toEqual(['ALL']);
    expect(capabilityNames(9)).toEqual(['RW_ACCESS']);
  });
  it('checks and updates a live set', () => {
    const set = new CapabilitySet(Capability.RW_ACCESS);
    expect(set.has(Capability.WRITE_ACCESS)).toBe(true);
    set.remove(Capability.WRITE_ACCESS);
    expect(set.mask).toBe(1);
    set.add(Capability.READ_OFFSET);
    expect(set.has(Capability.READ_OFFSET)).toBe(true);
    expect(hasCapability(7, Capability.READ_CHUNK)).toBe(true);
    expect(hasCapability(3, Capability.READ_CHUNK)).toBe(false);
  });
});

describe('INI config', () => {
  const text = `
# glance-api.conf excerpt
[DEFAULT]
enabled_backends = fast:file, ceph:rbd ,objects:s3
debug = true

[glance_store]
default_backend = fast

[fast]
store_description = "Fast local disks"
filesystem_store_datadir = /var/lib/images

[ceph]
rbd_store_pool: images
rbd_store_user = glance

[multi]
filesystem_store_datadirs = /a:100
filesystem_store_datadirs = /b:200
; a comment
long = first
  second
`;
  it('reads enabled backends, default backend and per-backend sections', () => {
    const config = parseConfig(text);
    expect(config.enabledBackends).toEqual({ fast: 'file', ceph: 'rbd', objects: 's3' });
    expect(config.defaultBackend).toBe('fast');
    expect(config.backends.fast).toEqual({
      store_description: 'Fast local disks',
      filesystem_store_datadir: '/var/lib/images',
    });
    expect(config.backends.ceph).toEqual({ rbd_store_pool: 'images', rbd_store_user: 'glance' });
    expect(config.backends.multi!.filesystem_store_datadirs).toEqual(['/a:100', '/b:200']);
    expect(config.backends.multi!.long).toBe('first\nsecond');
  });
  it('splits key and value at the first = or :, as oslo.config does', () => {
    expect(parseIni('[s]\nurl = http://x:1/y\nk: v=w\n').s).toEqual({
      url: 'http://x:1/y',
      k: 'v=w',
    });
  });
  it('names the line of a syntax error', () => {
    expect(() => parseIni('[s]\nno separator here\n', 'glance.conf')).toThrow(
      'glance.conf, line 2',
    );
    expect(() => parseIni('key = v\n')).toThrow(BadStoreConfiguration);
    expect(() => parseIni('[unterminated\n')).toThrow(/section/);
  });
  it('rejects malformed enabled_backends', () => {
    expect(() => configFromIni({ DEFAULT: { enabled_backends: 'fast' } })).toThrow(
      /enabled_backends/,
    );
  });
});

describe('options', () => {
  const specs: OptionSpec[] = [
    { name: 'size', type: 'int', default: 8, min: 1, max: 64, help: 'Size.' },
    { name: 'ratio', type: 'float', help: 'Ratio.' },
    { name: 'thin', type: 'bool', default: false, help: 'Thin.' },
    {
      name: 'mode',
      type: 'string',
      default: 'auto',
      choices: ['auto', 'path', 'virtual'],
      help: 'Mode.',
    },
    { name: 'key', type: 'string', secret: true, required: true, help: 'Key.' },
    { name: 'proxies', type: 'dict', help: 'Proxies.' },
    { name: 'dirs', type: 'multistring', help: 'Dirs.' },
    { name: 'tags', type: 'list', help: 'Tags.' },
  ];
  it('coerces strings from INI files and keeps native values', () => {
    const { values, unknown } = validateOptions('b', specs, {
      size: '16',
      ratio: '0.5',
      thin: 'Yes',
      key: 's3cret',
      proxies: 'http:http://p:3128, https:http://q:8080',
      dirs: '/a',
      tags: 'x, y',
      extra: '1',
    });
    expect(values).toMatchObject({
      size: 16,
      ratio: 0.5,
      thin: true,
      mode: 'auto',
      key: 's3cret',
      dirs: ['/a'],
      tags: ['x', 'y'],
      proxies: { http: 'http://p:3128', https: 'http://q:8080' },
    });
    expect(unknown).toEqual(['extra']);
    expect(validateOptions('b', specs, { size: 4, thin: false, key: 'k' }).values).toMatchObject({
      size: 4,
      thin: false,
    });
  });
  it('names the backend and option of every bad value', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ key: 'k', size: 'x' }, "Backend 'b': option 'size' must be an integer, got 'x'"],
      [{ key: 'k', size: '0' }, "Backend 'b': option 'size' must be >= 1, got 0"],
      [{ key: 'k', size: 65 }, "Backend 'b': option 'size' must be <= 64, got 65"],
      [{ key: 'k', size: '1.5' }, "Backend 'b': option 'size' must be an integer, got '1.5'"],
      [
        { key: 'k', thin: 'maybe' },
        "Backend 'b': option 'thin' must be a boolean (true/false), got 'maybe'",
      ],
      [
        { key: 'k', mode: 'other' },
        "Backend 'b': option 'mode' must be one of auto, path, virtual, got 'other'",
      ],
      [{}, "Backend 'b': option 'key' is required"],
      [
        { key: 'k', proxies: 'nocolon' },
        "Backend 'b': option 'proxies' has an entry 'nocolon' that is not key:value",
      ],
    ];
    for (const [raw, message] of bad) {
      expect(() => validateOptions('b', specs, raw)).toThrow(new BadStoreConfiguration(message));
    }
  });
  it('never shows a secret value, even when it is wrong', () => {
    const secretInt: OptionSpec[] = [{ name: 'pin', type: 'int', secret: true, help: 'Pin.' }];
    expect(() => validateOptions('b', secretInt, { pin: 'hunter2' })).toThrow(
      /got the given value/,
    );
    expect(redactOptions(specs, { key: 'k', size: 1 })).toEqual({ key: '***', size: 1 });
  });
  it('masks URI credentials in the string, list and dict values of plain options', () => {
    const values = {
      key: 'k',
      size: 1,
      mode: 'http://user:pw@proxy:3128',
      proxies: { http: 'http://user:pw@proxy:3128', https: 'https:proxy:3129' },
      dirs: ['/a:1', 'file://me@host/x'],
      tags: ['a', 'b'],
    };
    const copy = structuredClone(values);
    expect(redactOptions(specs, values)).toEqual({
      key: '***',
      size: 1,
      mode: 'http://***:***@proxy:3128',
      proxies: { http: 'http://***:***@proxy:3128', https: 'https:proxy:3129' },
      dirs: ['/a:1', 'file://***@host/x'],
      tags: ['a', 'b'],
    });
    expect(values).toEqual(copy);
  });
  it('renders a commented sample section', () => {
    const sample = renderOptionsSample('objects', specs);
    expect(sample).toContain('[objects]');
    expect(sample).toContain('#size = 8');
    expect(sample).toContain('# (type: int; min: 1; max: 64)');
    expect(sample).toContain('#store_description = <None>');
    expect(sample).toContain('# (type: string; secret; required)');
  });
});

describe('locations and redaction', () => {
  it('finds schemes and backends per scheme', () => {
    expect(schemeOf('S3+HTTPS://x')).toBe('s3+https');
    expect(() => schemeOf('no-scheme')).toThrow(/no URI scheme/);
    const reg = new LocationRegistry<string>();
    reg.register(['file', 'filesystem'], 'fast', 'F');
    reg.register(['file'], 'slow', 'S');
    expect(reg.backendsFor('file:///x').map((e) => e.backend)).toEqual(['F', 'S']);
    expect(reg.backendFor('filesystem:///x', 'fast')).toBe('F');
    expect(() => reg.backendFor('filesystem:///x', 'slow')).toThrow(/does not handle/);
    expect(() => reg.backendsFor('rbd://x')).toThrow(
      /No backend is configured for the 'rbd' scheme/,
    );
  });
  it('masks URI credentials and secret values everywhere in an error chain', () => {
    expect(redactUri('see s3://AKIA:se%2Fcret@host:80/b/k and http://user@h/')).toBe(
      'see s3://***:***@host:80/b/k and http://***@h/',
    );
    // glance_store puts S3 secret keys into locations unescaped, `/` and `+` included.
    expect(redactUri('get s3://AKIA:a/b+c/d@host/bucket/key: 404')).toBe(
      'get s3://***:***@host/bucket/key: 404',
    );
    expect(redactUri('s3+https://AK:x/y@h/b/k s3://AK2:p/q@h2/b/k')).toBe(
      's3+https://***:***@h/b/k s3://***:***@h2/b/k',
    );
    const redact = secretRedactor(['se/cret-value']);
    const inner = new Error('auth failed for se/cret-value');
    const outer = new Error(`put to s3://a:b@h/x failed: ${encodeURIComponent('se/cret-value')}`, {
      cause: inner,
    });
    redactError(outer, redact);
    expect(outer.message).toBe('put to s3://***:***@h/x failed: ***');
    expect(inner.message).toBe('auth failed for ***');
    expect(inner.stack).not.toContain('se/cret-value');
  });
});
