// Shared measuring for benchmark rows: run a command or a node child, take wall
// time and peak RSS, repeat and keep the median.
import { spawn } from 'node:child_process';

/** Runs `command` with `args` under /usr/bin/time, returns { seconds, peakRssMiB }. */
export function timeCommand(command, args, { stdout = 'ignore', env } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '%M', command, ...args], {
      stdio: ['ignore', stdout, 'pipe'],
      env: env ?? process.env,
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0)
        return reject(
          new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-500)}`),
        );
      const kib = Number(stderr.trim().split('\n').at(-1));
      resolve({ seconds, peakRssMiB: kib / 1024, stderr });
    });
  });
}

/** Runs `command` that prints one JSON line { seconds, ...} on stdout; adds its peak RSS. */
export function runJsonChild(command, args, { env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '%M', command, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: env ?? process.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0)
        return reject(
          new Error(
            `${command} ${args.join(' ')} exited ${code}: ${(stdout + stderr).slice(-2000)}`,
          ),
        );
      const result = JSON.parse(stdout.trim().split('\n').at(-1));
      const kib = Number(stderr.trim().split('\n').at(-1));
      resolve({ ...result, peakRssMiB: kib / 1024 });
    });
  });
}

/** Runs a node script that prints one JSON line { seconds, ...} on stdout; adds its peak RSS. */
export function runNodeChild(script, args, options) {
  return runJsonChild(process.execPath, [script, ...args], options);
}

/** Runs `fn` `times` times and returns the run with the median `seconds`. */
export async function median(times, fn) {
  const runs = [];
  for (let i = 0; i < times; i++) runs.push(await fn(i));
  runs.sort((a, b) => a.seconds - b.seconds);
  return runs[Math.floor(runs.length / 2)];
}

/** Formats rows as a markdown table. */
export function table(headers, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

export const MiB = 1024 * 1024;
export const fmt = (n, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : String(n));
