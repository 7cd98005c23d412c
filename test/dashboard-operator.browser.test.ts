/**
 * The operator's dashboard in a real headless Chromium, at desktop (1440x900) and phone (390x844)
 * sizes: the timeline keeps a pipeline's millisecond buffers after release and shows its frames
 * moving through the ring, the clients panel, the firewall panel's filter chips, the devices panel
 * and who maps each memory range, a frame's planes, keyboard and touch details, phone cards and
 * the scroll affordance, the favicon, the trace download, the event stream and /metrics.
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

/** What the page's functions use of the browser (the tests are typed without the DOM library). */
declare const getComputedStyle: (el: unknown, pseudo: string) => { content: string };

let d: RunningDaemon;
let browser: BrowserContext;
let url: string;
/** Scripts reach the dashboard with its token as a bearer (as the page does). */
let auth: Record<string, string>;
let base: string;

const scenario = (name: string) => parseScenario(readFileSync(join(ROOT, `scenarios/${name}.yaml`), 'utf8'));
/** Each client of a scenario goes by `comm`, or by the scenario's own name for it. */
const connect = (comm?: string) => async (name: string): Promise<SmafClient> => {
  const c = await d.connect();
  await c.hello(4242, comm ?? name);
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
  const first = state.events.at(-1)!.buffer; // the last buffer of the ring
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

  // the stream's frames moving through the ring: on each ring buffer, one DMA slice per stage, frame after frame
  const ring = (await (await fetch(`${base}/api/events?kind=dma&limit=1000`, { headers: auth })).json() as { events: { buffer: number; actor: string }[] }).events;
  const ringBuffers = [...new Set(ring.filter((e) => e.actor === 'display').map((e) => e.buffer))];
  assert.equal(ringBuffers.length, 4, 'the display read from the 4 buffers of the ring');
  for (const b of ringBuffers) {
    const row = timeline.getByTestId(`tl-row-${b}`);
    for (const dev of ['isp', 'gpu', 'display']) assert.ok(await row.getByTestId(`tl-dma-${dev}`).count() >= 7, `${dev}'s DMA on buffer ${b}: 30 frames over 4 buffers`);
  }
  assert.match(await timeline.getByTestId('timeline-legend').innerText(), /isp DMA.*gpu DMA.*display DMA/s);

  await page.screenshot({ path: join(tmpdir(), 'smaf-dashboard-operator-desktop.png'), fullPage: true });
  assert.equal(await page.locator('title').count(), 1, 'no native SVG <title>: only the document\'s');
  assert.deepEqual(problems, [], 'no console error and no 404 (the favicon)');
  await page.close();
});

