/**
 * The operator's dashboard in a real headless Chromium, at desktop (1440x900) and phone (390x844)
 * sizes: the timeline keeps a pipeline's millisecond buffers after release, the clients panel, the
 * firewall panel split by kind, keyboard and touch details, the favicon, the trace download, the
 * event stream (increments, never snapshots) and /metrics.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { parseScenario, runScenario } from '../src/cli/scenario.ts';
import type { SmafClient } from '../src/client/client.ts';
import { checkChromeTrace } from '../src/daemon/trace-check.ts';
import { METRIC_DOCS } from '../src/web/metrics.ts';
import { launchChromium } from './helpers/browser.ts';
import { ROOT, startDaemon, type RunningDaemon } from './helpers/daemon.ts';

let d: RunningDaemon;
let browser: BrowserContext;
let url: string;
/** Scripts reach the dashboard with its token as a bearer (as the page does). */
let auth: Record<string, string>;
let base: string;

const scenario = (name: string) => parseScenario(readFileSync(join(ROOT, `scenarios/${name}.yaml`), 'utf8'));
const connect = (comm: string) => async (): Promise<SmafClient> => {
  const c = await d.connect();
  await c.hello(4242, comm);
  return c;
};

before(async () => {
  d = await startDaemon(['--dashboard-port', '0']);
  assert.ok(d.dashboardUrl, d.output());
  url = d.dashboardUrl;
  auth = { authorization: `Bearer ${new URLSearchParams(new URL(url).hash.slice(1)).get('token')}` };
  base = new URL(url).origin;
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await d?.stop();
});

async function open(width: number, height: number): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  await page.setViewportSize({ width, height });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
  });
  await page.goto(url);
  await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
  return { page, problems };
}

test('desktop: a camera run\'s millisecond buffers stay on the timeline after release, per region and per client', async () => {
  const { page, problems } = await open(1440, 900);
  const run = await runScenario(scenario('camera'), connect('gst-launch-1.0'));
  assert.equal(run.ok, true);
  await page.getByTestId('buffers').getByText('no live buffer').waitFor();
  const timeline = page.getByTestId('timeline');
  // every buffer of the run is on the timeline though none is alive
  const state = await (await fetch(`${base}/api/events?kind=create&limit=100`, { headers: auth })).json() as { events: { buffer: number }[] };
  assert.ok(state.events.length >= 1);
  for (const e of state.events) await timeline.getByTestId(`tl-bar-${e.buffer}`).waitFor();
  const groups = await timeline.locator('.tl-group-name').allInnerTexts();
  assert.ok(groups.some((g) => /region cma/i.test(g)), groups.join());
  await timeline.getByTestId('group-client').click();
  await timeline.locator('.tl-group-name', { hasText: /client \d+ \(gst-launch-1\.0, pid 4242\)/i }).first().waitFor();
  assert.ok((await timeline.locator('.tl-group-name').allInnerTexts()).every((g) => /client \d+ \(gst-launch-1\.0, pid 4242\)/i.test(g)));
  await timeline.getByTestId('group-region').click();

  // keyboard: Tab reaches a bar; its whole story shows, with the allocator's latency
  const first = state.events[0]!.buffer;
  await timeline.getByTestId(`tl-bar-${first}`).focus();
  await page.keyboard.press('Tab');
  await page.keyboard.press('Shift+Tab');
  const detail = page.getByTestId('timeline-detail');
  await detail.getByText(new RegExp(`buffer ${first} · .* · released`)).waitFor();
  assert.match(await detail.innerText(), /allocate .* from smaf-cma .*allocators took \d+ µs/s);
  assert.match(await detail.innerText(), /release .*scrubbed/s);

  // zoom: the span buttons and +/- change what is shown
  await timeline.getByTestId('span-1 s').click();
  await timeline.getByTestId('timeline-axis').getByText('1.0 s shown').waitFor();
  await timeline.getByTestId('zoom-in').click();
  await timeline.getByTestId('timeline-axis').getByText('0.500 s shown').waitFor();
  await timeline.getByTestId('span-all').click();

  await page.screenshot({ path: join(tmpdir(), 'smaf-dashboard-operator-desktop.png'), fullPage: true });
  assert.equal(await page.locator('title').count(), 1, 'no native SVG <title>: only the document\'s');
  assert.deepEqual(problems, [], 'no console error and no 404 (the favicon)');
  await page.close();
});

