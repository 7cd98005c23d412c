// Takes the dashboard screenshots in docs/: smafd on the default platform, the SDP demo and a
// camera pipeline running, at desktop (1440x900) and phone (390x844) sizes; and the timeline of an
// exported SDP trace. Run with `npm run screenshot` (needs Debian's Chromium at /usr/bin/chromium).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseScenario, runScenario } from '../src/cli/scenario.ts';
import type { SmafClient } from '../src/client/client.ts';
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
await browser.close();
for (const c of sdp.clients!.values()) await c.close();
await cam.close();
await d.stop();
console.log('docs/dashboard.png and docs/dashboard-phone.png written');
