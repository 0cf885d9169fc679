// The functions with the most self time in a V8 CPU profile (`node --cpu-prof`), with
// their share of the sampled time: where a benchmark row's main thread spends it.
//   node tools/bench/profile-top.mjs <file.cpuprofile> [count=15]
import { readFileSync } from 'node:fs';

const [file, count = '15'] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-top.mjs <file.cpuprofile> [count]');
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const selfMicros = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  const { functionName, url, lineNumber } = nodes.get(id).callFrame;
  const where = url ? ` ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}` : '';
  const name = `${functionName || '(anonymous)'}${where}`;
  const micros = profile.timeDeltas[i] ?? 0;
  selfMicros.set(name, (selfMicros.get(name) ?? 0) + micros);
  total += micros;
});
console.log(`${(total / 1e6).toFixed(2)} s sampled`);
for (const [name, micros] of [...selfMicros].sort((a, b) => b[1] - a[1]).slice(0, Number(count)))
  console.log(
    `${(micros / 1e3).toFixed(0).padStart(6)} ms ${((100 * micros) / total).toFixed(1).padStart(5)}%  ${name}`,
  );
