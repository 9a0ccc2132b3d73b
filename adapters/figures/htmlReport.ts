/**
 * An experiment's report as one self-contained HTML file: every parameter the run used, the figures
 * inline (SVG, so the file stands alone) with links to their SVG and PNG files, the group table
 * (mean ± SEM over subjects), every cell with a link to its R(t)/Tmax figure (with its surprisal
 * range for a quantile), every failed cell with its reason, and every condition of a finished cell
 * that has no exact score (a quantile with too few words) with its word count. No script, no external style sheet, no network.
 *
 * Owns: the page. Must not: compute anything shown on it.
 */
import type { CellRow, GroupRow } from '../../src/experiment/groupResults.js';

export interface ReportFigure {
  title: string;
  /** The SVG markup, inlined. */
  svgText: string;
  /** Paths relative to the report. */
  svg: string;
  png: string;
}

export interface ReportCell extends CellRow {
  /** A surprisal quantile's range (nats). */
  surprisal?: { low: number; high: number };
  seconds: number;
  reused: boolean;
  /** Relative path of the cell's figure (PNG), when drawn. */
  figure?: string;
}

export interface ReportInput {
  title: string;
  /** Every parameter of the run, shown as given. */
  parameters: Record<string, unknown>;
  notes: string[];
  figures: ReportFigure[];
  groups: GroupRow[];
  cells: ReportCell[];
  failed: { label: string; reason: string; attempts: number }[];
  /** Conditions of finished cells with no exact score. */
  missing?: { label: string; nWords: number; reason: string }[];
}

function esc(s: unknown): string {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function num(v: number, digits = 3): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '—';
}

function paramValue(v: unknown): string {
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ');
  if (v && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

const STYLE = `
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.note { background: #fff8e0; border-left: 4px solid #e0b000; padding: 0.5em 1em; margin: 0.5em 0; }
figure { margin: 1em 0; } figcaption { font-size: 0.85em; color: #555; }
.failed td { background: #fdecec; }
`;

export function experimentReportHtml(r: ReportInput): string {
  const params = Object.entries(r.parameters)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(paramValue(v))}</td></tr>`)
    .join('\n');
  const figures = r.figures
    .map((f) => `<figure>${f.svgText}<figcaption>${esc(f.title)} — <a href="${esc(f.svg)}">SVG</a> · <a href="${esc(f.png)}">PNG</a></figcaption></figure>`)
    .join('\n');
  const groups = r.groups
    .map((g) => `<tr><td>${esc(g.model)}</td><td class="n">${g.parameters.toLocaleString('en')}</td><td class="n">${g.context}</td><td>${esc(g.condition)}</td><td class="n">${g.nSubjects}</td><td class="n">${num(g.temporalScore.mean)}</td><td class="n">${num(g.temporalScore.sem)}</td><td class="n">${g.tmax.map((t) => num(t.mean)).join(' ')}</td><td class="n">${g.nWords}</td></tr>`)
    .join('\n');
  const quantiles = r.cells.some((c) => c.surprisal);
  const surprisal = (c: ReportCell) => (quantiles ? `<td class="n">${c.surprisal ? `${num(c.surprisal.low, 2)}–${num(c.surprisal.high, 2)}` : ''}</td>` : '');
  const cells = r.cells
    .map((c) => `<tr><td>${esc(c.subject)}</td><td>${esc(c.model)}</td><td class="n">${c.context}</td><td>${esc(c.condition)}</td>${surprisal(c)}<td class="n">${num(c.temporalScore)}</td><td class="n">${Number.isFinite(c.p) ? c.p.toPrecision(2) : '—'}</td><td class="n">${c.tmax.map((t) => num(t)).join(' ')}</td><td class="n">${c.nWords}</td><td class="n">${c.reused ? 'reused' : `${c.seconds.toFixed(1)} s`}</td><td>${c.figure ? `<a href="${esc(c.figure)}">R(t), Tmax</a>` : ''}</td></tr>`)
    .join('\n');
  const failed = r.failed.length
    ? `<h2>Failed cells</h2><table class="failed"><tr><th>cell</th><th>attempts</th><th>reason</th></tr>${r.failed.map((f) => `<tr><td>${esc(f.label)}</td><td class="n">${f.attempts}</td><td>${esc(f.reason)}</td></tr>`).join('\n')}</table>`
    : '';
  const missing = r.missing?.length
    ? `<h2>Conditions without an exact score</h2><table class="failed"><tr><th>cell, condition</th><th>words</th><th>reason</th></tr>${r.missing.map((m) => `<tr><td>${esc(m.label)}</td><td class="n">${m.nWords}</td><td>${esc(m.reason)}</td></tr>`).join('\n')}</table>`
    : '';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.title)}</title><style>${STYLE}</style></head>
<body>
<h1>${esc(r.title)}</h1>
${r.notes.map((n) => `<p class="note">${esc(n)}</p>`).join('\n')}
<h2>Figures</h2>
${figures}
<h2>Group results (mean ± SEM over subjects)</h2>
<table><tr><th>model</th><th>parameters</th><th>context</th><th>condition</th><th>subjects</th><th>temporal score</th><th>SEM</th><th>Tmax per layer (s, mean)</th><th>words</th></tr>
${groups}
</table>
<h2>Cells</h2>
<table><tr><th>subject</th><th>model</th><th>context</th><th>condition</th>${quantiles ? '<th>surprisal (nats)</th>' : ''}<th>temporal score</th><th>p</th><th>Tmax per layer (s)</th><th>words</th><th>time</th><th>figure</th></tr>
${cells}
</table>
${failed}
${missing}
<h2>Parameters</h2>
<table>
${params}
</table>
</body></html>
`;
}