test('desktop: clients with pid and command against their limits; the firewall panel split by kind, filtered; keyboard rows', async (t) => {
  const { page } = await open(1440, 900);
  t.after(() => page.close());
  const full = scenario('sdp');
  const cut = full.steps.findIndex((s) => 'say' in s && /teardown/.test(s.say));
  const run = await runScenario({ ...full, steps: full.steps.slice(0, cut) }, connect('player'), undefined, { keepOpen: true });
  // the clients close even when an assertion fails, so the next test starts from an empty daemon
  t.after(async () => { for (const c of run.clients?.values() ?? []) await c.close(); });
  assert.equal(run.ok, true);
  const clients = page.getByTestId('clients');
  await clients.getByText('player').first().waitFor();
  assert.match(await clients.innerText(), /player\s+4242\s+\d+ \/ 1024\s+\d+ KiB \/ 512 MiB/);
  assert.ok((await clients.locator('[role="meter"]').count()) >= 2);

  const events = page.getByTestId('events');
  const counts = await (await fetch(`${base}/api/state`, { headers: auth })).json() as { eventCounts: Record<string, number> };
  await events.getByTestId('count-denial').filter({ hasText: String(counts.eventCounts.denial) }).waitFor();
  assert.equal(await events.getByTestId('count-grant').innerText(), String(counts.eventCounts.grant));
  // the counts come with the state, the rows with the event stream: wait for both (no race on the order)
  await events.getByTestId('event-denial').nth(3).waitFor();
  await events.getByTestId('filter-denial').click();
  await events.getByTestId('event-denial').first().waitFor({ state: 'detached' });
  assert.equal(await events.getByTestId('event-denial').count(), 0, 'denials hidden by their filter');
  await events.getByTestId('event-grant').first().waitFor();
  await events.getByTestId('filter-denial').click();
  await events.getByTestId('event-denial').nth(3).waitFor();

  // a buffer row reached by keyboard and opened with Enter
  const row = page.locator('[data-testid^="buffer-row-"]').first();
  await row.focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('explain').getByText(/decision at/).waitFor();
  // memory-map details on focus (and tap), not a hover-only <title>
  await page.getByTestId('region-sdp').locator('rect.occ').first().focus();
  assert.match(await page.getByTestId('region-tip-sdp').innerText(), /buffer \d+ · 64 KiB at 0x7c0[01]0000 · secure-carveout · secure · held by client \d+ \(player, pid 4242\)/);

  // the trace download is valid trace-event JSON
  const href = await page.getByTestId('download-trace').getAttribute('href');
  const res = await fetch(new URL(href!, base), { headers: auth });
  assert.match(res.headers.get('content-disposition') ?? '', /attachment; filename="smaf-trace-.*\.json"/);
  assert.deepEqual(checkChromeTrace(await res.json()), []);
});

