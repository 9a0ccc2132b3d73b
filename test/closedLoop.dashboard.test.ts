/**
 * The dashboard's closed-loop panel: the server sends the latest panel to every client (a late one
 * included), and the page (Debian's chromium, headless) shows it only in closed-loop sessions: the
 * policy and its state, each decision on the recording's time axis with its reason, and the scores
 * per condition. Skipped when /usr/bin/chromium is missing, except in CI.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../dashboard/screenshot.js';
import { startDashboard, type ClosedLoopPanel, type Dashboard } from '../dashboard/server.js';
import { fakeHealth, fakeSnapshot } from './helpers/dashboardFixtures.js';

const haveChromium = fs.existsSync(CHROMIUM_PATH);
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM_PATH} is missing; CI must install it (apt-get install chromium)`);
const skip = haveChromium ? false : `${CHROMIUM_PATH} not found (install it with \`apt-get install chromium\`)`;

function panel(n: number, stopped = false): ClosedLoopPanel {
  const decisions: ClosedLoopPanel['decisions'] = Array.from({ length: n }, (_, k) => ({ seq: k + 1, action: 'play', passage: `p${String(k + 1).padStart(4, '0')}`, label: null, reason: `fill-q${(k % 4) + 1}`, detail: `heard per quartile ${k}/${k}/${k}/${k}`, atSec: 4.5 + 21 * k, latencySec: k === 0 ? null : 0.012 * k }));
  if (stopped) decisions.push({ seq: n + 1, action: 'stop', passage: null, label: null, reason: 'max-minutes', detail: 'p0010 would end after the limit', atSec: 4.5 + 21 * n, latencySec: 0.5 });
  return {
    policy: { name: 'balance-surprisal', parameters: {} },
    state: { heard: [20, 21, 20, 19], decoded: [18, 20, 19, 17] },
    decisions,
    conditions: ['q1', 'q2', 'q3', 'q4'].map((c, i) => ({ condition: c, words: 18 + i, temporalScore: 0.92 - 0.03 * i, source: i === 3 ? 'rolling' : 'exact', ci: i === 3 ? null : { method: 'bootstrap', level: 0.95, low: 0.8 - 0.03 * i, high: 0.97 }, alignmentScore: 0.1 })),
    elapsedSec: 4.5 + 21 * n + 3,
    stopped: stopped ? { reason: 'max-minutes', atSec: 4.5 + 21 * n, detail: 'p0010 would end after the limit' } : null,
  };
}

describe('closed-loop panel', { skip }, () => {
  let dash: Dashboard;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const pageErrors: string[] = [];

  before(async () => {
    dash = await startDashboard({ port: 0 });
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lockstep-chromium-cl-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 1400 } });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });
  after(async () => {
    await context?.close();
    await dash?.close();
    if (profile) fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it('stays hidden outside closed-loop sessions, then shows policy, decisions on the time axis, per-condition scores and state', async () => {
    dash.publishHealth(fakeHealth());
    dash.publishSnapshot(fakeSnapshot(1));
    await page.goto(dash.url);
    await page.waitForFunction(() => (globalThis as unknown as { lockstep: { lastSnapshotSeq: number } }).lockstep.lastSnapshotSeq >= 1, undefined, { timeout: 15_000 });
    assert.equal(await page.locator('#closed-loop-card').isVisible(), false, 'no panel in a plain session');

    dash.publishClosedLoop(panel(6));
    await page.waitForFunction(() => (globalThis as unknown as { lockstep: { closedLoopDecisions: number } }).lockstep.closedLoopDecisions === 6, undefined, { timeout: 10_000 });
    assert.equal(await page.locator('#closed-loop-card').isVisible(), true);
    assert.match(await page.locator('#cl-policy').innerText(), /policy balance-surprisal/);
    assert.match(await page.locator('#cl-status').innerText(), /6 passages chosen so far · last decision 60 ms after/);
    assert.equal(await page.locator('#cl-timeline .play').count(), 6, 'one mark per decision');
    assert.match(await page.locator('#cl-timeline .play').nth(1).locator('title').textContent() ?? '', /#2 at 0:25\.5: play p0002 · fill-q2 — heard per quartile 1\/1\/1\/1 · decided 12 ms after/);
    const xs = await page.locator('#cl-timeline .play').evaluateAll((els) => els.map((e) => (e as unknown as { getBBox(): { x: number } }).getBBox().x));
    assert.ok(xs.every((x, i) => i === 0 || x > xs[i - 1]), 'decisions in time order along the axis');
    assert.equal(await page.locator('#cl-decisions li').count(), 6);
    const table = await page.locator('#cl-conditions').innerText();
    assert.match(table, /q1\s+18\s+0\.920/);
    assert.match(table, /q4\s+21\s+0\.830 \(rolling\)/);
    assert.match(await page.locator('#cl-state').innerText(), /heard\s+\[20,21,20,19\]/);

    dash.publishClosedLoop(panel(9, true));
    await page.waitForFunction(() => (globalThis as unknown as { lockstep: { closedLoopDecisions: number } }).lockstep.closedLoopDecisions === 10, undefined, { timeout: 10_000 });
    assert.equal(await page.locator('#cl-timeline .stop').count(), 1);
    assert.match(await page.locator('#cl-status').innerText(), /stopped at 3:13\.5 \(max-minutes\)/);
    assert.deepEqual(pageErrors, []);
  });
});
