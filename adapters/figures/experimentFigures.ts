/**
 * The paper's figures as Vega-Lite specifications: temporal score against model size and against
 * context length (log x; one thin line per subject, the group mean ± SEM thick), the score per
 * surprisal quantile, and for one cell R(t) per layer beside Tmax against depth.
 *
 * Owns: what each figure shows and how it is labelled. Must not: render (render.ts) or compute
 * statistics (src/experiment/groupResults.ts gives the group rows).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ConditionScores } from '../../src/experiment/design.js';
import type { CellRow, GroupRow } from '../../src/experiment/groupResults.js';

const WIDTH = 460;
const HEIGHT = 280;
const SUBJECT_OPACITY = 0.35;

/** A series name when a figure has several (models in a context sweep, contexts in a size sweep). */
type SeriesOf = (r: { model: string; context: number; condition: string }) => string;

function subjectNote(rows: readonly CellRow[]): string {
  const n = new Set(rows.map((r) => r.subject)).size;
  return `thin lines: ${n} subject${n === 1 ? '' : 's'}; thick: group mean ± SEM`;
}

function groupData(groups: readonly GroupRow[], series: SeriesOf, x: (g: GroupRow) => number | string) {
  return groups.map((g) => ({
    x: x(g),
    series: series(g),
    model: g.model,
    mean: g.temporalScore.mean,
    lo: g.temporalScore.mean - (Number.isFinite(g.temporalScore.sem) ? g.temporalScore.sem : 0),
    hi: g.temporalScore.mean + (Number.isFinite(g.temporalScore.sem) ? g.temporalScore.sem : 0),
    nSubjects: g.nSubjects,
    nWords: g.nWords,
  }));
}

function sweepSpec(o: {
  title: string;
  rows: readonly CellRow[];
  groups: readonly GroupRow[];
  series: SeriesOf;
  seriesTitle: string;
  x: (r: CellRow | GroupRow) => number;
  xTitle: string;
  xScale: Record<string, unknown>;
  xAxis: Record<string, unknown>;
  labelPoints: boolean;
}): TopLevelSpec {
  const subjects = o.rows.map((r) => ({ x: o.x(r), y: r.temporalScore, subject: r.subject, series: o.series(r) }));
  const group = groupData(o.groups, o.series, o.x);
  const several = new Set(group.map((g) => g.series)).size > 1;
  const color = several ? { field: 'series', type: 'nominal', title: o.seriesTitle } : { value: '#1f5fa8' };
  const x = { field: 'x', type: 'quantitative', title: o.xTitle, scale: o.xScale, axis: o.xAxis };
  const y = { type: 'quantitative', title: 'temporal score r(Tmax, depth)', scale: { zero: false } };
  const layers: unknown[] = [
    { data: { values: subjects }, mark: { type: 'line', point: { size: 18 }, strokeWidth: 1, opacity: SUBJECT_OPACITY }, encoding: { x, y: { ...y, field: 'y' }, detail: { field: 'subject' }, color, tooltip: [{ field: 'subject' }, { field: 'x', title: o.xTitle }, { field: 'y', title: 'score', format: '.3f' }] } },
    { data: { values: group }, mark: { type: 'rule', strokeWidth: 2 }, encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color } },
    { data: { values: group }, mark: { type: 'line', point: { size: 60, filled: true }, strokeWidth: 3 }, encoding: { x, y: { ...y, field: 'mean' }, color, tooltip: [{ field: 'model' }, { field: 'x', title: o.xTitle }, { field: 'mean', format: '.3f' }, { field: 'nSubjects' }] } },
  ];
  if (o.labelPoints) layers.push({ data: { values: group }, mark: { type: 'text', dy: -12, fontSize: 10, color: '#333' }, encoding: { x, y: { ...y, field: 'hi' }, text: { field: 'model' } } });
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title: { text: o.title, subtitle: subjectNote(o.rows) }, width: WIDTH, height: HEIGHT, layer: layers } as TopLevelSpec;
}

/** A random-weights twin, as the model names give it (`family:s-untrained`, `builtin-untrained:2`). */
const isUntrainedTwin = (model: string) => /-untrained(:\d+)?$/.test(model);

/**
 * Temporal score against parameter count (log x). Trained models and their untrained twins (same
 * parameter count) are separate series, and so is each context when several.
 */
export function scoreVsSizeSpec(rows: readonly CellRow[], groups: readonly GroupRow[]): TopLevelSpec {
  const values = [...new Set(groups.map((g) => g.parameters))].sort((a, b) => a - b);
  const twins = groups.some((g) => isUntrainedTwin(g.model)) && groups.some((g) => !isUntrainedTwin(g.model));
  const contexts = new Set(groups.map((g) => g.context)).size > 1;
  const series: SeriesOf = (r) => {
    const weights = isUntrainedTwin(r.model) ? 'untrained twins' : 'trained';
    if (twins && contexts) return `${weights}, context ${r.context}`;
    return twins ? weights : `context ${r.context}`;
  };
  return sweepSpec({
    title: 'Temporal alignment vs model size',
    rows,
    groups,
    series,
    seriesTitle: twins ? 'weights' : 'context (words)',
    x: (r) => r.parameters,
    xTitle: 'parameters (log scale)',
    xScale: { type: 'log', nice: false, padding: 20 },
    xAxis: { values, format: '.2~s', labelAngle: 0 },
    labelPoints: true,
  });
}