test('phone (390x844): one column, nothing wider than the screen, tables scroll inside their panels', async () => {
  const { page, problems } = await open(390, 844);
  const c = await d.connect();
  await c.hello(77, 'camera-hal');
  const fd = await c.create(3040 * 1024);
  await c.map(fd, await c.attach(fd, 'isp'), 2);
  await page.getByTestId('buffers').getByText('Buffers (1)').waitFor();
  assert.equal(await page.evaluate('document.documentElement.scrollWidth'), 390, 'the page is as wide as the phone');
  const boxes = await Promise.all(['memory-map', 'buffers', 'explain', 'timeline', 'clients', 'stats', 'events', 'devices'].map(async (id) => ({ id, box: (await page.getByTestId(id).boundingBox())! })));
  for (const { id, box } of boxes) {
    assert.ok(box.x >= 0 && box.x + box.width <= 390, `${id} fits the screen (${box.x}+${box.width})`);
  }
  assert.equal(new Set(boxes.map((b) => Math.round(b.box.x))).size, 1, 'one column: every panel starts at the same x');
  for (let i = 1; i < boxes.length; i++) assert.ok(boxes[i]!.box.y > boxes[i - 1]!.box.y, `${boxes[i]!.id} below ${boxes[i - 1]!.id}`);
  // a wide table scrolls inside its panel
  const scroll = page.getByTestId('devices').locator('.scroll');
  const [client, inner] = await scroll.evaluate((el) => [el.clientWidth, el.scrollWidth]);
  assert.ok(inner! > client!, 'the devices table is wider than the phone and scrolls within its panel');
  // tap a timeline bar: its story shows (no hover on touch)
  await page.locator('[data-testid^="tl-bar-"]').first().click();
  await page.getByTestId('timeline-detail').getByText(/created by client \d+ \(camera-hal, pid 77\)/).waitFor();
  await page.screenshot({ path: join(tmpdir(), 'smaf-dashboard-operator-phone.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await c.close();
  await page.close();
});

test('the event stream sends a backlog, then only new events; /metrics has every documented name', async () => {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/ws/events`, { headers: { ...auth, origin: base } });
  const messages: { type: string; events: { seq: number; kind: string }[] }[] = [];
  ws.on('message', (m) => messages.push(JSON.parse(String(m))));
  await new Promise((r) => ws.once('open', r));
  const opened = Date.now() + 10_000;
  while (messages.length === 0 && Date.now() < opened) await new Promise((r) => setTimeout(r, 20));
  assert.ok(messages.length > 0, 'the backlog arrives');
  assert.equal(messages[0]!.type, 'backlog');
  const lastSeen = messages[0]!.events.at(-1)?.seq ?? 0;
  const c = await d.connect();
  const fd = await c.create(4096);
  await c.closeFd(fd);
  const end = Date.now() + 5000;
  while (!messages.slice(1).some((m) => m.events.some((e) => e.kind === 'release')) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  const later = messages.slice(1);
  assert.ok(later.length >= 1 && later.every((m) => m.type === 'events'), `${JSON.stringify(messages).slice(0, 2000)}\n${d.output()}`);
  const seqs = later.flatMap((m) => m.events.map((e) => e.seq));
  assert.ok(seqs.every((s) => s > lastSeen), 'only new events');
  assert.deepEqual(later.flatMap((m) => m.events.map((e) => e.kind)), ['create', 'release']);
  ws.close();
  await c.close();

  const text = await (await fetch(`${base}/metrics`, { headers: auth })).text();
  for (const m of METRIC_DOCS) {
    assert.match(text, new RegExp(`^# HELP ${m.name} `, 'm'), m.name);
    assert.match(text, new RegExp(`^# TYPE ${m.name} ${m.type}$`, 'm'), m.name);
  }
  // earlier tests in this file ran the SDP path: its denials by kind, its allocations' latencies
  assert.match(text, /^smaf_denials_total\{kind="firewall",initiator="display"\} [1-9]/m);
  assert.match(text, /^smaf_denials_total\{kind="attach",initiator="gpu"\} [1-9]/m);
  assert.match(text, /^smaf_denials_total\{kind="cpu-map",initiator="cpu"\} [1-9]/m);
  assert.match(text, /^smaf_allocation_latency_seconds_count\{allocator="secure-carveout",outcome="allocated"\} [2-9]/m);
  assert.match(text, /^smaf_region_size_bytes\{region="sdp",kind="secure-carveout"\} 32505856$/m);
  assert.match(text, /^smaf_allocator_allocations_total\{allocator="smaf-cma"\} [1-9]/m);
});
