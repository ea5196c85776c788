import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

/** Debian's Chromium (package chromium), installed by scripts/test.sh. */
export const CHROMIUM = process.env['SNAPLEDGER_TEST_CHROMIUM'] ?? '/usr/bin/chromium';

/**
 * Where browser tests leave their screenshots: test-output/browser in the checkout (kept out
 * of git), or SNAPLEDGER_TEST_OUTPUT/browser. CI keeps the directory as an artifact.
 */
export function screenshotDirectory(): string {
  const root = process.env['SNAPLEDGER_TEST_OUTPUT'] ?? resolve(__dirname, '../../test-output');
  const dir = join(root, 'browser');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Headless Chromium driven by playwright-core. As root Chromium's own sandbox cannot start,
 * so it runs with --no-sandbox; it only ever loads the loopback service under test.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(screenshotDirectory(), `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
