/**
 * `lockstep publish` → `lockstep live` end to end on the simulated subject, over real LSL sockets on
 * loopback: the live scores equal those of `lockstep replay` on the same dataset, every word marker
 * arrives, and the live result reports the streams it used. Loopback only (LOCKSTEP_LSL_LOOPBACK_ONLY).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syntheticFeatures } from '../adapters/llm/features.js';
import { runLive } from '../cli/live.js';
import { runPublish } from '../cli/publish.js';
import { runReplay } from '../cli/replay.js';
import { runSimulate } from '../cli/simulate.js';
import { tempDir } from './helpers/paths.js';

process.env.LOCKSTEP_LSL_LOOPBACK_ONLY = '1';

const SEED = 6;
const features = syntheticFeatures(SEED, 10);
const session = { backend: 'auto' as const, refitEveryWords: 1_000_000, snapshotEveryWords: 50, foldBlockWords: 60 };

describe('publish → live', () => {
  const root = tempDir('live');
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  before(async () => {
    await runSimulate({ out: root, subject: '001', session: '001', task: 'compr', format: 'fif', minutes: 2, seed: SEED, control: 'planted', features, firstWord: 0, quiet: true });
  });

  it('a live session on the published streams gives the replay scores', async () => {
    const name = `lockstep-test-${process.pid}`;
    const published = runPublish({ root, subject: '001', speed: 15, name, waitSec: 20, quiet: true });
    const live = await runLive({
      meg: name,
      words: `${name}-words`,
      features,
      allWords: true,
      resolveTimeoutSec: 10,
      ...session,
      halfLifeWords: null,
      quiet: true,
    });
    const pub = await published;
    const replay = await runReplay({ root, subject: '001', speed: 'max', features, allWords: true, ...session, json: false, quiet: true });
    assert.equal(live.words.received, pub.wordsPushed, 'every word marker arrived');
    assert.equal(live.words.badMarkers, 0);
    assert.equal(live.meg.channelsDecoded, 273);
    assert.equal(live.meg.sfreqHz, 1200);
    assert.deepEqual(live.meg.gaps, []);
    assert.ok(replay.final?.exact && live.final?.exact, 'both have exact scores');
    assert.equal(live.wordsDecoded, replay.wordsDecoded);
    let worst = 0;
    live.final.exact.R.forEach((row, l) => row.forEach((v, t) => (worst = Math.max(worst, Math.abs(v - replay.final!.exact!.R[l][t])))));
    assert.ok(worst < 1e-9, `max |ΔR| live vs replay ${worst}`);
    assert.deepEqual(live.final.exact.tmax, replay.final.exact.tmax);
    // Every decoded word is timed once, from the chunk or marker that completed its epoch to the first
    // snapshot that includes it: never before that moment.
    assert.equal(live.latencySec.n, live.wordsDecoded, 'one latency per decoded word');
    assert.ok(live.latencySec.p50 !== null && live.latencySec.p50 >= 0 && live.latencySec.max! >= live.latencySec.p99!);
  });
});
