/**
 * Figures from Vega-Lite specifications, rendered in Node without a browser: Vega-Lite compiles the
 * spec to Vega, a headless Vega view writes SVG, and resvg (Rust, shipped as a prebuilt binary in
 * its npm package) rasterises the SVG to PNG. Text is drawn with the system's fonts (DejaVu Sans
 * on Debian: `apt-get install fonts-dejavu-core`).
 *
 * Owns: compiling, rendering and writing figure files. Must not: decide what a figure shows
 * (experimentFigures.ts builds the specifications).
 */
import { Resvg } from '@resvg/resvg-js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../atomicFile.js';

/** The look every figure shares (fonts first: DejaVu is what resvg finds on Debian). */
export const FIGURE_CONFIG = {
  font: 'DejaVu Sans, Helvetica, Arial, sans-serif',
  background: 'white',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridOpacity: 0.5 },
  legend: { labelFontSize: 11, titleFontSize: 11 },
  title: { fontSize: 14, subtitleFontSize: 11, subtitleColor: '#555', anchor: 'start' },
} as const;

/** The SVG text of a Vega-Lite specification. */
export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = vegaLite.compile({ ...spec, config: { ...FIGURE_CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** PNG bytes of an SVG, at `scale` × its size (2 = sharp on high-density screens and in print). */
export function svgToPng(svg: string, scale = 2): Uint8Array {
  const r = new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: scale }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' } });
  return r.render().asPng();
}

export interface FigureFiles {
  svg: string;
  png: string;
}

/**
 * Renders `spec` to `<base>.svg` and `<base>.png` (folders created).
 * @example await writeFigure(spec, 'out/context') // out/context.svg, out/context.png
 */
export async function writeFigure(spec: TopLevelSpec, base: string): Promise<FigureFiles & { svgText: string }> {
  const svgText = await vegaLiteToSvg(spec);
  fs.mkdirSync(path.dirname(base), { recursive: true });
  writeFileAtomic(`${base}.svg`, svgText);
  writeFileAtomic(`${base}.png`, svgToPng(svgText));
  return { svg: `${base}.svg`, png: `${base}.png`, svgText };
}
