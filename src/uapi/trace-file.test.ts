import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSmafError } from '../common/errors.ts';
import { scanJson } from './json-scan.ts';
import type { ChromeTrace, OpRecord, RecordingHeader } from './replies.ts';
import { OP_CATEGORY, parseTraceFile, traceFileText, TraceFileError } from './trace-file.ts';

const header: RecordingHeader = {
  version: 1, platform: { name: 'p', memory: [] }, ops: 3, complete: true, dropped: 0, limit: 100, unrecorded: { unknown: 0, malformed: 0, introspection: 0 }, origin_us: 1_000_000,
};
const records: OpRecord[] = [
  { seq: 1, t: 0, client: 1, op: 'CONNECT' },
  { seq: 2, t: 10, client: 1, op: 'SMAF_IOC_CREATE', fd: -1, args: { length: 4096, flags: 2, name: '' }, result: 0, new_fd: 3, buffer: 1 },
  { seq: 3, t: 20, client: 1, op: 'ATTACH', fd: 3, args: { device: 'gpu' }, result: 0, buffer: 1 },
];
const trace: ChromeTrace = { traceEvents: [{ name: 'process_name', ph: 'M', pid: 1, tid: 0, args: { name: 'x' } }], displayTimeUnit: 'ms', otherData: { origin_epoch_us: 900_000 } };

/** The problems of a trace that does not load. */
function problems(text: string): string[] {
  try {
    parseTraceFile(text, 't.json');
  } catch (e) {
    assert.ok(e instanceof TraceFileError, String(e));
    assert.ok(isSmafError(e, 'EINVAL'));
    return [...e.problems];
  }
  assert.fail('the trace loaded');
}

const jsonl = (...lines: unknown[]): string => `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`;

test('the exported trace: one event per line, the recording as smaf.op events on client tracks, read back whole', () => {
  const text = traceFileText(trace, header, records);
  const doc = JSON.parse(text) as { traceEvents: { cat?: string; ts?: number; pid: number; tid: number; args: OpRecord }[]; smaf_recording: RecordingHeader };
  assert.deepEqual(doc.smaf_recording, header);
  const ops = doc.traceEvents.filter((e) => e.cat === OP_CATEGORY);
  assert.deepEqual(ops.map((e) => e.args), records);
  assert.deepEqual(ops.map((e) => e.ts), [100_000, 100_010, 100_020], 'on the journal trace\'s clock (its time 0 is 100 ms before the recording\'s)');
  assert.ok(ops.every((e) => e.tid === 1));
  const lines = text.split('\n');
  assert.ok(lines.filter((l) => l.includes('"smaf.op"')).length === 3, 'one op per line');
  const r = parseTraceFile(text, 't.json');
  assert.equal(r.format, 'chrome');
  assert.deepEqual(r.records, records);
  assert.deepEqual(r.lines.map((n) => lines[n - 1]!.includes(`"seq":${r.records[r.lines.indexOf(n)]!.seq}`)), [true, true, true], 'each record\'s line is the line it is on');
});

test('JSON Lines, written by hand: seq and t may be left out, comments and blank lines skipped', () => {
  const r = parseTraceFile(jsonl('# from my camera HAL log', '', { client: 1, op: 'SMAF_IOC_CREATE', fd: -1, args: { length: 4096, flags: 2, name: '' }, result: 0, new_fd: 3 }, { client: 1, op: 'CLOSE', fd: 3, result: 0 }), 'log.jsonl');
  assert.equal(r.format, 'json-lines');
  assert.equal(r.header, null);
  assert.deepEqual(r.records.map((x) => [x.seq, x.t, x.op]), [[1, 0, 'SMAF_IOC_CREATE'], [2, 0, 'CLOSE']]);
  assert.deepEqual(r.lines, [3, 4]);
});

test('a truncated trace: the line and column where the text ends', () => {
  const text = traceFileText(trace, header, records);
  const cut = text.slice(0, text.indexOf('"ATTACH"') + 4);
  const [p] = problems(cut);
  const line = cut.split('\n').length;
  assert.match(p!, new RegExp(`^t\\.json:${line}:\\d+: the text ends inside a string \\(the file is truncated\\?\\)$`));
  // cut at a line boundary: still JSON Lines-shaped? No: the document is unfinished
  assert.match(problems(text.slice(0, text.lastIndexOf('\n', text.length - 5)))[0]!, /the text ends .*truncated/);
});

test('a JSON Lines trace cut at a line boundary: the header\'s count says records are missing', () => {
  const [p] = problems(jsonl({ smaf_recording: { ...header, ops: 3 } }, records[0], records[1]));
  assert.match(p!, /t\.json:3: the file holds 2 records, its header says 3: the last 1 are missing \(the file was cut\?\)/);
  assert.match(problems(`${jsonl(records[0])}{"seq":2,"client":1,"op":"CLO`)[0]!, /^t\.json:2: not a JSON record \(the last line is cut: the file is truncated\?\)/);
});

