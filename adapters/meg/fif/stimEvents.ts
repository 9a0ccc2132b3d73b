/**
 * Trigger events from stim channels, exactly as mne.find_events(stim_channel=one channel,
 * shortest_event=1, consecutive=True, initial_event=True) computes them (mne/event.py
 * `_find_events`, `_find_stim_steps`), but in one streaming pass: only the steps (samples where
 * the integer value changes) are kept, never the channel itself.
 *
 * MNE's rules reproduced: values are truncated to integers (astype(int64)); if any value is
 * negative the whole channel is taken in absolute value (steps between v and −v vanish); the
 * last step is padded with a return to 0 at the end; a non-zero first value is an event at
 * first_samp; with no step at all there is no event (MNE returns before padding); an orphan
 * offset at the start and an orphan onset at the end are dropped.
 *
 * Owns: the step bookkeeping. Must not: read files (it consumes [sample][channel] blocks).
 */

export interface StimEvent {
  /** Absolute sample (first_samp included), as MNE's events[:, 0]. */
  sample: number;
  /** Value before the step. */
  previous: number;
  /** Value after the step (the event id). */
  value: number;
}

interface Step { idx: number; pre: number; post: number }

/** Events per channel from SI blocks ([sample][channel], nChannels columns) covering the whole recording. */
export async function findStimEvents(blocks: AsyncIterable<Float64Array>, nChannels: number, firstSample: number): Promise<StimEvent[][]> {
  const steps: Step[][] = Array.from({ length: nChannels }, () => []);
  const last = new Float64Array(nChannels);
  const first = new Float64Array(nChannels);
  const negative = new Uint8Array(nChannels);
  let n = 0;
  for await (const block of blocks) {
    const rows = block.length / nChannels;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < nChannels; c++) {
        const v = Math.trunc(block[r * nChannels + c]);
        if (v < 0) negative[c] = 1;
        if (n === 0) first[c] = v;
        else if (v !== last[c]) steps[c].push({ idx: n + firstSample, pre: last[c], post: v });
        last[c] = v;
      }
      n++;
    }
  }
  return steps.map((s, c) => eventsFromSteps(s, negative[c] === 1, first[c], n, firstSample));
}

function eventsFromSteps(raw: Step[], anyNegative: boolean, firstValue: number, n: number, firstSample: number): StimEvent[] {
  let steps = raw;
  let initial = firstValue;
  if (anyNegative) {
    steps = raw.map((s) => ({ idx: s.idx, pre: Math.abs(s.pre), post: Math.abs(s.post) })).filter((s) => s.pre !== s.post);
    initial = Math.abs(firstValue);
  }
  if (steps.length === 0) return [];
  steps = steps.slice();
  const lastPost = steps[steps.length - 1].post;
  if (lastPost !== 0) steps.push({ idx: n + firstSample, pre: lastPost, post: 0 });
  if (initial !== 0) steps.unshift({ idx: firstSample, pre: 0, post: initial });
  const onsets: number[] = [];
  const offsets: number[] = [];
  steps.forEach((s, i) => {
    if (s.post > 0) onsets.push(i);
    if (s.pre > 0) offsets.push(i);
  });
  if (onsets.length === 0 || offsets.length === 0) return [];
  if (onsets[0] > offsets[0]) offsets.shift();
  if (offsets.length > 0 && onsets[onsets.length - 1] > offsets[offsets.length - 1]) onsets.pop();
  return onsets.map((i) => ({ sample: steps[i].idx, previous: steps[i].pre, value: steps[i].post }));
}
