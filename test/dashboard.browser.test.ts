/**
 * The dashboard page in Debian's chromium (headless, driven by playwright-core) against a real
 * dashboard server fed with synthetic, schema-valid snapshots: it connects, draws every chart, shows
 * the last exact temporal score, keeps up with 4 Hz snapshots, switches exact/rolling, and reconnects
 * to a server restarted on the same port. Skipped when /usr/bin/chromium is missing, except in CI.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH, screenshotDashboard } from '../dashboard/screenshot.js';
import { startDashboard, type Dashboard } from '../dashboard/server.js';
import { fakeExactScore, fakeHealth, fakeSnapshot, fakeWords } from './helpers/dashboardFixtures.js';

const haveChromium = fs.existsSync(CHROMIUM_PATH);
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM_PATH} is missing; CI must install it (apt-get install chromium)`);
const skip = haveChromium ? false : `${CHROMIUM_PATH} not found (install it with \`apt-get install chromium\`)`;

interface Exposed {
  lastSnapshotSeq: number;
  lastTemporalScore: number | null;
  connected: boolean;
  drawCount: number;
  /** Planted latencies drawn on the Tmax-vs-depth chart (finite points). */
  plantedPoints: number;
  /** The tick labels uPlot last drew, by axis label. */
  tickLabels: Record<string, string[]>;
  /** Tmax interval bars drawn on the Tmax-vs-depth chart (exact scores). */
  tmaxBars: number;
  /** Subjects drawn on the group chart (several-subject replay). */
  groupSubjects: number;
}

const exposed = (page: Page): Promise<Exposed> => page.evaluate(() => ({ ...(globalThis as unknown as { lockstep: Exposed }).lockstep }));

/** Pixels of a canvas that are clearly coloured (axes, grid and text are grey). */
function colouredPixels(page: Page, selector: string): Promise<{ width: number; height: number; coloured: number }> {
  return page.evaluate((sel) => {
    const c = (globalThis as unknown as { document: { querySelector(s: string): unknown } }).document.querySelector(sel) as {
      width: number;
      height: number;
      getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
    } | null;
    if (!c || c.width === 0 || c.height === 0) return { width: 0, height: 0, coloured: 0 };
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let coloured = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 60) coloured++;
    return { width: c.width, height: c.height, coloured };
  }, selector);
}

const text = (page: Page, selector: string): Promise<string> => page.locator(selector).innerText();

