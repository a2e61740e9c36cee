/**
 * Redraws every chart of reports/figures/ from saved data, without training anything, and renders
 * every SVG there to PNG under reports/figures/png/ for viewing (resvg, the system's fonts).
 *
 *   npx ts-node --transpile-only scripts/experiments/figures.ts
 *
 * Most charts come from the per-epoch records in reports/raw/*.json, the others from
 * reports/raw/figure-data/*.json, which the experiments now write. The runs that made today's
 * figures did not save that data (the confusion matrices, the 2-D latent codes, the latent
 * histogram, the zero-init, conv-variant and conv-autoencoder curves): it was read back from the
 * SVG they drew (counts exactly; curve and point positions to the drawing's 0.1 px, scaled by its
 * tick labels' 3 significant digits), and each file says so in its `source`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Resvg } from '@resvg/resvg-js';
import { writeFigure, CLASS_COLORS } from '../../lib/report/figures';
import { EpochRecord } from '../../lib/logger';
import * as charts from './charts';
import { ConfusionData, LineData, ScatterData, REPORTS, loadFigureData, saveFigureData } from './charts';

const FIGURES = path.join(REPORTS, 'figures');

function readJson<T>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(REPORTS, 'raw', name), 'utf8')) as T;
}

function figure(name: string, svg: string): void {
  writeFigure(path.join(FIGURES, name), svg);
  process.stdout.write(`figure: reports/figures/${name}\n`);
}

// ---------------------------------------------------------------------------------------------
// Reading back the data of figures drawn by the earlier, hand-written charts.

type RecoveredPanel = LineData;

const num = (s: string): number => Number(s.replace('−', '-'));
const unescape = (s: string): string =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

/** Least-squares line v = a + b·y through the tick labels (y pixel, value). */
function fitAxis(points: [number, number][]): (y: number) => number {
  const n = points.length;
  const my = points.reduce((a, p) => a + p[0], 0) / n;
  const mv = points.reduce((a, p) => a + p[1], 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [y, v] of points) {
    sxy += (y - my) * (v - mv);
    sxx += (y - my) ** 2;
  }
  const b = sxy / sxx;
  return (y) => mv + b * (y - my);
}

/** The panels of a multi-panel line chart drawn by the old lineChartSvg (inside panelsSvg). */
function recoverLineCharts(svg: string): RecoveredPanel[] {
  const panels: RecoveredPanel[] = [];
  for (const m of svg.matchAll(/<svg x="\d+" y="\d+" [^>]*>([\s\S]*?)<\/svg>/g)) {
    const body = m[1];
    const title = unescape(/font-size="14">([^<]*)<\/text>/.exec(body)?.[1] ?? '');
    const frame = /<rect x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)" fill="none"/.exec(body);
    if (!frame) throw new Error(`no plot frame in panel '${title}'`);
    const [left, , plotW] = [num(frame[1]), num(frame[2]), num(frame[3])];
    const ticks = [...body.matchAll(/<text x="[\d.]+" y="([\d.]+)" text-anchor="end" dominant-baseline="middle">([^<]*)<\/text>/g)].map(
      (t) => [num(t[1]), num(t[2])] as [number, number],
    );
    const value = fitAxis(ticks);
    const xLabels = [...body.matchAll(/<text x="[\d.]+" y="\d+" text-anchor="middle">(\d+)<\/text>/g)].map((t) => num(t[1]));
    const n = Math.max(...xLabels);
    const names = new Map<string, string>();
    for (const l of body.matchAll(
      /<line [^>]*stroke="(#[0-9a-f]+)" stroke-width="2"\/>\n<text [^>]*dominant-baseline="middle">([^<]*)<\/text>/g,
    )) {
      names.set(l[1], unescape(l[2]));
    }
    const series: RecoveredPanel['series'] = [];
    for (const [color, name] of names) {
      const values: (number | null)[] = new Array<number | null>(n).fill(null);
      const d = new RegExp(`<path d="([^"]*)" fill="none" stroke="${color}"`).exec(body)?.[1] ?? '';
      for (const p of d.matchAll(/[ML]([\d.]+),([\d.]+)/g)) {
        const i = n === 1 ? 0 : Math.round(((num(p[1]) - left) / plotW) * (n - 1));
        values[i] = Number(value(num(p[2])).toPrecision(4));
      }
      series.push({ name, values });
    }
    panels.push({ title, series });
  }
  return panels;
}

type RecoveredConfusion = ConfusionData;

/** Counts, class names and title of a confusion matrix drawn by confusionMatrixSvg. */
function recoverConfusion(svg: string): RecoveredConfusion {
  const title = unescape(/font-size="14">([^<]*)<\/text>/.exec(svg)?.[1] ?? '').replace(/ \(accuracy [\d.]+ %\)$/, '');
  const cells = [
    ...svg.matchAll(
      /<rect x="(\d+)" y="(\d+)" width="(\d+)" height="\d+" fill="rgb[^"]*" stroke="[^"]*"\/>(\n<text [^>]*>(\d+)<\/text>)?/g,
    ),
  ];
  const cell = num(cells[0][3]);
  const xs = [...new Set(cells.map((c) => num(c[1])))].sort((a, b) => a - b);
  const ys = [...new Set(cells.map((c) => num(c[2])))].sort((a, b) => a - b);
  const matrix = ys.map(() => xs.map(() => 0));
  for (const c of cells) {
    const i = Math.round((num(c[2]) - ys[0]) / cell);
    const j = Math.round((num(c[1]) - xs[0]) / cell);
    matrix[i][j] = c[5] === undefined ? 0 : num(c[5]);
  }
  const classNames = [...svg.matchAll(/<text x="\d+" y="[\d.]+" text-anchor="end" dominant-baseline="middle">([^<]*)<\/text>/g)].map((t) =>
    unescape(t[1]),
  );
  return { title, classNames, matrix };
}

