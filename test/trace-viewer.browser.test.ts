/**
 * The dashboard's trace viewer in a real headless Chromium: a trace opened (file chooser) or
 * dropped is replayed in the page; the slider shows the memory map, buffers and events as they
 * stood, the timeline marks the moment; a replay that fails shows where in red, with the explain
 * one click away.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { parseTraceFile } from '../src/uapi/index.ts';
import { launchChromium } from './helpers/browser.ts';
import { ROOT, startDaemon, type RunningDaemon } from './helpers/daemon.ts';

let d: RunningDaemon;
let browser: BrowserContext;
let page: Page;

before(async () => {
  d = await startDaemon(['--dashboard-port', '0']);
  const c = await d.connect(); // a client, so that the recording holds something
  await c.create(4096);
  await c.close();
  browser = await launchChromium();
  page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(d.dashboardUrl!);
  await page.getByTestId('trace-viewer').waitFor();
  assert.deepEqual(problems, []);
});
after(async () => {
  await browser?.close();
  await d?.stop();
});

const MiB = 1 << 20;
/** Two frames for the display recorded on a 64 MiB CMA: on this 6 MiB one the second does not fit. */
const failing = `${[
  { smaf_recording: { version: 1, platform: { name: 'small-board', memory: [{ name: 'dram', base: '0x40000000', size: '64MiB', kind: 'system' }, { name: 'cma', base: '0x43000000', size: '6MiB', kind: 'cma' }], devices: [{ name: 'display', dma_mask: 32 }] }, ops: 6, complete: true, dropped: 0, limit: 10, origin_us: 1_700_000_000_000_000 } },
  { client: 1, op: 'SMAF_IOC_CREATE', fd: -1, args: { length: 4 * MiB, flags: 2, name: '' }, result: 0, new_fd: 3, t: 100 },
  { client: 1, op: 'ATTACH', fd: 3, args: { device: 'display' }, result: 0, t: 200 },
  { client: 1, op: 'MAP', fd: 3, args: { attachment: 0, direction: 1 }, result: 1, t: 300 },
  { client: 1, op: 'SMAF_IOC_CREATE', fd: -1, args: { length: 4 * MiB, flags: 2, name: '' }, result: 0, new_fd: 4, t: 400 },
  { client: 1, op: 'ATTACH', fd: 4, args: { device: 'display' }, result: 0, t: 500 },
  { client: 1, op: 'MAP', fd: 4, args: { attachment: 0, direction: 1 }, result: 1, t: 600 },
].map((r) => JSON.stringify(r)).join('\n')}\n`;

test('a recorded camera run, opened with the file chooser: every outcome matches; the slider goes back to before the frame had memory', async () => {
  const file = join(ROOT, 'test/fixtures/traces/camera.json');
  await page.getByTestId('trace-file').setInputFiles(file);
  const summary = page.getByTestId('trace-summary');
  await summary.getByText(/every outcome matches the recording/).waitFor();
  assert.match(await summary.innerText(), /^\d+ operations of camera\.json on platform "media-soc", policy deferred/);
  assert.equal(await page.getByTestId('trace-marks').locator('rect').count(), 0, 'no red mark');
  // at the end: the frame was closed, the memory is back
  assert.match(await page.getByTestId('trace-region-usage-cma').innerText(), /^0 B in use/);
  // back to just after the ISP's first map: the frame in CMA, mapped by the isp
  const records = (JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: { cat?: string; args: { op: string; args?: { direction?: number } } }[] }).traceEvents.filter((e) => e.cat === 'smaf.op').map((e) => e.args);
  const firstMap = records.findIndex((r) => r.op === 'MAP') + 1;
  await page.getByTestId('trace-slider').fill(String(firstMap));
  await page.getByTestId('trace-position').getByText(new RegExp(`after operation ${firstMap} of ${records.length}: #\\d+ MAP by client \\d+`)).waitFor();
  assert.match(await page.getByTestId('trace-region-usage-cma').innerText(), /^3040 KiB in use/);
  assert.equal(await page.getByTestId('trace-region-cma').locator('rect').count(), 1);
  assert.match(await page.getByTestId('trace-buffers').innerText(), /smaf-cma[\s\S]*isp ✓/);
  assert.match(await page.getByTestId('trace-events').innerText(), /allocate/);
  // a moment earlier: attached, no memory yet (deferred)
  await page.getByTestId('trace-slider').fill(String(firstMap - 1));
  await page.getByTestId('trace-buffers').getByText('deferred').waitFor();
  assert.match(await page.getByTestId('trace-region-usage-cma').innerText(), /^0 B in use/);
  // the timeline marks the moment
  await page.getByTestId('timeline-marker').first().waitFor();
  // a buffer's explain is a click away
  await page.locator('[data-testid^="trace-buffer-"]').first().click();
  assert.match(await page.getByTestId('trace-explain').innerText(), /memory: none yet \(deferred/);
});

