/** The dashboard of a device-tree platform in headless Chromium: reserved ranges drawn inside DRAM and listed, never as pools. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { launchChromium } from './helpers/browser.ts';
import { ROOT, startDaemon } from './helpers/daemon.ts';

test('reserved-memory ranges of a device tree appear on the memory map with their reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smaf-dt-browser-'));
  const ov = join(dir, 'board.yaml');
  writeFileSync(ov, `device_tree: ${join(ROOT, 'test/fixtures/devicetree/soc32.dts')}\ndevices:\n  gpu: { node: /soc/gpu@3000000, class: gpu }\n`);
  const d = await startDaemon(['--dashboard-port', '0', '--platform', ov]);
  const browser = await launchChromium();
  try {
    const url = d.dashboardUrl!;
    const page = await browser.newPage();
    await page.goto(url);
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    const list = page.getByTestId('reserved-ranges');
    await list.waitFor();
    assert.match(await list.innerText(), /4 reserved ranges .* never handed out: .*secmon@48000000 0x48000000 1 MiB/);
    const rect = page.getByTestId('region-dram').getByTestId('reserved-secmon@48000000');
    assert.match((await rect.getAttribute('aria-label')) ?? '', /secmon@48000000 \(reserved\) 0x48000000 · 1 MiB inside dram: no-map: secure world firmware/);
    assert.equal(await page.getByTestId('region-secmon@48000000').count(), 0, 'a reserved range is not drawn as a pool of its own');
    assert.equal(await page.getByTestId('region-vpu-pool@4c000000').count(), 1, 'a device pool is');
  } finally {
    await browser.close();
    await d.stop();
  }
});
