/**
 * Screenshots of a running dashboard with Debian's chromium driven by playwright-core (for reports
 * and CI artefacts). Owns launching a throw-away headless browser (fresh profile, no background
 * network) and waiting until the page has drawn a given snapshot; must not start servers or publish.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for a quiet, sandbox-free headless chromium that talks to nothing but the page's server. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const SCREENSHOT_VIEWPORT = { width: 1400, height: 1000 } as const;

export interface ScreenshotOptions {
  /** Wait until the page has drawn a snapshot with at least this seq; default 0 (any snapshot). */
  minSeq?: number;
  /** Give up after this long, ms; default 30 000. */
  timeoutMs?: number;
}

/**
 * Opens `url` in headless chromium at 1400×1000, waits for `window.lockstep.lastSnapshotSeq ≥ minSeq`,
 * and writes a PNG to `outPng`.
 * @example await screenshotDashboard(dash.url, 'dashboard.png', { minSeq: 10 });
 */
export async function screenshotDashboard(url: string, outPng: string, opts: ScreenshotOptions = {}): Promise<void> {
  const minSeq = opts.minSeq ?? 0;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  if (!fs.existsSync(CHROMIUM_PATH)) throw new Error(`screenshot: ${CHROMIUM_PATH} not found; install it with \`apt-get install chromium\``);
  const { chromium } = await import('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lockstep-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: SCREENSHOT_VIEWPORT,
      timeout: timeoutMs,
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      await page.goto(url, { timeout: timeoutMs });
      await page.waitForFunction(
        (min: number) => {
          const ls = (globalThis as unknown as { lockstep?: { lastSnapshotSeq: number } }).lockstep;
          return ls !== undefined && ls.lastSnapshotSeq >= min;
        },
        minSeq,
        { timeout: timeoutMs },
      );
      fs.mkdirSync(path.dirname(path.resolve(outPng)), { recursive: true });
      await page.screenshot({ path: outPng });
    } finally {
      await context.close();
    }
  } finally {
    // Chromium may still be writing to its profile as it exits (ENOTEMPTY on a loaded machine):
    // retry for a moment, and never let the clean-up replace the outcome (a PNG, or the real error).
    try {
      fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    } catch (e) {
      process.stderr.write(`screenshot: left the temporary chromium profile ${profile} behind: ${(e as Error).message}\n`);
    }
  }
}