/** Temporal score against context length (symmetric log x, so that 0 words has a place), one series per model when several. */
export function scoreVsContextSpec(rows: readonly CellRow[], groups: readonly GroupRow[]): TopLevelSpec {
  const values = [...new Set(groups.map((g) => g.context))].sort((a, b) => a - b);
  return sweepSpec({
    title: 'Temporal alignment vs context length',
    rows,
    groups,
    series: (r) => r.model,
    seriesTitle: 'model',
    x: (r) => r.context,
    xTitle: 'context (previous words, symmetric log scale)',
    xScale: { type: 'symlog', constant: 1, nice: false },
    xAxis: { values, format: 'd', labelAngle: 0 },
    labelPoints: false,
  });
}

/**
 * Temporal score per surprisal quantile (q1 = most predictable), with each quantile's word count.
 * @param missing quantiles that had no exact score in some cell (too few words), named in the subtitle
 */
export function scoreByQuantileSpec(rows: readonly CellRow[], groups: readonly GroupRow[], surprisal: Record<string, { low: number; high: number }>, missing: readonly string[] = []): TopLevelSpec {
  const label = (c: string) => {
    const s = surprisal[c];
    return s ? `${c} (${s.low.toFixed(1)}–${s.high.toFixed(1)} nats)` : c;
  };
  const rank = (c: string) => Number(c.slice(1));
  const order = [...new Set([...groups.map((g) => g.condition), ...missing])].sort((a, b) => rank(a) - rank(b)).map(label);
  const gaps = missing.length ? `; too few words for a score: ${missing.join(', ')}` : '';
  const subjects = rows.map((r) => ({ q: label(r.condition), y: r.temporalScore, subject: r.subject, model: r.model }));
  const group = groups.map((g) => ({ q: label(g.condition), model: g.model, mean: g.temporalScore.mean, lo: g.temporalScore.mean - (g.temporalScore.sem || 0), hi: g.temporalScore.mean + (g.temporalScore.sem || 0), words: `${g.nWords} words` }));
  const several = new Set(groups.map((g) => g.model)).size > 1;
  const color = several ? { field: 'model', type: 'nominal', title: 'model' } : { value: '#1f5fa8' };
  const x = { field: 'q', type: 'ordinal', sort: order, scale: { domain: order }, title: 'surprisal quantile (q1 = most predictable words)', axis: { labelAngle: 0 } };
  const y = { type: 'quantitative', title: 'temporal score r(Tmax, depth)', scale: { zero: false } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Temporal alignment by word predictability', subtitle: `${subjectNote(rows)}; labels: words decoded, all subjects${gaps}` },
    width: WIDTH,
    height: HEIGHT,
    layer: [
      { data: { values: subjects }, mark: { type: 'line', point: { size: 18 }, strokeWidth: 1, opacity: SUBJECT_OPACITY }, encoding: { x, y: { ...y, field: 'y' }, detail: { field: 'subject' }, color } },
      { data: { values: group }, mark: { type: 'rule', strokeWidth: 2 }, encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color } },
      { data: { values: group }, mark: { type: 'line', point: { size: 60, filled: true }, strokeWidth: 3 }, encoding: { x, y: { ...y, field: 'mean' }, color } },
      { data: { values: group }, mark: { type: 'text', dy: 14, fontSize: 10, color: '#333' }, encoding: { x, y: { ...y, field: 'lo' }, text: { field: 'words' } } },
    ],
  } as TopLevelSpec;
}

/**
 * A number that can be printed. A score is undefined (NaN) when every layer's Tmax is the same; a
 * stored or queued result carries it as null (JSON has no NaN).
 */
const finite = (v: number | null): v is number => typeof v === 'number' && Number.isFinite(v);

/** One cell: R(t) per layer (colour = relative depth) beside Tmax against depth with its fit. */
export function cellCurvesSpec(title: string, c: ConditionScores, times: readonly number[], depths: readonly number[]): TopLevelSpec {
  const curves = c.R.flatMap((row, l) => row.map((r, t) => ({ t: times[t], R: r, depth: depths[l] })));
  const tmax = c.tmax.map((t, l) => ({ depth: depths[l], tmax: t }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: `temporal score r = ${finite(c.temporalScore) ? c.temporalScore.toFixed(3) : 'undefined'} (p = ${finite(c.p) ? c.p.toPrecision(2) : '—'}), ${c.nWords} words, exact 5-fold` },
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
    hconcat: [
      {
        width: 360,
        height: 240,
        data: { values: curves },
        mark: { type: 'line', strokeWidth: 1.5 },
        encoding: {
          x: { field: 't', type: 'quantitative', title: 'time after word onset (s)' },
          y: { field: 'R', type: 'quantitative', title: 'decoding score R(t)' },
          color: { field: 'depth', type: 'quantitative', title: 'relative depth', scale: { scheme: 'viridis' } },
          detail: { field: 'depth' },
        },
      },
      {
        width: 220,
        height: 240,
        data: { values: tmax },
        layer: [
          { mark: { type: 'point', filled: true, size: 60 }, encoding: { x: { field: 'depth', type: 'quantitative', title: 'relative depth' }, y: { field: 'tmax', type: 'quantitative', title: 'Tmax (s)', scale: { zero: false } }, color: { field: 'depth', type: 'quantitative', scale: { scheme: 'viridis' }, legend: null } } },
          { mark: { type: 'line', color: '#888', strokeDash: [4, 3] }, transform: [{ regression: 'tmax', on: 'depth' }], encoding: { x: { field: 'depth', type: 'quantitative' }, y: { field: 'tmax', type: 'quantitative' } } },
        ],
      },
    ],
  } as TopLevelSpec;
}
