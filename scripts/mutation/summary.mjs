#!/usr/bin/env node
// Summarises reports/mutation/mutation.json: score per file, and (with --survivors) every mutant
// that survived or had no coverage, as `file:line mutator: original -> replacement`.
import { readFileSync } from 'node:fs';
import process from 'node:process';

const report = JSON.parse(readFileSync(process.argv.find((a) => a.endsWith('.json')) ?? 'reports/mutation/mutation.json', 'utf8'));
const showSurvivors = process.argv.includes('--survivors');
const DETECTED = new Set(['Killed', 'Timeout']);
const COUNTED = new Set(['Killed', 'Timeout', 'Survived', 'NoCoverage']);
let detected = 0;
let total = 0;
const rows = [];
for (const [file, { source, mutants }] of Object.entries(report.files)) {
  const lines = source.split('\n');
  const counted = mutants.filter((m) => COUNTED.has(m.status));
  const d = counted.filter((m) => DETECTED.has(m.status)).length;
  detected += d;
  total += counted.length;
  rows.push(`${file.padEnd(36)} ${String(d).padStart(4)}/${String(counted.length).padEnd(4)} ${counted.length ? ((100 * d) / counted.length).toFixed(1) : '-'}%`);
  if (!showSurvivors) continue;
  for (const m of mutants.filter((x) => x.status === 'Survived' || x.status === 'NoCoverage').sort((a, b) => a.location.start.line - b.location.start.line)) {
    const { start, end } = m.location;
    const original = start.line === end.line ? lines[start.line - 1].slice(start.column - 1, end.column - 1) : `${lines[start.line - 1].slice(start.column - 1)}...`;
    console.log(`${file}:${start.line} ${m.status === 'NoCoverage' ? '[no coverage] ' : ''}${m.mutatorName}: ${original.trim().slice(0, 90)} -> ${String(m.replacement ?? '').replace(/\s+/g, ' ').slice(0, 60)}`);
  }
}
console.log(rows.join('\n'));
console.log(`mutation score: ${((100 * detected) / total).toFixed(2)}% (${detected} of ${total} mutants detected)`);