test('desktop: clients with pid and command against their limits; the firewall panel\'s chips filter as chips do; keyboard rows; who maps each range', async (t) => {
  const { page } = await open(1440, 900);
  t.after(() => page.close());
  // the SDP run keeps its buffers (its clients are held open)
  const run = await runScenario(scenario('sdp'), connect('player'), undefined, { keepOpen: true });
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
  await events.getByTestId('event-grant').first().waitFor();
  assert.equal(await events.getByTestId('filter-label').innerText(), 'show:', 'the chips say what they do');
  assert.equal(await events.getByTestId('filter-all').getAttribute('aria-pressed'), 'true');
  const shown = async () => new Set(await events.locator('[data-testid^="event-"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-testid'))));
  // a click shows only that kind
  await events.getByTestId('filter-denial').click();
  await events.getByTestId('event-grant').first().waitFor({ state: 'detached' });
  assert.deepEqual(await shown(), new Set(['event-denial']), 'a click on "denials" shows only denials');
  assert.equal(await events.getByTestId('filter-denial').getAttribute('aria-pressed'), 'true');
  assert.match(await events.getByTestId('filter-help').innerText(), /showing denials: click another kind to add it/);
  // a second click, on another chip, adds it
  await events.getByTestId('filter-grant').click();
  await events.getByTestId('event-grant').first().waitFor();
  assert.deepEqual(await shown(), new Set(['event-denial', 'event-grant']));
  // Ctrl-click toggles one kind: denials go, grants stay
  await events.getByTestId('filter-denial').click({ modifiers: ['Control'] });
  await events.getByTestId('event-denial').first().waitFor({ state: 'detached' });
  assert.deepEqual(await shown(), new Set(['event-grant']));
  // "every kind" resets
  await events.getByTestId('filter-all').click();
  await events.getByTestId('event-denial').nth(3).waitFor();
  assert.ok((await shown()).has('event-revoke') || (await shown()).has('event-tee'), 'every kind again');

  // a buffer row reached by keyboard and opened with Enter
  const row = page.locator('[data-testid^="buffer-row-"]').first();
  await row.focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('explain').getByText(/decision at/).waitFor();
  // memory-map details on focus (and tap), not a hover-only <title>
  await page.getByTestId('region-sdp').locator('rect.occ').first().focus();
  assert.match(await page.getByTestId('region-tip-sdp').innerText(), /buffer \d+ · 64 KiB at 0x7c000000 · secure-carveout · secure · held by client \d+ \(player, pid 4242\) · mapped by vdec \(to-device\), crypto \(from-device\)/, 'the range names the devices that map it');

  // the devices panel: what each device maps, how, where, and what it was granted
  const devices = page.getByTestId('devices');
  const display = devices.getByTestId('device-display');
  assert.match(await display.innerText(), /sink.*secure-capable.*no IOMMU: it emits physical addresses/s);
  assert.equal(await display.locator('[data-testid^="device-map-display-"]').count(), 5, 'the 3 frames of the ring, the test frame and the leak buffer');
  const frame = await display.locator('[data-testid^="device-map-display-"]').first().innerText();
  assert.match(frame, /buffer \d+ 1920x1080:NV12 3040 KiB to-device secure\s+phys 0x7c[0-9a-f]{6}\+3040 KiB\s+granted 0x7c[0-9a-f]{6}\+3040 KiB/);
  assert.match(await devices.getByTestId('device-gpu').innerText(), /IOMMU domain .* \/ 1024 GiB · 0 ranges · largest free 1024 GiB.*maps no buffer now/s);

  // the trace download is valid trace-event JSON
  const href = await page.getByTestId('download-trace').getAttribute('href');
  const res = await fetch(new URL(href!, base), { headers: auth });
  assert.match(res.headers.get('content-disposition') ?? '', /attachment; filename="smaf-trace-.*\.json"/);
  assert.deepEqual(checkChromeTrace(await res.json()), []);
});