describe('dashboard page in chromium', { skip }, () => {
  let dash: Dashboard;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const pageErrors: string[] = [];
  const foreignRequests: string[] = [];

  before(async () => {
    dash = await startDashboard({ port: 0 });
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lockstep-chromium-test-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 1000 } });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('request', (req) => {
      if (!req.url().startsWith(new URL(dash.url).origin) && !req.url().startsWith('data:')) foreignRequests.push(req.url());
    });
  });
  after(async () => {
    await context?.close();
    await dash?.close();
    if (profile) fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it('connects, draws every chart, and shows the last exact temporal score while snapshots arrive at 4 Hz', async () => {
    dash.publishHealth(fakeHealth());
    dash.publishWords(fakeWords(25));
    let seq = 0;
    dash.publishSnapshot(fakeSnapshot(++seq));
    await page.goto(dash.url);
    await page.waitForFunction(() => (globalThis as unknown as { lockstep: Exposed }).lockstep.lastSnapshotSeq >= 1, undefined, { timeout: 15_000 });

    // 4 Hz for 5 s; the page must keep up (draws land within a frame or two of each snapshot) and
    // stay responsive (no long main-thread task).
    await page.evaluate(() => {
      const g = globalThis as unknown as { longTasks: number[]; PerformanceObserver: new (cb: (l: { getEntries(): Array<{ duration: number }> }) => void) => { observe(o: object): void } };
      g.longTasks = [];
      new g.PerformanceObserver((list) => g.longTasks.push(...list.getEntries().map((e) => e.duration))).observe({ type: 'longtask' });
    });
    const lags: number[] = [];
    const draws0 = (await exposed(page)).drawCount;
    for (let i = 0; i < 20; i++) {
      dash.publishSnapshot(fakeSnapshot(++seq));
      await sleep(250);
      lags.push(seq - (await exposed(page)).lastSnapshotSeq);
    }
    const state = await exposed(page);
    assert.equal(state.connected, true);
    assert.ok(state.drawCount - draws0 >= 15, `page redrew ${state.drawCount - draws0} times for 20 snapshots`);
    assert.ok(Math.max(...lags) <= 2, `the page lagged behind by up to ${Math.max(...lags)} snapshots`);
    const longTasks = await page.evaluate(() => (globalThis as unknown as { longTasks: number[] }).longTasks);
    assert.ok(longTasks.every((ms) => ms < 200), `main-thread tasks over 50 ms: ${longTasks.map((ms) => ms.toFixed(0)).join(', ')}`);

    await page.waitForFunction((s) => (globalThis as unknown as { lockstep: Exposed }).lockstep.lastSnapshotSeq === s, seq, { timeout: 5000 });
    assert.equal(await text(page, '#temporal-score'), fakeExactScore(seq).toFixed(3));
    assert.equal((await exposed(page)).lastTemporalScore, fakeExactScore(seq));

    for (const sel of ['#chart-curves canvas', '#chart-tmax canvas', '#chart-emergence canvas', '#heatmap']) {
      const px = await colouredPixels(page, sel);
      assert.ok(px.width > 100 && px.height > 100, `${sel} has a size (${px.width}×${px.height})`);
      assert.ok(px.coloured > 200, `${sel} has data drawn on it (${px.coloured} coloured pixels)`);
    }
    assert.match(await text(page, '#health'), /live/);
    assert.match(await text(page, '#activations-label'), /synthetic activations \(not a language model\)/);
    // One source for the word counts: the same rows in the score panel and in stream health, with
    // function words excluded by design rather than "skipped".
    const scoreWords = await text(page, '#score-words');
    assert.equal(scoreWords, await text(page, '#health-words'));
    assert.match(scoreWords, /words decoded\s+250/);
    assert.match(scoreWords, /excluded by design\s+2,037 function words \(content words only, paper default\)/);
    assert.match(scoreWords, /words skipped\s+2: 2 with a non-finite MEG epoch/);
    assert.doesNotMatch(await text(page, '.score-card'), /none skipped/);
    // The headline is the neuroscience; the backend and its libraries are in stream health.
    assert.doesNotMatch(await text(page, '.score-card'), /backend|reference/);
    assert.match(await text(page, '#computation'), /backend\s+reference/);
    assert.match(await text(page, '.score-card'), /Tmax\s+[\d.-]+ /);
    assert.equal(await text(page, '#current-word'), 'w24');
    assert.equal(await page.locator('#recent-words li').count(), 25);
    assert.equal(await page.locator('#banner').isVisible(), false, 'no banner while connected and live');
  });

  it('switches between exact and rolling scores, and falls back to rolling before the first refit', async () => {
    const s = fakeSnapshot(100);
    dash.publishSnapshot(s);
    await page.waitForFunction(() => (globalThis as unknown as { lockstep: Exposed }).lockstep.lastSnapshotSeq === 100, undefined, { timeout: 5000 });
    await page.click('#mode-rolling');
    await page.waitForFunction((v) => (globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } }).document.getElementById('temporal-score').textContent === v, s.rolling!.temporalScore.toFixed(3), { timeout: 5000 });
    await page.click('#mode-exact');
    await page.waitForFunction((v) => (globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } }).document.getElementById('temporal-score').textContent === v, s.exact!.temporalScore.toFixed(3), { timeout: 5000 });
    const noExact = fakeSnapshot(101, { noExact: true });
    dash.publishSnapshot(noExact);
    await page.waitForFunction(() => (globalThis as unknown as { lockstep: Exposed }).lockstep.lastSnapshotSeq === 101, undefined, { timeout: 5000 });
    assert.equal(await text(page, '#temporal-score'), noExact.rolling!.temporalScore.toFixed(3));
    assert.match(await text(page, '#score-method'), /rolling prequential/);
  });

  it('before the first exact score says how many words it needs and has, from the snapshot (not the page)', async () => {
    const waitSeq = (seq: number) => page.waitForFunction((s) => (globalThis as unknown as { lockstep: Exposed }).lockstep.lastSnapshotSeq === s, seq, { timeout: 5000 });
    dash.publishHealth(fakeHealth({ wordsAccepted: 61 }));
    dash.publishSnapshot(fakeSnapshot(201, { noExact: true, noRolling: true, nWords: 61 }));
    await waitSeq(201);
    assert.equal(await text(page, '#exact-status'), '61 / 82 words before the first exact score (every one of the 5 folds needs at least 2 words; folds fill in blocks of 20 words, dealt round-robin)');
    assert.equal(await text(page, '#temporal-score'), '—');
    // Another fold plan in the data, another number on the page.
    dash.publishHealth(fakeHealth({ wordsAccepted: 123 }));
    dash.publishSnapshot({ ...fakeSnapshot(202, { noExact: true, noRolling: true, nWords: 123 }), foldPlan: { kind: 'blocks', folds: 5, blockWords: 100 }, minWordsForExact: 402 });
    await waitSeq(202);
    await page.locator('#exact-status', { hasText: '123 / 402' }).waitFor({ timeout: 5000 });
    assert.match(await text(page, '#exact-status'), /^123 \/ 402 words before the first exact score \(.*blocks of 100 words/);
    dash.publishHealth(fakeHealth({ wordsAccepted: 90 }));
    dash.publishSnapshot(fakeSnapshot(203, { noExact: true, nWords: 90 }));
    await waitSeq(203);
    await page.locator('#exact-status', { hasText: 'reached' }).waitFor({ timeout: 5000 });
    assert.equal(await text(page, '#exact-status'), '82 words reached: the first exact score comes with the next refit');
    dash.publishSnapshot(fakeSnapshot(204));
    await waitSeq(204);
    assert.equal(await text(page, '#exact-status'), '');
    dash.publishHealth(fakeHealth());
  });

  it('shows no number as a negative zero (values that round to 0 show as 0.000)', async () => {
    const base = fakeSnapshot(301);
    const tiny = (v: number, i: number) => (i % 2 ? -1 : 1) * 4e-5 * (1 + (i % 7)) + 0 * v;
    const curves = (c: NonNullable<typeof base.exact>) => ({
      ...c,
      R: c.R.map((row) => row.map(tiny)),
      tmax: c.tmax.map((_, l) => (l % 2 ? -0.0001 : 0.0002)),
      temporalScore: -0.0002,
      p: 0.9996,
      alignmentScore: -0.0001,
      peakTimeSec: -0.0004,
    });
    const s = { ...base, exact: { ...curves(base.exact!), ci: { method: 'fold bootstrap', level: 0.95, low: -0.0004, high: 0.3 }, computeSeconds: -0.0001 }, rolling: { ...curves(base.rolling! as never), nScored: 10, halfLifeWords: null, scoring: base.rolling!.scoring, scoredBy: base.rolling!.scoredBy } };
    dash.publishHealth(fakeHealth({ wallLagSec: -0.001, sourceTimeSec: -0.03, speed: -0.0001, inputRateHz: -0.01, refitSeconds: -0.001 }));
    dash.publishWords({ current: { wordIndex: 3, word: 'w3', onsetSec: -0.02, durationSec: -0.001 }, recent: [] });
    dash.publishSnapshot(s);
    await page.waitForFunction(() => (globalThis as unknown as { lockstep: Exposed }).lockstep.lastSnapshotSeq === 301, undefined, { timeout: 5000 });
    await sleep(300);
    assert.equal(await text(page, '#temporal-score'), '0.000');
    const all = await text(page, 'body');
    const negativeZero = /[-\u2212]0(?:[.,]0+)?(?![\d.,:])|[-\u2212]0:00\.0(?!\d)/;
    assert.doesNotMatch(all, negativeZero, `page text: ${all.match(new RegExp(`.{0,40}${negativeZero.source}.{0,10}`))?.[0]}`);
    await page.click('#mode-rolling');
    await sleep(300);
    assert.doesNotMatch(await text(page, 'body'), negativeZero);
    const ticks = Object.values((await exposed(page)).tickLabels).flat();
    assert.ok(ticks.length > 10, `${ticks.length} tick labels recorded`);
    assert.ok(ticks.some((t) => t === '0'), 'a zero tick is drawn');
    assert.ok(!ticks.some((t) => negativeZero.test(t)), `tick labels: ${ticks.join(' ')}`);
    await page.click('#mode-exact');
  });

  it('draws the planted latencies beside Tmax for a simulated source, and nothing for other sources', async () => {
    const planted = [0.3, 0.34, 0.39, 0.43, 0.48, 0.52, 0.56, 0.61, 0.65];
    const plantedPoints = (n: number) => page.waitForFunction((k) => (globalThis as unknown as { lockstep: Exposed }).lockstep.plantedPoints === k, n, { timeout: 5000 });
    dash.publishSnapshot(fakeSnapshot(401));
    dash.publishHealth(fakeHealth({ plantedLatenciesSec: planted }));
    await plantedPoints(9);
    assert.match(await text(page, '#tmax-legend'), /planted latency: the simulation's ground truth/);
    dash.publishHealth(fakeHealth({ plantedLatenciesSec: planted.map(() => null) }));
    await page.locator('#tmax-legend', { hasText: 'none (the null control' }).waitFor({ timeout: 5000 });
    assert.equal((await exposed(page)).plantedPoints, 0);
    dash.publishHealth(fakeHealth({ plantedLatenciesSec: planted }));
    await plantedPoints(9);
    dash.publishHealth(fakeHealth({ source: 'replay of /data sub-001' }));
    await plantedPoints(0);
    assert.equal(await text(page, '#tmax-legend'), '● measured Tmax, bar = its 95% interval', 'no planted series for a recording');
  });

  it('shows the Tmax intervals as bars, the fold test beside the paper\'s p, and the subjects with their group', async () => {
    const s = fakeSnapshot(402);
    dash.publishSnapshot(s);
    await page.waitForFunction(() => (globalThis as unknown as { lockstep: Exposed }).lockstep.tmaxBars === 9, undefined, { timeout: 5000 });
    const details = await text(page, '#score-details');
    assert.match(details, /fold test p\s+0\.004 \(fold t-test\)/);
    assert.match(details, /paper: t-test, 7 df, layers taken as independent/);
    assert.match(details, /Tmax 95% CI\s+±30 ±30 ±30 ±30 ±30 ±30 ±30 ±30 ±30 ms \(fold jackknife\)/);
    assert.equal(await page.locator('#group-card').isVisible(), false, 'no group card for one subject');
    const e = s.exact!;
    const subject = (id: string, shift: number) => ({ subject: id, temporalScore: 0.9 - shift, p: 0.001, foldTestP: 0.01, tmax: e.tmax.map((t) => t + shift), status: null });
    dash.publishGroup({
      depths: s.depths,
      times: s.times,
      subjects: [subject('001', 0), subject('002', 0.1), { subject: '003', temporalScore: null, p: null, foldTestP: null, tmax: null, status: 'no exact score yet: 90/402 words' }],
      group: { subjects: ['001', '002'], nSubjects: 2, temporalScore: { mean: 0.85, sem: 0.05, n: 2, nonFinite: 0, values: [0.9, 0.8] }, tmax: { mean: e.tmax.map((t) => t + 0.05), sem: e.tmax.map(() => 0.05) }, R: null, test: { method: 'one-sample t-test', t: 17, df: 1, p: 0.037 } },
      pending: ['004'],
    });
    await page.waitForFunction(() => (globalThis as unknown as { lockstep: Exposed }).lockstep.groupSubjects === 2, undefined, { timeout: 5000 });
    assert.ok(await page.locator('#group-card').isVisible());
    assert.match(await text(page, '#group-stats'), /group of 2 subjects \(mean ± SEM\): temporal score 0\.850 ± 0\.050, across subjects p = 0\.037 .* still to come: sub-004/);
    assert.match(await text(page, '#group-subjects'), /sub-003\s+no exact score yet: 90\/402 words/);
    assert.ok((await colouredPixels(page, '#chart-group canvas')).coloured > 200, 'the subjects are drawn');
  });

  it('shows a banner when the stream stalls or the server goes away, and reconnects to a restarted server on the same port', async () => {
    dash.publishHealth(fakeHealth({ state: 'stalled' }));
    await page.locator('#banner', { hasText: 'Input stream stalled' }).waitFor({ timeout: 5000 });

    const port = Number(new URL(dash.url).port);
    await dash.close();
    await page.waitForFunction(() => !(globalThis as unknown as { lockstep: Exposed }).lockstep.connected, undefined, { timeout: 5000 });
    await page.locator('#banner', { hasText: 'Disconnected' }).waitFor({ timeout: 5000 });
    assert.equal(await text(page, '#connection'), 'disconnected');

    dash = await startDashboard({ port });
    const fresh = fakeSnapshot(7);
    dash.publishHealth(fakeHealth({ state: 'live' }));
    dash.publishSnapshot(fresh);
    await page.waitForFunction(
      (v) => {
        const g = globalThis as unknown as { lockstep: Exposed; document: { getElementById(id: string): { textContent: string } } };
        return g.lockstep.connected && g.lockstep.lastSnapshotSeq === 7 && g.document.getElementById('temporal-score').textContent === v;
      },
      fresh.exact!.temporalScore.toFixed(3),
      { timeout: 20_000 },
    );
    await page.locator('#banner').waitFor({ state: 'hidden', timeout: 5000 });
    assert.equal(await text(page, '#connection'), 'connected');
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
    assert.deepEqual(foreignRequests, [], 'the page loads nothing from elsewhere');
  });

  it('reads the token from its own URL and sends it on the upgrade; without it the server refuses the page', async () => {
    const guarded = await startDashboard({ port: 0, token: 'browser-token-42' });
    const other = await context.newPage();
    try {
      guarded.publishSnapshot(fakeSnapshot(3));
      await other.goto(guarded.url);
      await other.waitForFunction(() => (globalThis as unknown as { lockstep: Exposed }).lockstep.lastSnapshotSeq === 3, undefined, { timeout: 10_000 });
      assert.equal(await text(other, '#temporal-score'), fakeExactScore(3).toFixed(3));
      // Every client presents the token: without it (and without the cookie the visit above left), no page.
      await context.clearCookies();
      const res = await other.goto(guarded.url.replace(/\?token=.*$/, ''));
      assert.equal(res?.status(), 401);
      assert.match(await other.locator('body').innerText(), /missing or wrong token/);
    } finally {
      await other.close();
      await guarded.close();
    }
  });

  it('screenshotDashboard writes a 1400×1000 PNG once the page has drawn the requested snapshot', async () => {
    const out = path.join(profile, 'shot.png');
    dash.publishSnapshot(fakeSnapshot(8));
    await screenshotDashboard(dash.url, out, { minSeq: 8, timeoutMs: 20_000 });
    const png = fs.readFileSync(out);
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
    assert.equal(png.readUInt32BE(16), 1400);
    assert.equal(png.readUInt32BE(20), 1000);
    await assert.rejects(screenshotDashboard(dash.url, out, { minSeq: 1000, timeoutMs: 1500 }), /Timeout/i, 'a snapshot that never comes is a timeout');
  });
});
