/** The http driver's options: glance_store's three, plus timeouts and retries of our own. */
import type { OptionSpec } from '@store/core';

export const HTTP_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'https_ca_certificates_file',
    type: 'string',
    help: 'Path to a PEM bundle of CA certificates used to verify HTTPS servers, instead of the system trust store. When set, https_insecure is ignored.',
  },
  {
    name: 'https_insecure',
    type: 'bool',
    // glance_store defaults to true (no verification); we verify unless told not to.
    default: false,
    help: 'Skip verification of HTTPS server certificates. Ignored when https_ca_certificates_file is set. Default false: certificates are verified (glance_store defaults to true).',
  },
  {
    name: 'http_proxy_information',
    type: 'dict',
    help: 'Forward proxies per URL scheme, as scheme:proxy pairs, e.g. "http:10.0.0.1:3128, https:http://user:pass@10.0.0.1:3128". Keys: http, https, all. A proxy URL without a scheme means http://. HTTPS goes through the proxy with CONNECT; credentials in a proxy URL are sent as Proxy-Authorization.',
  },
  {
    name: 'http_connect_timeout',
    type: 'float',
    default: 30,
    min: 0.001,
    help: 'Seconds allowed to open a connection to the server: TCP connect, proxy CONNECT and TLS handshake (not in glance_store, which waits forever).',
  },
  {
    name: 'http_read_timeout',
    type: 'float',
    default: 60,
    min: 0.001,
    help: 'Seconds the server may stay silent: before the response headers, and between two pieces of the body while the reader is waiting for data (not in glance_store, which waits forever).',
  },
  {
    name: 'http_total_timeout',
    type: 'float',
    default: 3600,
    min: 0,
    help: 'Seconds the server may take in all for one read: its answer (connection, redirects, retries) plus every wait for body data while the reader is waiting; time the reader itself takes is not counted. Bounds a server that trickles bytes, which http_read_timeout alone does not. 0: no limit (not in glance_store, which waits forever).',
  },
  {
    name: 'https_allow_redirect_to_http',
    type: 'bool',
    default: false,
    help: 'Follow a redirect from an https URL to a plain http one. Default false: such a redirect is refused with BadStoreUri (glance_store follows it).',
  },
  {
    name: 'http_max_retries',
    type: 'int',
    default: 3,
    min: 0,
    max: 10,
    help: 'Times a request is repeated, with exponential back-off from 0.25 s, after a connection failure, a timeout or a 429/5xx answer, before RemoteServiceUnavailable is raised. Only requests whose body has not started are repeated (not in glance_store).',
  },
];

/** Typed view of the validated options. */
export interface HttpOptions {
  readonly https_ca_certificates_file?: string;
  readonly https_insecure: boolean;
  readonly http_proxy_information?: Readonly<Record<string, string>>;
  readonly http_connect_timeout: number;
  readonly http_read_timeout: number;
  readonly http_total_timeout: number;
  readonly https_allow_redirect_to_http: boolean;
  readonly http_max_retries: number;
}