test('phone (390x844): one column, nothing wider than the screen; each row is a card with its essentials', async () => {
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
  // every cell of a row is on screen, with its name: the row's essentials, none cut off to the right
  // a card shows each field's name (a ::before of its cell) beside its value
  const card = async (row: ReturnType<Page['getByTestId']>, testid: string): Promise<string> => {
    const cells = await row.locator('td').evaluateAll((tds) => tds.map((td) => {
      const r = td.getBoundingClientRect();
      return { right: r.right, width: r.width, label: getComputedStyle(td, '::before').content.replace(/^"|"$/g, ''), text: (td as unknown as { innerText: string }).innerText.replace(/\s+/g, ' ').trim() };
    }));
    for (const cell of cells) assert.ok(cell.width > 0 && cell.right <= 390, `${testid}: "${cell.text}" is on screen (right edge ${cell.right})`);
    return cells.map((cell) => `${cell.label}: ${cell.text}`).join('; ');
  };
  const id = (await c.explainFd(fd)).buffer;
  assert.match(await card(page.getByTestId(`buffer-row-${id}`), 'buffer'), new RegExp(`^buffer: ${id}; size: 3040 KiB; memory: system; devices: isp ✓ from-device; cpu maps: 0; held by: client \\d+ \\(camera-hal, pid 77\\)$`));
  assert.match(await card(page.getByTestId('limit-max-clients'), 'limit'), /^limit: --max-clients; used: \d+ \/ 2048$/);
  const client = page.getByTestId('clients').locator('[data-testid^="client-row-"]').filter({ hasText: 'camera-hal' });
  assert.match(await card(client, 'client'), /process: camera-hal; pid: 77; buffers: 1 \/ 1024; bytes: 3040 KiB \/ 512 MiB/);
  // devices are cards too, with more than their names: constraints, IOMMU domain, what they map
  const isp = page.getByTestId('device-isp');
  const box = (await isp.boundingBox())!;
  assert.ok(box.x + box.width <= 390);
  assert.match(await isp.innerText(), /isp\s+camera.*32-bit DMA.*IOMMU domain.*3040 KiB \/ 4095 MiB.*buffer \d+\s+3040 KiB\s+from-device\s+IOVA 0x00100000\+3040 KiB/s);
  // nothing scrolls sideways on a phone: no content hidden past the right edge
  const overflowing = await page.locator('.scroll').evaluateAll((els) => els.filter((e) => e.scrollWidth > e.clientWidth + 1).length);
  assert.equal(overflowing, 0, 'every table fits as cards');
  // tap a timeline bar: its story shows (no hover on touch)
  await page.locator('[data-testid^="tl-bar-"]').first().click();
  await page.getByTestId('timeline-detail').getByText(/created by client \d+ \(camera-hal, pid 77\)/).waitFor();
  await page.screenshot({ path: join(tmpdir(), 'smaf-dashboard-operator-phone.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await c.close();
  await page.close();
});

test('a table too wide for its panel says so: a "scroll" label and a shadow on its right edge, until its end is reached', async () => {
  const { page } = await open(1000, 800);
  const c = await d.connect();
  await c.hello(78, 'a-process-with-a-rather-long-command-name');
  const fd = await c.create(4096);
  for (const dev of ['isp', 'gpu', 'display', 'vdec', 'venc']) await c.map(fd, await c.attach(fd, dev), 1);
  await page.getByTestId('buffers').getByText('Buffers (1)').waitFor();
  const wrap = page.getByTestId('buffers').locator('.scroll-wrap');
  const scroller = wrap.locator('.scroll');
  const [client, inner] = await scroller.evaluate((el) => [el.clientWidth, el.scrollWidth]);
  assert.ok(inner! > client!, `the buffers table is wider than its panel (${inner} > ${client})`);
  const hint = wrap.getByTestId('scroll-hint');
  await hint.waitFor();
  assert.ok(await hint.isVisible(), 'the affordance is visible');
  assert.match(await wrap.getAttribute('class') ?? '', /\bmore\b/, 'with its shadow');
  await scroller.evaluate((el) => { el.scrollLeft = el.scrollWidth; });
  await hint.waitFor({ state: 'detached' });
  await c.close();
  await page.close();
});

test('a frame buffer shows its planes: to scale in the buffer, and as V4L2 and DRM describe them', async () => {
  const { page } = await open(1440, 900);
  const c = await d.connect();
  const { fd, layout } = await c.createFrame('1280x720:NV12', { modifier: 'ALLWINNER_TILED', alignPlane: 4096 });
  await c.setName(fd, '1280x720:NV12:allwinner,p4096');
  const id = (await c.explainFd(fd)).buffer;
  await page.getByTestId(`buffer-row-${id}`).click();
  const frame = page.getByTestId('frame-layout');
  await frame.waitFor();
  assert.match(await frame.innerText(), /Frame 1280x720 NV12 · ALLWINNER_TILED/i);
  assert.match(await frame.getByTestId('plane-1').innerText(), new RegExp(`1 UV\\s+${layout.planes[1]!.offset}\\s+1280\\s+384`));
  assert.match(await frame.getByTestId('frame-v4l2').innerText(), /V4L2_PIX_FMT_NV12_32L32 'ST12', 1280x736/);
  assert.match(await frame.getByTestId('frame-drm').innerText(), new RegExp(`DRM_FORMAT_NV12 'NV12', modifier 0x0900000000000001, pitches 1280, 1280, offsets 0, ${layout.planes[1]!.offset}`));
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
