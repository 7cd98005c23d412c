/** The operator's CLI against a real smafd: `smaf events` (filtered and paged on the daemon), `smaf trace export`. */
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Errno } from '../src/common/errors.ts';
import { checkChromeTrace } from '../src/daemon/trace-check.ts';
import type { ChromeTrace } from '../src/daemon/trace.ts';
import { runBin } from './helpers/cli.ts';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';

let d: RunningDaemon;
before(async () => {
  d = await startDaemon(['--no-dashboard']);
});
after(async () => {
  await d.stop();
});
const smaf = (...args: string[]) => runBin('smaf', ['--socket', d.socket, ...args]);

test('events: bad --limit, --kind, --since, --client are usage errors (exit 22) naming what is valid', async () => {
  for (const [args, re] of [
    [['-l', 'abc'], /option '-l, --limit <n>' argument 'abc' is invalid\. "abc" is not a positive whole number/],
    [['-l', '0'], /--limit <n>' argument '0' is invalid/],
    [['-l', '-5'], /--limit <n>' argument '-5' is invalid/],
    [['-k', 'bogus'], /--kind <kinds>' argument 'bogus' is invalid\. unknown event kind "bogus" \(valid: create, allocate, .*denial, tee, iommu-fault, name, internal-error, dma\)/],
    [['-k', 'denial,nope'], /--kind <kinds>' .*"nope"/],
    [['--since', 'yesterday'], /--since <time>' argument 'yesterday' is invalid\. "yesterday" is not a time/],
    [['--client', 'x'], /--client <id>' argument 'x' is invalid/],
  ] as const) {
    const r = await smaf('events', ...args);
    assert.equal(r.code, Errno.EINVAL, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
});

test('demo sdp lists only its own denials; events -k denial -l N pages over the whole journal, fixed-width ids', async () => {
  const first = await smaf('demo', 'sdp');
  assert.equal(first.code, 0, first.stderr);
  const own = (text: string) => text.slice(text.indexOf('denials logged by smafd during this run')).split('\n').filter((l) => /^\s+#/.test(l));
  const firstRun = own(first.stdout);
  assert.ok(firstRun.length >= 5, first.stdout);
  const second = await smaf('demo', 'sdp');
  assert.equal(own(second.stdout).length, firstRun.length, 'the second run lists its own denials, not the first run\'s too');

  // denials by the hundred: more than one page (1,000) and far more than a 200-event window
  const { SmafClient } = await import('../src/client/client.ts');
  const c = await SmafClient.connect(d.socket);
  const fd = await c.create(4096);
  await c.setSecure(fd, true);
  await Promise.all(Array.from({ length: 1200 }, () => c.mmap(fd, 0, 4096, 1).catch(() => undefined)));
  await c.close();
  const total = firstRun.length * 2 + 1200;
  const r = await smaf('events', '-k', 'denial', '-l', '1100');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => /^\s+#/.test(l));
  assert.equal(lines.length, 1100);
  assert.match(r.stdout, new RegExp(`the last 1100 of ${total} matching events`));
  assert.ok(lines.every((l) => / denial /.test(l)));
  const idWidth = new Set(lines.map((l) => /^\s+#\s*\d+ /.exec(l)![0].length));
  assert.equal(idWidth.size, 1, 'ids are fixed-width');
  const all = await smaf('--json', 'events', '-k', 'denial', '-l', '5000');
  assert.equal(JSON.parse(all.stdout).events.length, total);
  const cpu = JSON.parse((await smaf('--json', 'events', '-k', 'denial', '-l', '3')).stdout).events as { actor: string; clientLabel: string }[];
  assert.equal(cpu.length, 3);
  assert.ok(cpu.every((e) => e.actor === 'cpu' && /^client \d+$/.test(e.clientLabel)));
});

test('trace export writes valid trace-event JSON of an SDP run: buffers in the sdp region, grants, denials, maps', async () => {
  const since = new Date(Date.now() - 1000).toISOString();
  assert.equal((await smaf('demo', 'sdp')).code, 0);
  const out = join(mkdtempSync(join(tmpdir(), 'smaf-trace-')), 'trace.json');
  const r = await smaf('trace', 'export', '--since', since, '-o', out);
  assert.equal(r.code, 0, r.stderr);
  const trace = JSON.parse(readFileSync(out, 'utf8')) as ChromeTrace;
  assert.deepEqual(checkChromeTrace(trace), []);
  const stdout = await smaf('trace', 'export', '--since', '10m');
  assert.deepEqual(checkChromeTrace(JSON.parse(stdout.stdout)), []);
  const ev = trace.traceEvents;
  const sdpPid = ev.find((e) => e.ph === 'M' && (e.args as { name?: string }).name === 'region sdp')!.pid;
  const secureLives = ev.filter((e) => e.ph === 'X' && e.pid === sdpPid && e.name.startsWith('buffer '));
  assert.equal(secureLives.length, 7, 'the rings of bitstreams and frames, and the test frame');
  assert.ok(secureLives.every((e) => e.args!.secure === true && e.args!.live === false && /^client \d+ \(main, pid \d+\)$/.test(String(e.args!.owner))), 'the scenario\'s client, by its name');
  assert.ok(ev.some((e) => e.ph === 'X' && e.pid === sdpPid && e.name === 'secure-carveout'));
  assert.ok(ev.some((e) => e.ph === 'b' && e.pid === sdpPid && e.name === 'mapped by display'));
  assert.ok(ev.some((e) => e.ph === 'i' && e.pid === sdpPid && e.name === 'grant crypto'));
  // each device's DMA job is a slice: the stream's frames through the rings
  const dma = ev.filter((e) => e.cat === 'dma' && e.pid === sdpPid);
  assert.ok(dma.filter((e) => e.ph === 'b' && e.name === 'display DMA').length >= 24, 'the display scanned out 24 frames');
  assert.equal(dma.filter((e) => e.ph === 'b').length, dma.filter((e) => e.ph === 'e').length);
  assert.ok(ev.some((e) => e.ph === 'i' && e.name === 'DENIED gpu'));
  const firewallPid = ev.find((e) => e.ph === 'M' && (e.args as { name?: string }).name === 'firewall and secure module')!.pid;
  assert.ok(ev.some((e) => e.ph === 'i' && e.pid === firewallPid && e.name === 'DENIED display'), 'the flow rule\'s denial');
  assert.equal((await smaf('trace', 'export', '--since', 'soon')).code, Errno.EINVAL);
});
