/**
 * The dashboard in a real headless Chromium: start smafd, run the SDP demo through the client
 * (keeping its buffers), and check what a person would see; then release a buffer and watch it go.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { parseScenario, runScenario } from '../src/cli/scenario.ts';
import type { SmafClient } from '../src/client/client.ts';
import { formatExplanation } from '../src/core/explain.ts';
import { launchChromium } from './helpers/browser.ts';
import { ROOT, startDaemon, type RunningDaemon } from './helpers/daemon.ts';

let d: RunningDaemon;
let browser: BrowserContext;
let page: Page;
let url: string;

before(async () => {
  d = await startDaemon(['--dashboard-port', '0']);
  assert.ok(d.dashboardUrl, d.output());
  url = d.dashboardUrl;
  browser = await launchChromium();
  page = await browser.newPage();
});
after(async () => {
  await browser?.close();
  await d?.stop();
});

test('the dashboard shows the SDP demo live: buffers, memory map occupancy, the GPU denial, and a release', async () => {
  await page.goto(url);
  await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
  assert.match(await page.getByTestId('buffers').innerText(), /no live buffer/);

  // the SDP demo, keeping the clients (and so the buffers) alive
  const full = parseScenario(readFileSync(join(ROOT, 'scenarios/sdp.yaml'), 'utf8'));
  const result = await runScenario(full, () => d.connect(), undefined, { keepOpen: true });
  assert.equal(result.ok, true, JSON.stringify(result.steps.filter((s) => !s.ok)));
  const main = result.clients!.get('main') as SmafClient;

  // how close the daemon is to its limits, and whether a request met a bug
  const health = await page.getByTestId('health').innerText();
  assert.match(health, /internal errors: 0/);
  assert.match(health, /--max-clients/);
  assert.match(health, /--max-pending-bytes/);

  // buffers: ten (cipher, three bitstreams, three frames, test pattern, test frame, leak), seven secure
  await page.getByTestId('buffers').getByText('Buffers (10)').waitFor();
  assert.equal(await page.locator('[data-testid^="buffer-row-"]').count(), 10);
  assert.equal(await page.getByTestId('buffers').locator('.tag.secure').count(), 7);
  assert.match(await page.getByTestId('buffers').innerText(), /secure-carveout/);

  // memory map: the secure carveout holds the two rings and the test frame, drawn to scale, with hover text
  await page.getByTestId('region-usage-sdp').filter({ hasText: '9376 KiB in use' }).waitFor();
  const sdpRects = page.getByTestId('region-sdp').locator('rect.occ');
  assert.equal(await sdpRects.count(), 7);
  assert.match((await sdpRects.first().getAttribute('aria-label')) ?? '', /buffer \d+ · 64 KiB at 0x7c000000 · secure-carveout · secure · held by client/);
  const width = Number(await sdpRects.first().getAttribute('width'));
  assert.ok(Math.abs(width - (64 / (31 * 1024)) * 1000) < 0.01, `64 KiB of 31 MiB drawn to scale (${width})`);
  assert.ok((await page.getByTestId('region-cma').locator('rect.occ').count()) >= 1);

  // the GPU's denied access, and the firewall's flow-rule denials
  const events = page.getByTestId('events');
  await events.getByText(/Cannot attach device "gpu" to buffer \d+: device "gpu" is not secure-capable/).waitFor();
  // events arrive in batches: wait for each rather than assume the order of the batches
  await events.locator('[data-testid="event-denial"]').nth(3).waitFor();
  await events.getByText(/firewall refused display write/).first().waitFor();
  await events.locator('[data-testid="event-grant"]', { hasText: /crypto/ }).first().waitFor();

  // sparklines name their real peak: a flat line says 0 B, never the drawing's scale floor of 1 B
  const scales = await page.locator('.spark-scale').allInnerTexts();
  assert.ok(scales.length >= 6 && scales.some((t) => /^max 0 B · last/.test(t)), scales.join(' | '));
  assert.ok(scales.every((t) => !/^max 1 B /.test(t)), scales.join(' | '));

  // click a buffer: explain shows the allocators asked and why
  const frameRow = page.locator('[data-testid^="buffer-row-"]', { hasText: 'secure' }).last();
  await frameRow.click();
  await page.getByTestId('explain').getByText(/allocated secure-carveout \(ranking 20\)/).waitFor();
  await page.locator('[data-testid^="buffer-row-"]').last().click();
  await page.getByTestId('explain').getByText(/allocated smaf-cma \(ranking 0\)/).waitFor();
  const why = await page.getByTestId('explain').innerText();
  assert.match(why, /no-match\s+secure-carveout \(ranking 20\): only secure buffers come from the secure carveout/);
  assert.match(why, /no-match\s+system \(ranking 10\): display has no IOMMU/);

  // a TA call on the test frame (fd 7 of the main client, registered with the TEE): a TEE mark on its row
  const tee = await main.teeOpen();
  const shm = await main.teeShmRegisterFd(tee, 7);
  const session = await main.teeOpenSession(tee, '12345678-5b69-11e4-9dbb-101f74f00099');
  assert.equal((await main.teeInvoke(tee, session.session, 1, [{ type: 'memref', direction: 'inout', shm: shm.id, offset: 0, size: 16 }])).ret, 0);
  await page.getByTestId('timeline').locator('[data-testid="tl-mark-tee"]').first().waitFor({ state: 'attached' });
  await events.getByText(/sdp-basic command 1 \(session \d+\) -> TEEC_SUCCESS \(TEEC_ORIGIN_TRUSTED_APP\)/).waitFor();

  await page.screenshot({ path: join(tmpdir(), 'smaf-dashboard-test.png'), fullPage: true });

  // release the decrypted bitstream buffer (fd 4 of the main client): the page updates by itself
  const before = await page.locator('[data-testid^="buffer-row-"]').count();
  await main.closeFd(4);
  await page.getByTestId('buffers').getByText(`Buffers (${before - 1})`).waitFor();
  await page.getByTestId('region-usage-sdp').filter({ hasText: '9312 KiB in use' }).waitFor();
  assert.match(await events.innerText(), /revoke/);

  for (const c of result.clients!.values()) await c.close();
  await page.getByTestId('buffers').getByText('no live buffer').waitFor();
  await page.getByTestId('region-usage-sdp').filter({ hasText: '0 B in use' }).waitFor();
});

test('a buffer named with DMA_BUF_SET_NAME shows its name in the buffer list and in explain', async () => {
  const c = await d.connect();
  const fd = await c.create(8192);
  await c.setName(fd, 'camera-frame');
  const id = (await c.explainFd(fd)).buffer;
  await page.getByTestId(`buffer-name-${id}`).filter({ hasText: 'camera-frame' }).waitFor();
  await page.getByTestId(`buffer-row-${id}`).click();
  await page.getByTestId('explain').getByText(`buffer ${id} "camera-frame"`).waitFor();
  // one explain text: the dashboard's bundle formats it with the CLI's formatExplanation
  assert.equal(await page.getByTestId('explain').locator('pre').innerText(), formatExplanation(await c.explainFd(fd)));
  await c.close();
  await page.getByTestId('buffers').getByText('no live buffer').waitFor();
});

test('GET /api/state serves the same state as JSON; the dashboard refuses to change anything', async () => {
  const { origin, hash } = new URL(url);
  const auth = { authorization: `Bearer ${new URLSearchParams(hash.slice(1)).get('token')}` };
  const state = await (await fetch(`${origin}/api/state`, { headers: auth })).json() as { platform: { name: string }; regions: unknown[]; history: unknown[] };
  assert.equal(state.platform.name, 'media-soc');
  assert.equal(state.regions.length, 3);
  assert.ok(Array.isArray(state.history));
  for (const method of ['POST', 'PUT', 'DELETE']) assert.equal((await fetch(`${origin}/api/state`, { method, headers: auth })).status, 405);
  assert.equal((await fetch(`${origin}/api/explain/424242`, { headers: auth })).status, 404);
  assert.match(url, /^http:\/\/127\.0\.0\.1:/, 'bound to localhost');
});
