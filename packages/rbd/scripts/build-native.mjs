// Builds the native binding with node-gyp when librbd's and librados's headers are
// installed; otherwise says so and succeeds, so the TypeScript still builds and the
// rbd driver loads disabled with a message naming the packages to install.
//   node scripts/build-native.mjs
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

if (process.env.STORE_RBD_SKIP_NATIVE === '1') {
  console.log('@store/rbd: STORE_RBD_SKIP_NATIVE=1, not building the native binding');
  process.exit(0);
}

// STORE_RBD_INCLUDE_PATH (colon-separated) replaces the search, e.g. for a sysroot.
const includeDirs = process.env.STORE_RBD_INCLUDE_PATH
  ? process.env.STORE_RBD_INCLUDE_PATH.split(':').filter(Boolean)
  : [...(process.env.CPATH ?? '').split(':').filter(Boolean), '/usr/local/include', '/usr/include'];
const hasHeader = (header) => includeDirs.some((dir) => existsSync(join(dir, header)));
const missing = ['rbd/librbd.h', 'rados/librados.h'].filter((h) => !hasHeader(h));
if (missing.length > 0) {
  console.log(
    `@store/rbd: ${missing.join(' and ')} not found, so the native binding is not built; ` +
      'the rbd driver will load disabled. To enable it: apt-get install librbd-dev librados-dev, ' +
      'then rebuild @store/rbd.',
  );
  process.exit(0);
}

// Our own node-gyp (a dev dependency), else the one npm/pnpm point install scripts at.
let nodeGyp;
try {
  nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  nodeGyp = process.env.npm_config_node_gyp;
}
if (!nodeGyp || !existsSync(nodeGyp)) {
  console.log(
    '@store/rbd: node-gyp is not available, so the native binding is not built; the rbd driver ' +
      'will load disabled. Install node-gyp, then rebuild @store/rbd.',
  );
  process.exit(0);
}
const args = [];
// Use the installed Node headers when present (Debian's nodejs-dev, official
// tarballs), so no download is needed.
const prefix = resolve(dirname(process.execPath), '..');
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
// Incremental after the first configure.
const command = existsSync(join(root, 'build', 'Makefile')) ? 'build' : 'rebuild';
const result = spawnSync(process.execPath, [nodeGyp, command, ...args], {
  cwd: root,
  stdio: 'inherit',
});
if (result.status !== 0) {
  console.error('@store/rbd: building the native binding failed (see the compiler output above)');
  process.exit(result.status ?? 1);
}
