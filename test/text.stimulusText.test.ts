/** Stimulus text files and events words → stories and StimulusWord lists. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  builtinStory,
  decodeStimulusBytes,
  readStimulusText,
  splitStories,
  stimulusFromEvents,
  stimulusFromStories,
} from '../adapters/text/stimulusText.js';
import { tempDir } from './helpers/paths.js';

describe('stimulus text', () => {
  it('reads UTF-8 with a BOM and CRLF, normalises to NFC, and splits stories at === lines', () => {
    const dir = tempDir('stim');
    const file = path.join(dir, 'stories.txt');
    const body = '\uFEFF=== A Scandal in Bohemia ===\r\nTo Sherlock Holmes she is always the woman.\r\n\r\n=== The Red-Headed League ===\r\nA cafe\u0301, he said.\r\n';
    fs.writeFileSync(file, body, 'utf8');
    const stories = readStimulusText([file]);
    assert.deepEqual(stories.map((s) => [s.story, s.title, s.source]), [
      [0, 'A Scandal in Bohemia', `${file}:2`],
      [1, 'The Red-Headed League', `${file}:5`],
    ]);
    assert.equal(stories[0]!.text, 'To Sherlock Holmes she is always the woman.');
    assert.equal(stories[1]!.text, 'A caf\u00e9, he said.');
    const { words, texts } = stimulusFromStories(stories);
    assert.deepEqual(words.slice(-4).map((w) => [w.index, w.word, w.story]), [[8, 'A', 1], [9, 'café', 1], [10, 'he', 1], [11, 'said', 1]]);
    assert.equal(texts.get(1), stories[1]!.text);
  });

  it('treats each file as a new story and text before the first marker as a story', () => {
    const dir = tempDir('stim');
    fs.writeFileSync(path.join(dir, 'a.txt'), 'First story.\n');
    fs.writeFileSync(path.join(dir, 'b.txt'), 'Preface.\n======\nSecond part.\n');
    const stories = readStimulusText([path.join(dir, 'a.txt'), path.join(dir, 'b.txt')]);
    assert.deepEqual(stories.map((s) => [s.story, s.text]), [[0, 'First story.'], [1, 'Preface.'], [2, 'Second part.']]);
    assert.equal(builtinStory().text.slice(0, 16), 'Call me Ishmael.');
  });

  it('names the file and position of bad input', () => {
    assert.throws(() => decodeStimulusBytes(Uint8Array.from([0x41, 0x42, 0xc3, 0x28, 0x43]), 'x.txt'), /x.txt: not valid UTF-8 near byte 2/);
    assert.throws(() => splitStories('=== Empty ===\n\n=== Next ===\ntext', 'y.txt'), /y.txt:1: story "Empty" has no text/);
    assert.throws(() => splitStories('\n\n', 'z.txt'), /z.txt: no text/);
    assert.throws(() => readStimulusText(['/nonexistent/stim.txt']), /\/nonexistent\/stim.txt: cannot read the stimulus text/);
  });

  it('turns events words into stimulus words, one story per run', () => {
    const events = [
      { word: 'SHERLOCK', onsetSec: 1.0, run: 1 },
      { word: 'sp', onsetSec: 1.3, run: 1 },
      { word: '"DON\'T"', onsetSec: 1.5, run: 1 },
      { word: 'HOLMES', onsetSec: 0.5, run: 2 },
    ];
    const s = stimulusFromEvents(events, [{ story: 0, title: '', text: "Sherlock: don't.", source: 't' }]);
    assert.deepEqual(s.words, [
      { index: 0, word: 'SHERLOCK', story: 0 },
      { index: 1, word: "DON'T", story: 0 },
      { index: 2, word: 'HOLMES', story: 1 },
    ]);
    assert.deepEqual(s.runOfStory, [1, 2]);
    assert.deepEqual([...s.texts], [[0, "Sherlock: don't."]]);
    assert.throws(() => stimulusFromEvents([...events, { word: 'AGAIN', onsetSec: 9, run: 1 }]), /run 1 resumes after run 2/);
    const t = { story: 0, title: '', text: 'x', source: 't' };
    assert.throws(() => stimulusFromEvents(events, [t, t, t]), /3 story texts for 2 runs/);
  });
});
