/** loadCaFile on real files: a CA made with the openssl CLI, and files that are not one. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCaFile } from '../src/ca-file.js';
import { BadStoreConfiguration } from '../src/errors.js';

let dir: string;
let caFile: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'store-ca-'));
  caFile = join(dir, 'ca.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca.key')].concat([
      '-out',
      caFile,
      '-days',
      '1',
      '-subj',
      '/CN=store test CA',
    ]),
    { stdio: 'pipe' },
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function failure(path: string): Promise<BadStoreConfiguration> {
  const err = await loadCaFile('web', 'https_ca_certificates_file', path).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(BadStoreConfiguration);
  return err as BadStoreConfiguration;
}

describe('loadCaFile', () => {
  it('reads a PEM bundle, and nothing when no file is named', async () => {
    const pem = readFileSync(caFile);
    const bundle = join(dir, 'bundle.pem');
    writeFileSync(bundle, Buffer.concat([Buffer.from('# comment\n'), pem, pem]));
    expect(await loadCaFile('web', 'https_ca_certificates_file', caFile)).toEqual(pem);
    expect((await loadCaFile('web', 'https_ca_certificates_file', bundle))?.length).toBe(
      pem.length * 2 + 10,
    );
    expect(await loadCaFile('web', 'https_ca_certificates_file', undefined)).toBeUndefined();
    expect(await loadCaFile('web', 'https_ca_certificates_file', '')).toBeUndefined();
  });

  it('names the backend, the option, the path and the errno of a missing file', async () => {
    const err = await failure(join(dir, 'missing.pem'));
    expect(err.message).toBe(
      `Backend 'web': option 'https_ca_certificates_file' ${join(dir, 'missing.pem')} cannot be used (ENOENT)`,
    );
  });

  it('refuses a file holding no certificate or a damaged one, never quoting it', async () => {
    const secretish = 'not-a-cert-but-private-text';
    const none = join(dir, 'none.pem');
    writeFileSync(none, `${secretish}\n`);
    const damaged = join(dir, 'damaged.pem');
    writeFileSync(damaged, readFileSync(caFile, 'latin1').replace(/\nM[A-Za-z0-9]{8}/, '\n!!!!'));
    for (const path of [none, damaged]) {
      const err = await failure(path);
      expect(err.message).toContain(`option 'https_ca_certificates_file' ${path} cannot be used (`);
      expect(err.message).not.toContain(secretish);
      expect(err.message).not.toContain('BEGIN CERTIFICATE');
    }
    expect((await failure(none)).message).toContain('no PEM certificate in it');
  });
});
