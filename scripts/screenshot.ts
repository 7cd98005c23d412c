// Takes the dashboard screenshots in docs/, at desktop (1280x900) and phone (390x844) sizes, from
// the commands the README documents, run against a fresh smafd on the default platform:
//   smaf run camera --hold        the streaming camera pipeline  -> docs/streaming*.png (the timeline)
//   smaf run sdp --hold           the secure video path           -> docs/devices*.png (the devices panel)
//   smaf create 1920x1080:NV12 --modifier ALLWINNER_TILED --attach vdec,display --map --hold
//                                 a tiled frame                   -> docs/frame-layout*.png (its planes)
// then the whole dashboard (docs/dashboard*.png), the timeline of an exported SDP trace, and the
// trace viewer replaying a recorded camera run under the eager policy.
// Run with `npm run screenshot` (needs Debian's Chromium at /usr/bin/chromium).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { parseScenario, runScenario } from '../src/cli/scenario.ts';
import type { SmafClient } from '../src/client/client.ts';
import { traceFileText } from '../src/uapi/index.ts';
import { launchChromium } from '../test/helpers/browser.ts';
import { ROOT, startDaemon, type RunningDaemon } from '../test/helpers/daemon.ts';

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

/** A documented `smaf` command, left running until it says it holds its buffers. */
async function held(d: RunningDaemon, args: string[]): Promise<ChildProcess> {
  const p = spawn(process.execPath, [join(ROOT, 'bin/smaf.js'), '--socket', d.socket, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  p.stdout!.resume();
  await new Promise<void>((resolve, reject) => {
    p.stderr!.on('data', (x) => {
      err += x;
      if (/holding/.test(err)) resolve();
    });
    p.once('exit', (code) => reject(new Error(`smaf ${args.join(' ')} exited with ${code}: ${err}`)));
  });
  return p;
}

async function page(browser: Awaited<ReturnType<typeof launchChromium>>, url: string, viewport: typeof DESKTOP): Promise<Page> {
  const p = await browser.newPage();
  await p.setViewportSize(viewport);
  await p.goto(url);
  await p.getByTestId('live').filter({ hasText: 'live' }).waitFor();
  return p;
}

/** One panel: the page's sticky header would cover a panel taller than the window, so it stays at the top for these. */
async function shot(p: Page, testid: string, file: string): Promise<void> {
  const unstick = await p.addStyleTag({ content: 'header { position: static !important; }' });
  await p.getByTestId(testid).screenshot({ path: join(ROOT, 'docs', file) });
  await unstick.evaluate((el) => el.remove());
}

const d = await startDaemon(['--dashboard-port', '0']);
const url = d.dashboardUrl!;
const browser = await launchChromium();
const pages = { '': await page(browser, url, DESKTOP), '-phone': await page(browser, url, PHONE) };

// the camera stream, watched live: its whole run on the timeline, the 30 frames through the ring
const camera = await held(d, ['run', 'camera', '--hold']);
for (const [suffix, p] of Object.entries(pages)) {
  await p.bringToFront(); // a page in the background may be throttled
  await p.locator('[data-testid^="tl-dma-"]').first().waitFor({ state: 'attached' });
  // a ring buffer's life so far: created, then the frames passing through it, fitted to the track
  await p.getByTestId('span-all').click();
  await p.locator('[data-testid^="tl-row-"]', { has: p.locator('[data-testid="tl-dma-display"]') }).first().locator('[data-testid^="tl-bar-"]').click();
  await p.getByTestId('zoom-fit').click();
  await shot(p, 'timeline', `streaming${suffix}.png`);
}

// the secure video path and a tiled frame, held: what each device maps, and the frame's planes
const sdp = await held(d, ['run', 'sdp', '--hold']);
const frame = await held(d, ['create', '1920x1080:NV12', '--modifier', 'ALLWINNER_TILED', '--attach', 'vdec,display', '--map', '--hold']);
for (const [suffix, p] of Object.entries(pages)) {
  await p.bringToFront();
  await p.getByTestId('device-display').getByText(/1920x1080:NV12:allwinner/).waitFor();
  await shot(p, 'devices', `devices${suffix}.png`);
  await p.locator('[data-testid^="buffer-row-"]', { hasText: 'allwinner' }).click();
  await p.getByTestId('frame-layout').waitFor();
  await shot(p, 'explain', `frame-layout${suffix}.png`);
}

// the whole dashboard: a secure range of the map focused (it names the devices mapping it)
for (const [suffix, p] of Object.entries(pages)) {
  await p.bringToFront();
  await p.getByTestId('span-10 s').click();
  await p.getByTestId('follow').check();
  await p.getByTestId('region-sdp').locator('rect.occ').nth(3).focus();
  await p.waitForTimeout(300);
  await p.screenshot({ path: join(ROOT, `docs/dashboard${suffix}.png`), fullPage: suffix === '' });
  await p.close();
}
for (const p of [camera, sdp, frame]) p.kill('SIGINT');
await Promise.all([camera, sdp, frame].map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)))));
await d.stop();

// a whole SDP run on a fresh daemon: its exported trace (docs/sdp-trace.json, for ui.perfetto.dev)
// and the dashboard's own timeline of the same journal (no trace viewer works offline here)
const d2 = await startDaemon(['--dashboard-port', '0']);
const connect2 = async (name: string): Promise<SmafClient> => {
  const c = await d2.connect();
  await c.hello(4242, name);
  return c;
};
const run = await runScenario(parseScenario(readFileSync(join(ROOT, 'scenarios/sdp.yaml'), 'utf8')), connect2);
if (!run.ok) throw new Error('sdp scenario failed');
const c2 = await d2.admin(); // the trace is the operator's
const recording = await c2.recording(0);
writeFileSync(join(ROOT, 'docs/sdp-trace.json'), traceFileText(await c2.trace(0), recording.header, recording.records));
await c2.close();
const p2 = await page(browser, d2.dashboardUrl!, { width: 1440, height: 900 });
const timeline = p2.getByTestId('timeline');
await timeline.getByTestId('span-all').click();
await timeline.getByTestId('follow').uncheck();
await timeline.locator('[data-testid^="tl-bar-"]').nth(2).click();
await p2.waitForTimeout(300);
await timeline.screenshot({ path: join(ROOT, 'docs/sdp-timeline.png') });

// the trace viewer: the recorded camera run replayed as ION would run it, at its first failure
await p2.getByTestId('trace-policy').selectOption('eager');
await p2.getByTestId('trace-file').setInputFiles(join(ROOT, 'test/fixtures/traces/camera.json'));
await p2.getByTestId('trace-summary').waitFor();
await p2.getByTestId('trace-marks').locator('rect').first().click({ force: true });
await p2.getByTestId('trace-explain').waitFor();
await p2.getByTestId('trace-viewer').screenshot({ path: join(ROOT, 'docs/trace-viewer.png') });
await browser.close();
await d2.stop();
console.log('docs/{dashboard,streaming,devices,frame-layout}{,-phone}.png, docs/sdp-trace.json, docs/sdp-timeline.png and docs/trace-viewer.png written');
