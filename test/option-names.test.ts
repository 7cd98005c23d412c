/**
 * One spelling per option name (issue 15): every option of every command of `smaf` and `smafd`,
 * checked together. A concept has one flag (no --sock beside --socket, no --max-fds beside
 * --max-client-bytes), one short letter and one value syntax; sizes are always `<size>`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/main.ts';
import { smafdProgram } from '../src/daemon/options.ts';

interface Flag {
  readonly where: string;
  readonly long: string;
  readonly short?: string;
  /** `<path>`, `<size>`...; '' for a switch. */
  readonly syntax: string;
  readonly negate: boolean;
}

function flags(c: Command, where: string): Flag[] {
  // --no-dashboard is the off switch of --dashboard-*: the same concept, with no value
  const own = c.options.map((o) => ({ where, negate: o.negate, long: o.long!.replace(/^--(no-)?/, ''), ...(o.short ? { short: o.short } : {}), syntax: /[<[].*$/.exec(o.flags)?.[0] ?? '' }));
  return [...own, ...c.commands.flatMap((s) => flags(s, `${where} ${s.name()}`))];
}

/** Words that say one thing: a flag's concept is its words, each reduced to one spelling. */
const SYNONYMS: Readonly<Record<string, string>> = {
  sock: 'socket', dir: 'direction', plat: 'platform', num: 'n', count: 'n', len: 'length', sz: 'size',
  timeout: 'time', wait: 'time', per: 'client', each: 'client', all: 'total', global: 'total', daemon: 'total',
};
const concept = (long: string): string => long.split('-').map((w) => SYNONYMS[w] ?? w.replace(/s$/, '')).join('-');

const ALL = (): Flag[] => [...flags(buildProgram(), 'smaf'), ...flags(smafdProgram(), 'smafd')];

test('every option of smaf and smafd: one flag per concept, one short letter per flag, one value syntax per flag', () => {
  const all = ALL();
  assert.ok(all.length > 40, `found the options (${all.length})`);
  const byConcept = new Map<string, Set<string>>();
  const shortOf = new Map<string, Set<string>>();
  const syntaxOf = new Map<string, Set<string>>();
  const add = (m: Map<string, Set<string>>, k: string, v: string): void => void m.set(k, (m.get(k) ?? new Set()).add(v));
  for (const f of all) {
    add(byConcept, concept(f.long), f.long);
    if (f.short) add(shortOf, f.short, f.long);
    if (!f.negate) add(syntaxOf, f.long, f.syntax);
  }
  for (const [c, longs] of byConcept) assert.equal(longs.size, 1, `one concept ("${c}"), two spellings: --${[...longs].join(', --')}`);
  for (const [s, longs] of shortOf) assert.equal(longs.size, 1, `${s} stands for --${[...longs].join(' and --')}`);
  for (const [l, syntaxes] of syntaxOf) assert.equal(syntaxes.size, 1, `--${l} takes ${[...syntaxes].map((x) => x || 'no value').join(' or ')}`);
});

test('sizes are <size> everywhere (4096, 0x1000, 64MiB), limits are --max-client-* per client', () => {
  for (const f of ALL()) {
    assert.ok(!/^<(bytes|length|len|sz)>$/.test(f.syntax), `${f.where} --${f.long} takes a size: write it <size>`);
    if (/^max-/.test(f.long)) assert.match(f.syntax, /^<(size|n)>$/, `${f.where} --${f.long}`);
  }
  const limits = ALL().filter((f) => f.where === 'smafd' && /^max-/.test(f.long)).map((f) => f.long);
  // a per-client limit names the client; every other is the whole daemon's
  for (const l of ['max-client-fds', 'max-client-bytes', 'max-client-buffers', 'max-client-secure-maps', 'max-client-backlog']) assert.ok(limits.includes(l), l);
  assert.deepEqual(limits.filter((l) => /fds|buffers|bytes/.test(l) && !/client|total|pending/.test(l)), [], 'a fds/buffers/bytes limit says whether it is per client or in total');
});
