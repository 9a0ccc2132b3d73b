/**
 * Worker-thread entry of `closed-loop --simulate`: the simulated lab, i.e. the presenter (silent)
 * and the simulated subject, in a thread of their own so that the controller's work (the pipeline,
 * the dashboard, JSON) never holds up a marker or the subject's MEG, as separate machines would
 * not. It talks to the controller only over LSL; the parent thread only starts it, tells it to stop
 * and gets its report.
 *
 *   presenter: reads lockstep-control, publishes lockstep-words (cli/present.ts, silent audio)
 *   subject:   hears lockstep-words (each marker = a word at its onset, with the planted condition
 *              effects) and sends lockstep-sim-MEG, rendered `renderLagSec` behind the clock
 *
 * One thing the two share in the thread, for exactness rather than realism: the subject renders
 * no sample before every marker the presenter has scheduled that could reach it has arrived over
 * LSL (a late marker delays the MEG instead of losing part of a response), so the data depend only
 * on the onsets published, never on how the threads were scheduled.
 *
 * Owns: the lab's lifecycle in the thread. Must not: decide anything.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { PassageBank } from '../adapters/bank/passageBank.js';
import { bankFeatures } from '../adapters/bank/passageBank.js';
import { StreamInlet } from '../adapters/lsl/inlet.js';
import { StreamOutlet } from '../adapters/lsl/outlet.js';
import { resolveQuery } from '../adapters/lsl/resolver.js';
import { StreamInfo } from '../adapters/lsl/streamInfo.js';
import { SilentAudio } from '../adapters/presenter/audioOutput.js';
import { ContextCounter, effectGain } from '../adapters/simulator/conditionEffects.js';
import { ListeningSubject } from '../adapters/simulator/listeningSubject.js';
import { SessionClock } from '../replay/sessionClock.js';
import { fromInlet } from '../streams/fromInlet.js';
import { lslWordEvents } from '../streams/lslWordEvents.js';
import { runPresent } from './present.js';
import { renderLagSec, spreadPicks, type LabReport, type LabStart, type LabToParent } from './simulatedLoop.js';

/** MEG is pushed this often, wall milliseconds. */
const PUSH_EVERY_MS = 20;

if (!parentPort) throw new Error('simulatedLab.js must run as a worker thread');
const port = parentPort;
const post = (m: LabToParent) => port.postMessage(m);

async function untilLive(inlet: StreamInlet, timeoutSec: number, what: string): Promise<void> {
  const t0 = performance.now();
  while (inlet.state !== 'live') {
    if (performance.now() - t0 > timeoutSec * 1000) throw new Error(`${what}: not connected within ${timeoutSec} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function runLab(s: LabStart): Promise<LabReport> {
  const bank: PassageBank = { ...s.bank, audioPath: () => null };
  const clock = new SessionClock(s.speed, undefined, s.clockOriginSec);
  const features = bankFeatures(bank);
  const zeros = new Float32Array(bank.nLayers * bank.nDims);
  const subject = new ListeningSubject({
    seed: s.seed,
    sfreqHz: s.sfreqHz,
    activation: (i, w) => features.of(i, w) ?? zeros,
    nLayers: bank.nLayers,
    nDims: bank.nDims,
    depths: bank.depths,
    snr: s.snr,
    calibrationWords: bank.summary.words.slice(0, 512).map((w) => ({ wordIndex: w.index, word: w.word, onsetSec: 0 })),
    picks: spreadPicks(273, s.channels),
  });
  const fs = s.sfreqHz;
  const query = (sourceId: string) => `source_id='${sourceId}'`;

  // The subject's MEG, from now on, rendered behind the clock.
  const megInfo = new StreamInfo({ name: 'lockstep-sim-MEG', type: 'MEG', channelCount: subject.channels.length, nominalSrate: fs, channelFormat: 'float32', sourceId: s.ids.meg });
  megInfo.setChannels(subject.channels.map((c) => ({ label: c.name, type: 'MEGMAG', unit: 'T' })));
  const megOut = await StreamOutlet.open(megInfo, { config: s.network });
  const t0 = clock.now();
  const lagSec = renderLagSec(s.speed);
  // Markers the presenter has scheduled (timestamps, in order) and how many the subject has
  // received: no sample is rendered before every marker that can reach it has arrived, however late.
  const scheduled: number[] = [];
  let received = 0;
  let next = 0;
  const pump = setInterval(() => {
    let until = clock.now() - lagSec;
    if (received < scheduled.length) until = Math.min(until, scheduled[received] + subject.responseStartSec);
    const target = Math.floor((until - t0) * fs);
    if (target <= next) return;
    const n = Math.min(target - next, Math.ceil(fs));
    const c = subject.chunk(next, n);
    megOut.pushChunk(c.data, t0 + (next + n - 1) / fs);
    next += n;
  }, PUSH_EVERY_MS);

  // The presenter: publishes its markers, waits for the controller's decisions.
  const stop = new AbortController();
  port.on('message', (m: { kind: string }) => m.kind === 'stop' && stop.abort());
  let markersReady!: () => void;
  const markersOpen = new Promise<void>((r) => (markersReady = r));
  const presenter = runPresent({
    bank,
    control: query(s.ids.control),
    markersName: 'lockstep-words',
    markersSourceId: s.ids.words,
    audio: new SilentAudio(),
    clock,
    resolveTimeoutSec: s.resolveTimeoutSec,
    network: s.network,
    quiet: true,
    onMarkersOutlet: () => markersReady(),
    signal: stop.signal,
    onScheduled: (markers) => scheduled.push(...markers.map((m) => m.at)),
  });
  presenter.catch(() => markersReady());

  // The subject hears the presenter's markers.
  const heardPassages: string[] = [];
  const counter = new ContextCounter();
  let inlet: StreamInlet | null = null;
  try {
    await markersOpen;
    const [info] = await resolveQuery(query(s.ids.words), { timeoutSec: s.resolveTimeoutSec, config: s.network, minimum: 1 });
    if (!info) throw new Error(`the simulated presenter's marker stream (${s.ids.words}) was not found`);
    inlet = new StreamInlet(info, { recover: true, config: s.network });
    fromInlet(inlet)
      .pipe(
        lslWordEvents({
          correction: 'none',
          onPassage: (event, passage) => {
            received++;
            if (event === 'start') heardPassages.push(passage);
          },
        }),
      )
      .subscribe((w) => {
        received++;
        const bw = bank.summary.words[w.wordIndex];
        const context = counter.hear(w.wordIndex);
        const gain = s.effects && bw ? effectGain(s.effects, { quartile: bw.quartile, contextWords: context }) : 1;
        subject.hear({ ...w, onsetSec: w.onsetSec - t0 }, gain);
      });
    await untilLive(inlet, s.resolveTimeoutSec, "the simulated subject's marker inlet");
    post({ kind: 'ready' });
    const { reports: _reports, ...presented } = await presenter;
    // After a stop decision the MEG goes on until the controller has what it needs and says stop.
    if (!stop.signal.aborted) await new Promise<void>((r) => stop.signal.addEventListener('abort', () => r(), { once: true }));
    return { heardPassages, heardWords: subject.heardWords, lateWords: subject.lateWords, presenter: presented };
  } finally {
    clearInterval(pump);
    inlet?.close();
    await megOut.close();
  }
}

runLab(workerData as LabStart).then(
  (report) => post({ kind: 'done', report }),
  (e: Error) => post({ kind: 'error', message: e.message, name: e.name }),
);
