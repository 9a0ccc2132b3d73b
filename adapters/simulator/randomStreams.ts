/**
 * The simulator's random sub-streams: one label per kind of draw, so that no two components of
 * the simulated subject share random numbers (a component's keys are subKey(seed, label, …)).
 *
 * Owns: the labels, in one list so that a new component cannot reuse one by accident. Must not:
 * renumber them (a label is part of the data: changing it changes every subject's output).
 */
export const STREAM = {
  projection: 1,
  evokedPattern: 2,
  backgroundPattern: 3,
  background: 4,
  alphaPattern: 5,
  alphaEnvelope: 6,
  alphaPhase: 7,
  channelPink: 8,
  drift: 9,
  white: 10,
  mains: 11,
  blink: 12,
  step: 13,
  shuffle: 14,
  gain: 15,
  alphaFrequency: 16,
} as const;