test('a replay that fails, dropped on the viewer: where it fails in red, the explain one click away', async () => {
  await page.getByTestId('trace-drop').evaluate((el, text) => {
    // in the page (the tests are compiled without the DOM's types)
    const w = globalThis as unknown as {
      DataTransfer: new () => { items: { add(f: unknown): void } };
      File: new (parts: string[], name: string, options: { type: string }) => unknown;
      DragEvent: new (type: string, init: { dataTransfer: unknown; bubbles: boolean; cancelable: boolean }) => Event;
    };
    const dt = new w.DataTransfer();
    dt.items.add(new w.File([text], 'frames.jsonl', { type: 'application/json' }));
    el.dispatchEvent(new w.DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, failing);
  const summary = page.getByTestId('trace-summary');
  await summary.getByText(/6 operations of frames\.jsonl on platform "small-board", policy deferred: +1 differ from the recording/).waitFor();
  assert.equal(await summary.evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(el).color), 'rgb(255, 92, 92)', 'red');
  assert.equal(await page.getByTestId('trace-marks').locator('rect').count(), 1);
  // at the end the difference is listed; its explain button shows why: every allocator asked
  await page.getByTestId('trace-explain-6').click();
  const explain = await page.getByTestId('trace-explain').innerText();
  assert.match(explain, /no memory for buffer 2 \(4 MiB, for display\): .*smaf-cma: /);
  assert.match(explain, /decision at map by display for \[display\]: failed: ENOMEM/);
  assert.match(await page.getByTestId('trace-position').innerText(), /after operation 6 of 6: #6 MAP/);
  // the red mark jumps there too, from anywhere
  await page.getByTestId('trace-slider').fill('1');
  assert.match(await page.getByTestId('trace-differences').innerText(), /no difference so far/);
  await page.getByTestId('trace-marks').locator('rect').click({ force: true });
  await page.getByTestId('trace-difference-6').waitFor();
  // eager: the same recording under ION's policy
  await page.getByTestId('trace-policy').selectOption('eager');
  await summary.getByText(/policy eager/).waitFor();
});

test('the dashboard\'s trace download carries the recording: it replays', async () => {
  // scripts reach the dashboard with its token (in the printed URL's fragment) as a bearer
  const token = new URLSearchParams(new URL(d.dashboardUrl!).hash.slice(1)).get('token');
  const res = await page.context().request.get(new URL('/api/trace.json', d.dashboardUrl!).href, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status(), 200);
  const text = await res.text();
  const rec = parseTraceFile(text, 'download.json');
  assert.equal(rec.header?.complete, true);
  assert.ok(rec.records.some((r) => r.op === 'SMAF_IOC_CREATE' && r.result === 0), 'the client\'s CREATE');
});

test('a trace that is not well formed: the line and field at fault, in the page', async () => {
  await page.getByTestId('trace-file').setInputFiles({ name: 'bad.jsonl', mimeType: 'application/json', buffer: Buffer.from('{"client": 1, "op": "MAPP", "fd": 3, "result": 0}\n') });
  const err = await page.getByTestId('trace-error').innerText();
  assert.match(err, /bad\.jsonl is not a valid trace:\s+bad\.jsonl:1: op: unknown operation "MAPP" \(did you mean MAP\?\)/);
});
