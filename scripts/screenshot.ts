// Takes the dashboard screenshots in docs/: smafd on the default platform, the SDP demo and a
// camera pipeline running, at desktop (1440x900) and phone (390x844) sizes; the timeline of an
// exported SDP trace; the trace viewer replaying a recorded camera run under the eager policy.
// Run with `npm run screenshot` (needs Debian's Chromium at /usr/bin/chromium).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseScenario, runScenario } from '../src/cli/scenario.ts';
import type { SmafClient } from '../src/client/client.ts';
import { traceFileText } from '../src/uapi/index.ts';
import { launchChromium } from '../test/helpers/browser.ts';
import { ROOT, startDaemon } from '../test/helpers/daemon.ts';

const d = await startDaemon(['--dashboard-port', '0']);
const url = d.dashboardUrl!;
const connect = async (): Promise<SmafClient> => {
  const c = await d.connect();
  await c.hello(4242, 'gst-launch-1.0');
  return c;
};
// a camera run that comes and goes (its buffers live for milliseconds: the timeline keeps them)
const camera = await runScenario(parseScenario(readFileSync(join(ROOT, 'scenarios/camera.yaml'), 'utf8')), connect);
if (!camera.ok) throw new Error('camera scenario failed');
const full = parseScenario(readFileSync(join(ROOT, 'scenarios/sdp.yaml'), 'utf8'));
const cut = full.steps.findIndex((s) => 'say' in s && /teardown/.test(s.say));
const sdp = await runScenario({ ...full, steps: full.steps.slice(0, cut) }, connect, undefined, { keepOpen: true });
const cam = await d.connect();
await cam.hello(1717, 'camera-hal');
for (const [size, devices] of [[8 << 20, ['isp', 'gpu']], [3040 << 10, ['isp', 'display']], [24 << 20, ['gpu']]] as const) {
  const fd = await cam.create(size);
  const atts = [];
  for (const dev of devices) atts.push(await cam.attach(fd, dev));
  await cam.map(fd, atts[0]!, 2);
}
const browser = await launchChromium();
for (const [name, viewport] of [['dashboard', { width: 1440, height: 900 }], ['dashboard-phone', { width: 390, height: 844 }]] as const) {
  const page = await browser.newPage();
  await page.setViewportSize(viewport);
  await page.goto(url);
  await page.getByTestId('buffers').getByText('Buffers (7)').waitFor();
  await page.getByTestId('span-1 min').click();
  await page.locator('[data-testid^="buffer-row-"]').nth(2).click();
  await page.getByTestId('explain').getByText(/decision at/).waitFor();
  await page.locator('[data-testid^="tl-bar-"]').first().hover();
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(ROOT, `docs/${name}.png`), fullPage: true });
  await page.close();
}
for (const c of sdp.clients!.values()) await c.close();
await cam.close();
await d.stop();

// a whole SDP run on a fresh daemon: its exported trace (docs/sdp-trace.json, for ui.perfetto.dev)
// and the dashboard's own timeline of the same journal (no trace viewer works offline here)
const d2 = await startDaemon(['--dashboard-port', '0']);
const connect2 = async (): Promise<SmafClient> => {
  const c = await d2.connect();
  await c.hello(4242, 'sdp-player');
  return c;
};
const run = await runScenario(full, connect2);
if (!run.ok) throw new Error('sdp scenario failed');
const c2 = await d2.admin();
const recording = await c2.recording(0);
writeFileSync(join(ROOT, 'docs/sdp-trace.json'), traceFileText(await c2.trace(0), recording.header, recording.records));
await c2.close();
const page = await browser.newPage();
await page.setViewportSize({ width: 1440, height: 900 });
await page.goto(d2.dashboardUrl!);
await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
const timeline = page.getByTestId('timeline');
await timeline.getByTestId('span-all').click();
await timeline.getByTestId('follow').uncheck();
const bars = timeline.locator('[data-testid^="tl-bar-"]');
await bars.nth(2).click();
await page.waitForTimeout(300);
await timeline.screenshot({ path: join(ROOT, 'docs/sdp-timeline.png') });

// the trace viewer: the recorded camera run replayed as ION would run it, at its first failure
await page.getByTestId('trace-policy').selectOption('eager');
await page.getByTestId('trace-file').setInputFiles(join(ROOT, 'test/fixtures/traces/camera.json'));
await page.getByTestId('trace-summary').waitFor();
await page.getByTestId('trace-marks').locator('rect').first().click({ force: true });
await page.getByTestId('trace-explain').waitFor();
await page.getByTestId('trace-viewer').screenshot({ path: join(ROOT, 'docs/trace-viewer.png') });
await browser.close();
await d2.stop();
console.log('docs/dashboard.png, docs/dashboard-phone.png, docs/sdp-trace.json, docs/sdp-timeline.png and docs/trace-viewer.png written');
