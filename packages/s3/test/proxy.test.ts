/**
 * s3 through a forward proxy, as botocore: s3_store_proxies, else HTTP(S)_PROXY
 * unless NO_PROXY names the host. A real CONNECT proxy on 127.0.0.1 (the http
 * package's test proxy) in front of radosgw; NO_PROXY matching as urllib's.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { MultiStore, silentLogger, validateOptions } from '@store/core';
import { collect, type ForwardProxy, startProxy } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig } from '../src/client.js';
import s3Driver, { S3_OPTIONS, type S3Options } from '../src/index.js';
import { bypassesProxy } from '../src/proxy.js';
import { resolveSettings } from '../src/settings.js';
import { dropBucketAlone, env, s3Options, scratchBucket } from './radosgw.js';

describe('NO_PROXY matching (urllib proxy_bypass_environment)', () => {
  it.each([
    ['*', 'gw.example.com', true],
    ['example.com', 'gw.example.com', true],
    ['.example.com', 'gw.example.com', true],
    ['ample.com', 'gw.example.com', false],
    ['gw.example.com:7480', 'gw.example.com', true],
    ['gw.example.com:80', 'gw.example.com', false],
    ['other.org, 127.0.0.1', '127.0.0.1', true],
    ['', '127.0.0.1', false],
  ])('NO_PROXY=%s for %s:7480 bypasses: %s', (noProxy, host, bypass) => {
    expect(bypassesProxy(noProxy, host, '7480')).toBe(bypass);
  });

  it('the option wins over the environment; the environment is read in either case', () => {
    const settings = (raw: Record<string, string>, vars: Record<string, string>) =>
      resolveSettings(
        'o',
        validateOptions('o', S3_OPTIONS, { s3_store_host: 'http://gw.test:7480', ...raw })
          .values as unknown as S3Options,
        vars,
      ).proxy?.shown;
    expect(settings({}, { http_proxy: 'http://u:p@env-proxy:3128' })).toBe('http://env-proxy:3128');
    expect(settings({}, { HTTP_PROXY: 'env-proxy:8080' })).toBe('http://env-proxy:8080');
    expect(settings({}, { HTTPS_PROXY: 'http://only-https:1' })).toBeUndefined();
    expect(settings({}, { HTTP_PROXY: 'http://p:1', NO_PROXY: 'gw.test' })).toBeUndefined();
    expect(
      settings({ s3_store_proxies: 'http:http://opt-proxy:3128' }, { HTTP_PROXY: 'http://p:1' }),
    ).toBe('http://opt-proxy:3128');
    expect(() => settings({ s3_store_proxies: 'http:socks5://p:1080' }, {})).toThrow(
      /s3_store_proxies' \(http\) must be an http:\/\/ proxy/,
    );
  });
});

describe('retries and timeouts, named after botocore Config', () => {
  it('reach the SDK client per backend', () => {
    const options = validateOptions('o', S3_OPTIONS, {
      s3_store_host: 'http://gw.test:7480',
      s3_store_max_attempts: '2',
      s3_store_connect_timeout: '1.5',
      s3_store_read_timeout: '30',
    }).values as unknown as S3Options;
    const settings = resolveSettings('o', options, {});
    const agents = { http: new HttpAgent(), https: new HttpsAgent() };
    const config = clientConfig(
      settings,
      { accessKeyId: 'a', secretAccessKey: 'b' },
      agents,
      silentLogger,
      (t) => t,
    );
    expect(config.maxAttempts).toBe(2);
    expect(config.requestHandler).toMatchObject({ connectionTimeout: 1500, socketTimeout: 30_000 });
    const defaults = resolveSettings(
      'o',
      validateOptions('o', S3_OPTIONS, { s3_store_host: 'gw.test' }).values as unknown as S3Options,
      {},
    );
    expect([defaults.maxAttempts, defaults.connectTimeoutMs, defaults.readTimeoutMs]).toEqual([
      4, 5000, 120_000,
    ]);
  });
});

describe.skipIf(!env)('s3 through a CONNECT proxy on 127.0.0.1, against radosgw', () => {
  const bucket = scratchBucket('store-s3-proxy');
  let proxy: ForwardProxy;
  beforeAll(async () => {
    proxy = await startProxy();
  });
  afterAll(async () => {
    await proxy.close();
    await dropBucketAlone(bucket);
  });

  it('s3_store_proxies: every request goes through the tunnel, with the proxy credentials', async () => {
    proxy.requireAuth = `Basic ${Buffer.from('proxyuser:proxy-pass').toString('base64')}`;
    const endpoint = new URL(env!.STORE_TEST_S3_ENDPOINT);
    const store = await MultiStore.create(
      {
        enabledBackends: { s: 's3' },
        defaultBackend: 's',
        backends: {
          s: s3Options(bucket, {
            s3_store_proxies: `http:http://proxyuser:proxy-pass@127.0.0.1:${proxy.port}`,
          }),
        },
      },
      { drivers: [s3Driver] },
    );
    try {
      const before = proxy.seen.length;
      const added = await store.add('via-proxy', Buffer.from('tunnelled'), 9);
      const got = await collect((await store.get(added.location)).stream);
      expect(Buffer.from(got).toString()).toBe('tunnelled');
      await store.delete(added.location);
      const tunnels = proxy.seen.slice(before);
      expect(tunnels.length).toBeGreaterThan(0);
      expect(tunnels.every((t) => t.method === 'CONNECT' && t.url === endpoint.host)).toBe(true);
      expect(JSON.stringify(store.backend('s').options)).not.toContain('proxy-pass');
    } finally {
      await store.close();
      proxy.requireAuth = undefined;
    }
  });

  it('a proxy that refuses fails the call naming the proxy, never its password', async () => {
    proxy.requireAuth = 'Basic bm9ib2R5Om5vdGhpbmc=';
    const store = await MultiStore.create(
      {
        enabledBackends: { s: 's3' },
        defaultBackend: 's',
        backends: {
          s: s3Options(bucket, {
            s3_store_proxies: `http:http://u:wrong-secret@127.0.0.1:${proxy.port}`,
            s3_store_max_attempts: '1',
          }),
        },
      },
      { drivers: [s3Driver] },
    );
    try {
      const err = await store.add('refused', Buffer.from('x'), 1).catch((e) => e);
      expect(err.code).not.toBeUndefined();
      const text = `${err.message} ${String(err.cause)}`;
      expect(text).toContain(`127.0.0.1:${proxy.port}`);
      expect(text).not.toContain('wrong-secret');
    } finally {
      await store.close();
      proxy.requireAuth = undefined;
    }
  });
});
