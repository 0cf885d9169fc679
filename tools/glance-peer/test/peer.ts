/** Runs tools/glance-peer/glance_peer.py (glance_store itself) and parses its JSON. */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, MultiStore } from '@store/core';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(__dirname, '..', 'glance_peer.py');
/** Drivers come from this package's dependencies (under vitest the main module is vitest's). */
export const DISCOVERY = { from: join(__dirname, '..') } as const;

export interface PeerResult {
  error?: string;
  message?: string;
  location?: string;
  size?: number;
  bytes?: number;
  checksum?: string;
  multihash?: string;
  metadata?: Record<string, unknown>;
  seconds?: number;
  peakRssMiB?: number;
  [key: string]: unknown;
}

/** Runs one peer command; resolves with its JSON (errors included, as `error`). */
export async function peer(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<PeerResult> {
  try {
    const { stdout } = await promisify(execFile)(PYTHON, [SCRIPT, ...args], {
      env,
      maxBuffer: 64 << 20,
    });
    return JSON.parse(stdout.trim().split('\n').at(-1)!);
  } catch (err) {
    const stdout = (err as { stdout?: string }).stdout ?? '';
    const last = stdout.trim().split('\n').at(-1);
    if (last?.startsWith('{')) return JSON.parse(last);
    throw err;
  }
}

/** One INI file read by both glance_store and @store, and both sides opened on it. */
export interface SharedConfig {
  configPath: string;
  store: MultiStore;
  /** Runs a peer command with `--config` this file. */
  glance: (...args: string[]) => Promise<PeerResult>;
}

/**
 * Writes `lines` to `dir`/glance-api.conf and opens a MultiStore and a peer
 * (run with `env`) on it.
 */
export async function sharedConfig(
  dir: string,
  lines: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<SharedConfig> {
  const configPath = join(dir, 'glance-api.conf');
  await writeFile(configPath, [...lines, ''].join('\n'));
  const store = await MultiStore.create(await loadConfig(configPath), { discovery: DISCOVERY });
  return { configPath, store, glance: (...args) => peer(['--config', configPath, ...args], env) };
}
