/** Debian's Chromium driven by playwright-core, headless, with a fresh profile. Never downloads a browser. */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.SMAF_CHROMIUM ?? '/usr/bin/chromium';

/** A headless Chromium with a new, empty user data dir. */
export async function launchChromium(): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium); browser tests never pass without a browser`);
  }
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'smaf-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