test('reordered or missing records: the line of the first one out of order, and which came before it', () => {
  const [p] = problems(jsonl(records[0], records[2], records[1]));
  assert.equal(p, 't.json:2: seq: 3 comes after seq 1 (line 1): records must be in order, 1, 2, 3..., none missing (reordered or cut?)');
  const [q] = problems(jsonl({ ...records[0], t: 50 }, { ...records[1], t: 40 }));
  assert.match(q!, /^t\.json:2: t: 40 µs is before the previous record's 50 µs \(line 1\)/);
  assert.match(problems(jsonl(records[0], { ...records[1], seq: undefined }))[0]!, /t\.json:2: seq: missing \(every record has a seq, or none does\)/);
});

test('an unknown op: refused with its line, and the op it was probably meant to be', () => {
  const [p] = problems(jsonl(records[0], { client: 1, op: 'ATACH', fd: 3, args: { device: 'gpu' }, result: 0 }));
  assert.match(p!, /^t\.json:2: op: unknown operation "ATACH" \(did you mean ATTACH\?\); operations: /);
  assert.match(problems(jsonl({ client: 1, op: 'X_STATE', fd: -1, result: 0 }))[0]!, /op: X_STATE is introspection: it changes nothing, a recording never holds it/);
});

test('each field is checked against the op tables: the line and field at fault', () => {
  const bad = (r: Record<string, unknown>): string => problems(jsonl(r))[0]!;
  const create = { client: 1, op: 'SMAF_IOC_CREATE', fd: -1, args: { length: 4096, flags: 2, name: '' }, result: 0 };
  assert.equal(bad({ ...create, args: { length: -1, flags: 2, name: '' } }), 't.json:1: args.length: must be a whole number 0..2^64-1 (a decimal string past 2^53), got -1');
  assert.equal(bad({ ...create, args: { length: '18446744073709551616', flags: 2, name: '' } }), 't.json:1: args.length: must be a whole number 0..2^64-1 (a decimal string past 2^53), got "18446744073709551616"');
  assert.deepEqual(parseTraceFile(jsonl({ ...create, args: { length: '18446744073709551615', flags: 2, name: '' } }), 't').records[0]!.args, { length: '18446744073709551615', flags: 2, name: '' });
  assert.equal(bad({ ...create, args: { length: 4096, flags: 2 } }), 't.json:1: args.name: must be a string, got nothing');
  assert.equal(bad({ ...create, args: { length: 4096, flags: 2, name: 'x'.repeat(64) } }), 't.json:1: args.name: is longer than 63 bytes');
  assert.equal(bad({ ...create, args: { length: 4096, flags: 2, name: '', colour: 'red' } }), 't.json:1: args.colour: not an argument of SMAF_IOC_CREATE (its arguments: length, flags, name)');
  assert.equal(bad({ ...create, result: undefined }), 't.json:1: result: missing: every operation has its outcome, a result (>= 0) or an errno');
  assert.equal(bad({ ...create, errno: 'ENOMEN' }), `t.json:1: result, errno: an operation has a result (it succeeded) or an errno (it failed), not both`);
  assert.match(bad({ ...create, result: undefined, errno: 'ENOMEN' }), /^t\.json:1: errno: unknown errno "ENOMEN" \(EPERM, ENOENT/);
  assert.equal(bad({ ...create, client: 0 }), 't.json:1: client: must be a client id (a whole number >= 1), got 0');
  assert.equal(bad({ ...create, fd: 'three' }), 't.json:1: fd: must be the fd the request went to (-1 for the device), got "three"');
  assert.equal(bad({ client: 1, op: 'MAP', fd: 3, args: { attachment: 0, direction: 2 ** 32 }, result: 1 }), 't.json:1: args.direction: must be a whole number 0..4294967295, got 4294967296');
  assert.equal(bad({ client: 1, op: 'WRITE', fd: 3, args: { mapping: 0, offset: 0 }, result: 1 }), 't.json:1: args.length: must be a whole number 0..2^64-1 (a decimal string past 2^53), got nothing');
  assert.equal(problems(jsonl({ smaf_recording: { ...header, version: 2 } }, create))[0], 't.json: smaf_recording.version: this smaf reads version 1, got 2');
  assert.equal(problems('[1, 2]\n')[0], 't.json:1: a record is an object (client, op, fd, args, result or errno), got [1,2]');
});

test('a Chrome trace without a recording is refused, saying why it has none', () => {
  assert.match(problems(JSON.stringify(trace))[0]!, /smaf_recording: missing: this trace holds no recording \(exported by an older smafd, or one run with --max-recorded-ops 0\)/);
});

test('the JSON scanner: the position of the first syntax error, and the line of each trace event', () => {
  assert.deepEqual(scanJson('{"a": 1,\n"traceEvents": [\n{"x": 1},\n  {"y": [1, 2]}\n, 3]}'), [3, 4, 5]);
  assert.deepEqual(scanJson('{"nested": {"traceEvents": [1]}}'), [], 'only the top-level array');
  const at = (text: string): string => {
    try {
      scanJson(text);
    } catch (e) {
      return (e as Error).message;
    }
    return 'ok';
  };
  assert.equal(at('{"a": [1, 2\n 3]}'), 'line 2, column 2: expected "," or "]" after an element, found "3"');
  assert.equal(at('{"a": tru}'), 'line 1, column 7: unexpected "t" where a value was expected');
  assert.equal(at('{"a": "x\ny"}'), 'line 1, column 9: a control character (a line break?) inside a string');
  assert.equal(at('{"a": 1} x'), 'line 1, column 10: unexpected "x" after the end of the document');
  assert.equal(at('{"a" 1}'), 'line 1, column 6: expected ":" after a key, found "1"');
  assert.equal(at('{"a": "\\q"}'), 'line 1, column 8: a bad escape in a string');
  assert.equal(at('{"a": -}'), 'line 1, column 7: a malformed number');
  assert.equal(at(`${'['.repeat(600)}${']'.repeat(600)}`), 'line 1, column 514: nested more than 512 deep');
  assert.equal(at('{"a": [1, {"b": "\\u00e9", "c": [true, false, null, -1.5e3]}]}'), 'ok');
});