type RecoveredScatter = ScatterData;

/** Points (in data units), classes and title of a scatter plot drawn by the old scatterSvg. */
function recoverScatter(svg: string): RecoveredScatter {
  const title = unescape(/font-size="14">([^<]*)<\/text>/.exec(svg)?.[1] ?? '');
  const frame = /<rect x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)" fill="none"/.exec(svg);
  if (!frame) throw new Error('no scatter frame');
  const [left, top, pw, ph] = [1, 2, 3, 4].map((k) => num(frame[k]));
  const labels = [...svg.matchAll(/<text x="\d+" y="\d+" text-anchor="(?:middle|end)">([^<]*)<\/text>/g)].map((t) => num(t[1]));
  const [x0, x1, y0, y1] = labels;
  const xy: number[] = [];
  const classes: number[] = [];
  for (const c of svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)" r="2" fill="(#[0-9a-f]+)"/g)) {
    xy.push(Number((x0 + ((num(c[1]) - left) / pw) * (x1 - x0)).toPrecision(4)));
    xy.push(Number((y0 + ((top + ph - num(c[2])) / ph) * (y1 - y0)).toPrecision(4)));
    classes.push(CLASS_COLORS.indexOf(c[3]));
  }
  const classNames = [...svg.matchAll(/<text x="\d+" y="\d+" dominant-baseline="middle">([^<]*)<\/text>/g)].map((t) => unescape(t[1]));
  return { title, classNames, xy, labels: classes };
}

/** The saved data of figure `name`; the first time, read back from the drawing its experiment made. */
function figureData<T>(name: string, read: (svg: string) => T): T {
  const saved = loadFigureData<T>(name);
  if (saved !== undefined) return saved;
  const value = read(fs.readFileSync(path.join(FIGURES, `${name}.svg`), 'utf8'));
  saveFigureData(name, `read back from reports/figures/${name}.svg as the experiment drew it`, value);
  return value;
}

function main(): void {
  figure(
    'fashion-activations-curves.svg',
    charts.activationCurves(readJson<{ name: string; history: EpochRecord[] }[]>('fashion-activations.json')),
  );
  figure('ae-curves.svg', charts.autoencoderCurves(readJson<{ name: string; history: EpochRecord[] }[]>('fashion-autoencoders.json')));
  figure('ae-latent-histogram.svg', charts.latentHistogram(figureData('ae-latent-histogram', recoverLineCharts)[0]));
  figure(
    'fashion-init-curves.svg',
    charts.bceCurves(readJson<{ init: string; history: EpochRecord[] }[]>('fashion-init.json'), (r) => r.init),
  );
  figure('fashion-init-confusion.svg', charts.confusion(figureData('fashion-init-confusion', recoverConfusion)));
  figure(
    'fashion-lr-curves.svg',
    charts.bceCurves(readJson<{ lr: number; history: EpochRecord[] }[]>('fashion-lr.json'), (r) => `lr ${r.lr}`),
  );
  figure('latent-2d.svg', charts.latentScatter(figureData('latent-2d', recoverScatter)));
  figure(
    'denoise-curve.svg',
    charts.denoiseCurve(readJson<{ denoiseRows: (string | number)[][] }>('fashion-latent.json').denoiseRows, 0.3),
  );
  figure('conv-ae-curves.svg', charts.convAutoencoderCurves(figureData('conv-ae-curves', recoverLineCharts)[0]));
  for (const name of ['usps-headline', 'usps-headline-final']) {
    figure(`${name}-curves.svg`, charts.headlineCurves(readJson(`${name}.json`)));
  }
  for (const name of ['usps-headline-confusion', 'usps-headline-final-confusion']) {
    figure(`${name}.svg`, charts.confusion(figureData(name, recoverConfusion)));
  }
  figure('usps-zero-init.svg', charts.zeroInitCurves(figureData('usps-zero-init', recoverLineCharts)));
  figure('usps-conv-variants.svg', charts.convVariantCurves(figureData('usps-conv-variants', recoverLineCharts)));
  const convAe2d = loadFigureData<charts.SeedCurves[]>('conv-ae-2d-curves');
  if (convAe2d) {
    const seeds = convAe2d[0]?.series[0]?.runs.length ?? 0;
    figure('conv-ae-2d-curves.svg', charts.seedBandCurves(convAe2d, `BCE per image, mean ± std over ${seeds} seeds`));
  }

  // PNG renders of every SVG, for looking at them.
  for (const f of fs
    .readdirSync(FIGURES)
    .filter((n) => n.endsWith('.svg'))
    .sort()) {
    const svg = fs.readFileSync(path.join(FIGURES, f), 'utf8');
    const png = new Resvg(svg, { background: 'white', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
    writeFigure(path.join(FIGURES, 'png', f.replace(/\.svg$/, '.png')), png);
  }
  process.stdout.write('PNG renders: reports/figures/png/\n');
}

main();
