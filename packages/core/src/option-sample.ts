/** Sample configs: a commented INI section per driver, generated from its option schema. */
import { COMMON_OPTIONS, type OptionSpec } from './options.js';

function formatValue(spec: OptionSpec, value: unknown): string {
  if (value === undefined) return '<None>';
  if (spec.type === 'dict' && value && typeof value === 'object')
    return Object.entries(value)
      .map(([k, v]) => `${k}:${v}`)
      .join(', ');
  if (Array.isArray(value)) return value.join(', ');
  return String(value);
}

/**
 * Renders a commented INI section for `specs`, in oslo-config-generator's style:
 * each option's help, type, default and limits as comments, then the option
 * commented out with its default.
 */
export function renderOptionsSample(section: string, specs: readonly OptionSpec[]): string {
  const lines = [`[${section}]`, ''];
  for (const spec of [...COMMON_OPTIONS, ...specs]) {
    for (const line of wrap(spec.help, 76)) lines.push(`# ${line}`);
    const facts = [`type: ${spec.type}`];
    if (spec.min !== undefined) facts.push(`min: ${spec.min}`);
    if (spec.max !== undefined) facts.push(`max: ${spec.max}`);
    if (spec.choices) facts.push(`choices: ${spec.choices.join(', ')}`);
    if (spec.secret) facts.push('secret');
    if (spec.required) facts.push('required');
    lines.push(`# (${facts.join('; ')})`);
    lines.push(`#${spec.name} = ${formatValue(spec, spec.default)}`, '');
  }
  return lines.join('\n');
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + word.length + 1 > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}
