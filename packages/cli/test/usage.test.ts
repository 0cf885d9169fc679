import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, json, run, type Sandbox, sandbox } from './cli.js';

let box: Sandbox;
beforeAll(() => {
  assertBuilt();
  box = sandbox();
});
afterAll(() => box.cleanup());

describe('store: help, version and usage errors', () => {
  it('prints the command list with --help and each command with <command> --help', async () => {
    const main = await run(box, ['--help']);
    expect(main.code).toBe(0);
    for (const name of ['add', 'get', 'size', 'delete', 'copy', 'backends', 'drivers', 'verify']) {
      expect(main.out).toMatch(new RegExp(`^  ${name} `, 'm'));
    }
    expect(main.out).toContain('config sample');
    const add = await run(box, ['add', '--help']);
    expect(add.code).toBe(0);
    expect(add.out).toContain('Usage: store add <file|-> [--backend ID] [--id IMAGE_ID]');
    expect(add.out).toContain('--json prints: {"imageId"');
    const sample = await run(box, ['help', 'config', 'sample']);
    expect(sample.code).toBe(0);
    expect(sample.out).toContain('Usage: store config sample [--driver TYPE]');
    const version = await run(box, ['--version']);
    expect(version.out.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('exits 2 with a UsageError for bad command lines', async () => {
    const cases: [string[], RegExp][] = [
      [[], /Usage: store <command>/],
      [['frob'], /UsageError: unknown command 'frob'/],
      [['get'], /UsageError: 'store get' needs <location>/],
      [['size', 'a', 'b'], /UsageError: 'store size': unexpected argument 'b'/],
      [['delete'], /UsageError: 'store delete' needs <location>/],
      [['backends', 'extra'], /UsageError: 'store backends': unexpected argument 'extra'/],
      [['drivers', '--to', 'x'], /UsageError: Unknown option '--to'/],
      [['copy', 'file:///x', '--to'], /UsageError: Option '--to <value>' argument missing/],
      [['add', 'x', '--bogus'], /UsageError: Unknown option '--bogus'/],
      [['add', 'x', '--size', 'ten'], /UsageError: --size must be a non-negative integer/],
      [['get', 'file:///x', '--offset', '1.5'], /--offset must be a non-negative integer/],
      [['get', 'file:///x', '--out'], /UsageError: Option '--out <value>' argument missing/],
      [['copy', 'file:///x'], /UsageError: copy needs --to BACKEND/],
      [['verify', '--checksum', 'ab'], /UsageError: --checksum, --multihash and --hash need/],
      [['verify', 'file:///x'], /UsageError: verifying an image needs --checksum or --multihash/],
      [['config'], /UsageError: 'store config' needs a subcommand: sample/],
      [['config', 'dump'], /UsageError: unknown config subcommand 'dump'/],
      [['backends', '--json=1'], /UsageError/],
    ];
    for (const [args, expected] of cases) {
      const result = await run(box, args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(expected);
      expect(result.out, args.join(' ')).toBe('');
    }
  });

  it('prints usage errors as a JSON document on stderr with --json', async () => {
    const result = await run(box, ['size', '--json']);
    expect(result.code).toBe(2);
    expect(json(result.stderr)).toEqual({
      error: { code: 'UsageError', message: "'store size' needs <location>" },
    });
  });
});
