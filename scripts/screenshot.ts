// Takes docs/dashboard.png: smafd on the default platform, the SDP demo and a camera pipeline running.
// Run with `npm run screenshot` (needs Debian's Chromium at /usr/bin/chromium).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseScenario, runScenario } from '../src/cli/scenario.ts';
import { launchChromium } from '../test/helpers/browser.ts';
import { ROOT, startDaemon } from '../test/helpers/daemon.ts';

const d = await startDaemon(['--dashboard-port', '0']);
const url = d.dashboardUrl!;
const full = parseScenario(readFileSync(join(ROOT, 'scenarios/sdp.yaml'), 'utf8'));
const cut = full.steps.findIndex((s) => 'say' in s && /teardown/.test(s.say));
const sdp = await runScenario({ ...full, steps: full.steps.slice(0, cut) }, () => d.connect(), undefined, { keepOpen: true });
const cam = await d.connect();
for (const [size, devices] of [[8 << 20, ['isp', 'gpu']], [3 << 20, ['isp', 'display']], [24 << 20, ['gpu']]] as const) {
  const fd = await cam.create(size);
  const atts = [];
  for (const dev of devices) atts.push(await cam.attach(fd, dev));
  await cam.map(fd, atts[0]!, 2);
}
const browser = await launchChromium();
const page = await browser.newPage();
await page.goto(url);
await page.getByTestId('buffers').getByText('Buffers (7)').waitFor();
await page.locator('[data-testid^="buffer-row-"]').nth(2).click();
await page.getByTestId('explain').getByText(/decision at/).waitFor();
await page.waitForTimeout(300);
await page.screenshot({ path: join(ROOT, 'docs/dashboard.png'), fullPage: true });
await browser.close();
for (const c of sdp.clients!.values()) await c.close();
await cam.close();
await d.stop();
console.log('docs/dashboard.png written');
