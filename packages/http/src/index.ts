/**
 * @store/http: the read-only HTTP(S) driver. glance_store's http store: an
 * image lives on any web server and its URL is the location.
 *
 * @packageDocumentation
 */
import { Capability, defineDriver } from '@store/core';
import { HttpDriver } from './driver.js';
import { HTTP_OPTIONS } from './options.js';

export { MAX_REDIRECTS } from './client.js';
export { HttpDriver } from './driver.js';
export {
  displayUri,
  type HttpLocation,
  parseHttpLocation,
  requestTarget,
  resolveRedirect,
} from './location.js';
export { HTTP_OPTIONS, type HttpOptions } from './options.js';
export { type ProxyEndpoint, type ProxyMap, parseProxyInformation } from './proxy.js';

/** The `http` driver definition (discovered through package.json `store.drivers`). */
const httpDriver = defineDriver({
  type: 'http',
  schemes: ['http', 'https'],
  // glance_store declares READ_ACCESS | DRIVER_REUSABLE (65); offsets and chunks
  // are served here too, through Range requests (READ_RANDOM), so 71.
  capabilities: Capability.READ_RANDOM | Capability.DRIVER_REUSABLE,
  options: HTTP_OPTIONS,
  description: 'Read-only: images served by any web server, located by URL',
  create: (context) => HttpDriver.create(context),
});

export default httpDriver;
