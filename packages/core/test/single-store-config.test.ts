/** glance_store's single-store mode (backend.py): a config without enabled_backends. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/index.js';

describe('a config without enabled_backends is read as glance_store single-store mode', () => {
  it("defaults to glance_store's stores = file, http and default_store = file", () => {
    expect(parseConfig('[glance_store]\nfilesystem_store_datadir = /srv/images\n')).toEqual({
      enabledBackends: { file: 'file', http: 'http' },
      defaultBackend: 'file',
      backends: {
        file: { filesystem_store_datadir: '/srv/images' },
        http: { filesystem_store_datadir: '/srv/images' },
      },
      singleStore: true,
    });
  });

  it('maps entry-point aliases and default_store schemes onto driver types', () => {
    const config = parseConfig(
      '[glance_store]\nstores = filesystem, https, rbd, swift\ndefault_store = swift+config\nrbd_store_pool = $pool\npool = images\n',
    );
    expect(config.enabledBackends).toEqual({
      file: 'file',
      http: 'http',
      rbd: 'rbd',
      swift: 'swift',
    });
    expect(config.defaultBackend).toBe('swift');
    // Options are [glance_store]'s, interpolated, minus the single-store ones.
    expect(config.backends.rbd).toEqual({ rbd_store_pool: 'images', pool: 'images' });
  });

  it("refuses a default_store outside glance_store's choices", () => {
    expect(() => parseConfig('[glance_store]\ndefault_store = s3+https\n')).toThrow(
      /default_store must be one of file, filesystem, http, .*got 's3\+https'/,
    );
  });

  it('an empty enabled_backends is still multi-store', () => {
    expect(parseConfig('[DEFAULT]\nenabled_backends =\n').singleStore).toBeUndefined();
  });
});
