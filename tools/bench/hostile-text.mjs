// What masking secrets costs on hostile text (the review's case: one long run of `a.`
// before a single `://`, and text repeating the characters URIs and credentials are
// made of), at doubling lengths. Linear work doubles with the text: the last column
// (time over the time of half the text) stays near 2; quadratic work makes it 4. The
// core property test checks what the masking does to such text; this is its speed.
//   node tools/bench/hostile-text.mjs [--runs 5] [--max-kb 400]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { redactUri, secretRedactor } from '@store/core';
import { fmt, table } from './measure.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'max-kb': { type: 'string', default: '400' },
  },
});
const runs = Number(values.runs);
const maxChars = Number(values['max-kb']) * 1000;

const mask = secretRedactor(['a.a.', '****', 'hunter22']);
const cases = {
  'a. run before ://': (n) => `file:///x/${'a.'.repeat(Math.ceil(n / 2))}://x`,
  'scheme://user:pw@ blocks': (n) => 's3://a:b@'.repeat(Math.ceil(n / 9)),
  '?sig=&token= blocks': (n) => 'x?sig=a.&token=:'.repeat(Math.ceil(n / 16)),
  'mixed URI characters': (n) => 'a.://:@ /x?sig=&token=&\ns3://a:b@***'.repeat(Math.ceil(n / 36)),
};

const lengths = [];
for (let n = maxChars; n >= 25_000; n = Math.floor(n / 2)) lengths.unshift(n);

const rows = [];
for (const [name, make] of Object.entries(cases)) {
  let previous;
  for (const n of lengths) {
    const text = make(n);
    const times = [];
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      mask(text);
      redactUri(text);
      times.push(performance.now() - started);
    }
    const ms = times.sort((a, b) => a - b)[Math.floor(runs / 2)];
    rows.push([
      name,
      String(text.length),
      fmt(ms, 1),
      previous === undefined ? '' : fmt(ms / previous, 2),
    ]);
    previous = ms;
  }
}
console.log(table(['text', 'characters', 'ms (median)', '× the half-length time'], rows));
