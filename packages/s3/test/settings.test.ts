import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BadStoreConfiguration, silentLogger, validateOptions } from '@store/core';
import { describe, expect, it } from 'vitest';
import { clientConfig } from '../src/client.js';
import { S3_OPTIONS, type S3Options } from '../src/index.js';
import { amazonRegionOf, checkWriteSettings, resolveSettings } from '../src/settings.js';

const base = {
  s3_store_host: 'http://127.0.0.1:7480',
  s3_store_access_key: 'AKIDEXAMPLE',
  s3_store_secret_key: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCY',
  s3_store_bucket: 'images',
};

/** Settings with both sides checked, as the driver's create does. */
function settings(raw: Record<string, string>) {
  const { values } = validateOptions('objects', S3_OPTIONS, raw);
  const resolved = resolveSettings('objects', values as unknown as S3Options);
  checkWriteSettings(resolved, values as unknown as S3Options);
  return resolved;
}

/** Settings with only what reading needs checked. */
function readSettings(raw: Record<string, string>) {
  const { values } = validateOptions('objects', S3_OPTIONS, raw);
  return resolveSettings('objects', values as unknown as S3Options);
}

describe('s3 options and settings', () => {
  it("uses glance_store's defaults and sizes in MiB", () => {
    const s = settings(base);
    expect(s.largeObjectSize).toBe(100 * 1024 * 1024);
    expect(s.partSize).toBe(10 * 1024 * 1024);
    expect(s.concurrency).toBe(10);
    expect(s.createBucketOnPut).toBe(false);
    expect(s.scheme).toBe('s3');
    expect(s.uriHost).toBe('127.0.0.1:7480');
    expect(s.endpoint).toBe('http://127.0.0.1:7480');
  });

  it('writes s3+https locations for https hosts and assumes http without a scheme', () => {
    expect(settings({ ...base, s3_store_host: 'https://gw.example.com/' }).scheme).toBe('s3+https');
    const bare = settings({ ...base, s3_store_host: 'gw.example.com:8080' });
    expect(bare.endpoint).toBe('http://gw.example.com:8080');
    expect(bare.uriHost).toBe('gw.example.com:8080');
  });

  it.each([
    ['s3_store_host'],
    ['s3_store_access_key'],
    ['s3_store_secret_key'],
    ['s3_store_bucket'],
  ])('requires %s', (name) => {
    const raw: Record<string, string> = { ...base };
    delete raw[name];
    expect(() => settings(raw)).toThrow(BadStoreConfiguration);
  });

  it('reading needs only the host: keys, bucket and part sizes are for writing', () => {
    const { s3_store_host } = base;
    expect(readSettings({ s3_store_host }).endpoint).toBe('http://127.0.0.1:7480');
    expect(readSettings({ ...base, s3_store_large_object_chunk_size: '4' }).partSize).toBe(4 << 20);
    expect(() => readSettings({ s3_store_bucket: 'images' })).toThrow(
      /'s3_store_host' is required/,
    );
  });

  it('refuses a part size below 5 MiB, no threads and an unknown url format', () => {
    expect(() => settings({ ...base, s3_store_large_object_chunk_size: '4' })).toThrow(
      BadStoreConfiguration,
    );
    expect(() => settings({ ...base, s3_store_thread_pools: '0' })).toThrow(BadStoreConfiguration);
    expect(() => settings({ ...base, s3_store_bucket_url_format: 'subdomain' })).toThrow(
      BadStoreConfiguration,
    );
  });

  it('refuses keys the location format cannot carry, without showing them', () => {
    const secret = 'has:colon/secret';
    try {
      settings({ ...base, s3_store_secret_key: secret });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(BadStoreConfiguration);
      expect((err as Error).message).not.toContain(secret);
    }
  });

  it("derives the region from Amazon host names, as glance_store's get_s3_location", () => {
    expect(amazonRegionOf('s3.amazonaws.com')).toBe('');
    expect(amazonRegionOf('https://s3-eu-west-1.amazonaws.com/')).toBe('eu-west-1');
    expect(amazonRegionOf('s3-cn-north-1.amazonaws.com.cn:443')).toBe('cn-north-1');
    expect(amazonRegionOf('127.0.0.1:7480')).toBe('');
    const aws = settings({ ...base, s3_store_host: 'https://s3-eu-west-1.amazonaws.com' });
    expect(aws.endpoint).toBeUndefined();
    expect(aws.region).toBe('eu-west-1');
    expect(settings({ ...base, s3_store_region_name: 'zg1' }).region).toBe('zg1');
  });

  describe('addressing style', () => {
    /** The URL a GetObject would go to, captured before anything is sent. */
    async function urlFor(raw: Record<string, string>): Promise<string> {
      const s = settings(raw);
      const agents = { http: new HttpAgent(), https: new HttpsAgent() };
      const client = new S3Client(
        clientConfig(s, { accessKeyId: 'a', secretAccessKey: 'b' }, agents, silentLogger, (t) => t),
      );
      let url = '';
      client.middlewareStack.add(
        () => async (args) => {
          const request = args.request as {
            protocol: string;
            hostname: string;
            port?: number;
            path: string;
          };
          url = `${request.protocol}//${request.hostname}${request.port ? `:${request.port}` : ''}${request.path}`;
          throw new Error('captured');
        },
        { step: 'finalizeRequest', priority: 'low' },
      );
      await client
        .send(new GetObjectCommand({ Bucket: s.bucket, Key: 'k' }))
        .catch(() => undefined);
      client.destroy();
      return url;
    }
    const host = 'http://s3.example.test:7480';

    it('auto uses path style on a custom endpoint (as boto3 does)', async () => {
      expect(await urlFor({ ...base, s3_store_host: host })).toBe(
        'http://s3.example.test:7480/images/k',
      );
    });
    it('path forces path style', async () => {
      expect(
        await urlFor({ ...base, s3_store_host: host, s3_store_bucket_url_format: 'path' }),
      ).toBe('http://s3.example.test:7480/images/k');
    });
    it('virtual puts the bucket in the host name', async () => {
      expect(
        await urlFor({ ...base, s3_store_host: host, s3_store_bucket_url_format: 'virtual' }),
      ).toBe('http://images.s3.example.test:7480/k');
    });
    it('virtual falls back to path style for an IP address endpoint', async () => {
      expect(await urlFor({ ...base, s3_store_bucket_url_format: 'virtual' })).toBe(
        'http://127.0.0.1:7480/images/k',
      );
    });
    it('virtual refuses a bucket name that is no DNS name', () => {
      expect(() =>
        settings({ ...base, s3_store_bucket: 'Not_DNS', s3_store_bucket_url_format: 'virtual' }),
      ).toThrow(BadStoreConfiguration);
    });
  });
});
