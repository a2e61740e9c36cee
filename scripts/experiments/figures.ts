/**
 * Redraws every chart of reports/figures/ from saved data, without training anything, and renders
 * every SVG there to PNG under reports/figures/png/ for viewing (resvg, the system's fonts).
 *
 *   npx ts-node --transpile-only scripts/experiments/figures.ts
 *
 * Most charts come from the per-epoch records in reports/raw/*.json. Five figures' data was never
 * saved by the experiments (the confusion matrices, the 2-D latent codes, the latent histogram,
 * the zero-init, conv-variant and conv-autoencoder curves): the first time, this script reads it
 * back from the SVG those runs drew (counts exactly; curve and point positions to the drawing's
 * 0.1 px, scaled by its tick labels' 3 significant digits) and saves it in
 * reports/raw/recovered/*.json, which later runs read instead.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Resvg } from '@resvg/resvg-js';
import { confusionMatrixSvg, meanBandSeries, panelsSvg, scatterSvg, writeFigure, CLASS_COLORS } from '../../lib/report/figures';
import { Marker, Series } from '../../lib/plot';
import { EpochRecord } from '../../lib/logger';

const REPORTS = path.join(__dirname, '..', '..', 'reports');
const FIGURES = path.join(REPORTS, 'figures');
const RECOVERED = path.join(REPORTS, 'raw', 'recovered');

function readJson<T>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(REPORTS, 'raw', name), 'utf8')) as T;
}

function figure(name: string, svg: string): void {
  writeFigure(path.join(FIGURES, name), svg);
  process.stdout.write(`figure: reports/figures/${name}\n`);
}

// ---------------------------------------------------------------------------------------------
// Reading back the data of figures drawn by the earlier, hand-written charts.

interface RecoveredPanel {
  title: string;
  series: { name: string; values: (number | null)[] }[];
}

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

interface RecoveredConfusion {
  title: string;
  classNames: string[];
  matrix: number[][];
}

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

interface RecoveredScatter {
  title: string;
  classNames: string[];
  /** (n, 2) row-major. */
  xy: number[];
  labels: number[];
}

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

/** The saved data of figure `name`, read back from its old drawing the first time. */
function recovered<T>(name: string, read: (svg: string) => T): T {
  const file = path.join(RECOVERED, `${name}.json`);
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  const svg = fs.readFileSync(path.join(FIGURES, `${name}.svg`), 'utf8');
  const value = read(svg);
  writeFigure(file, `${JSON.stringify({ source: `reports/figures/${name}.svg as the experiment drew it`, data: value })}\n`);
  return value;
}

function recoveredData<T>(name: string, read: (svg: string) => T): T {
  const v = recovered<T | { data: T }>(name, read);
  return (v as { data?: T }).data ?? (v as T);
}

// ---------------------------------------------------------------------------------------------

const asSeries = (p: RecoveredPanel): Series[] => p.series.map((s) => ({ name: s.name, values: s.values.map((v) => v ?? undefined) }));

function curvesOf<R extends { history: EpochRecord[] }>(runs: R[], name: (r: R) => string, key: keyof EpochRecord): Series[] {
  return runs.map((r) => ({ name: name(r), values: r.history.map((e) => e[key] as number | undefined) }));
}

function main(): void {
  // Item 3 — activations.
  const act = readJson<{ name: string; history: EpochRecord[] }[]>('fashion-activations.json');
  figure(
    'fashion-activations-curves.svg',
    panelsSvg(
      [
        {
          series: curvesOf(act, (r) => r.name.split(' ')[0], 'trainLoss'),
          options: { title: 'Training cross-entropy', xLabel: 'epoch', yLabel: 'cross-entropy per sample' },
        },
        {
          series: curvesOf(act, (r) => r.name.split(' ')[0], 'valAccuracy'),
          options: { title: 'Test accuracy', xLabel: 'epoch', yLabel: 'accuracy', percent: true },
        },
      ],
      2,
    ),
  );

  // Item 5 — autoencoders.
  const ae = readJson<{ name: string; history: EpochRecord[] }[]>('fashion-autoencoders.json');
  figure(
    'ae-curves.svg',
    panelsSvg(
      [
        { series: curvesOf(ae, (r) => r.name, 'trainLoss'), options: { title: 'Training BCE', xLabel: 'epoch', yLabel: 'BCE per image' } },
        { series: curvesOf(ae, (r) => r.name, 'valLoss'), options: { title: 'Test BCE', xLabel: 'epoch', yLabel: 'BCE per image' } },
      ],
      2,
    ),
  );
  const hist = recoveredData('ae-latent-histogram', recoverLineCharts)[0];
  const bins = hist.series[0].values.length;
  figure(
    'ae-latent-histogram.svg',
    panelsSvg(
      [
        {
          series: asSeries(hist),
          options: {
            title: 'Latent (TanH) activations over the test set',
            x: Array.from({ length: bins }, (_, b) => -1 + ((b + 0.5) * 2) / bins),
            xLabel: `activation (bin centres, ${bins} bins of width 2/${bins})`,
            yLabel: '% of activations',
          },
        },
      ],
      1,
      760,
    ),
  );

  // Item 1 — initialisation; item 2 — learning rate: losses spanning decades on a log axis.
  const init = readJson<{ init: string; history: EpochRecord[] }[]>('fashion-init.json');
  figure(
    'fashion-init-curves.svg',
    panelsSvg(
      [
        {
          series: curvesOf(init, (r) => r.init, 'trainLoss'),
          options: { title: 'Training BCE (log scale)', xLabel: 'epoch', yLabel: 'BCE per sample', yScale: 'log' },
        },
        {
          series: curvesOf(init, (r) => r.init, 'valAccuracy'),
          options: { title: 'Test accuracy', xLabel: 'epoch', yLabel: 'accuracy', percent: true },
        },
      ],
      2,
    ),
  );
  const conf = recoveredData('fashion-init-confusion', recoverConfusion);
  figure('fashion-init-confusion.svg', confusionMatrixSvg(conf.matrix, { title: conf.title, classNames: conf.classNames }));
  const lr = readJson<{ lr: number; history: EpochRecord[] }[]>('fashion-lr.json');
  figure(
    'fashion-lr-curves.svg',
    panelsSvg(
      [
        {
          series: curvesOf(lr, (r) => `lr ${r.lr}`, 'trainLoss'),
          options: { title: 'Training BCE (log scale)', xLabel: 'epoch', yLabel: 'BCE per sample', yScale: 'log' },
        },
        {
          series: curvesOf(lr, (r) => `lr ${r.lr}`, 'valAccuracy'),
          options: { title: 'Test accuracy', xLabel: 'epoch', yLabel: 'accuracy', percent: true },
        },
      ],
      2,
    ),
  );

  // Item 6 — latent space, denoising, convolutional autoencoder.
  const sc = recoveredData('latent-2d', recoverScatter);
  figure('latent-2d.svg', scatterSvg(sc.xy, sc.labels, { title: sc.title, classNames: sc.classNames, xLabel: 'z₁', yLabel: 'z₂' }));
  const latent = readJson<{ denoiseRows: (string | number)[][] }>('fashion-latent.json');
  const levels = latent.denoiseRows.map((r) => Number(r[0]));
  const col = (k: number): number[] => latent.denoiseRows.map((r) => Number(r[k]));
  figure(
    'denoise-curve.svg',
    panelsSvg(
      [
        {
          series: [
            { name: 'noisy input', values: col(1), dashed: true },
            { name: 'plain AE', values: col(2) },
            { name: 'denoising AE (trained at σ 0.3)', values: col(3) },
          ],
          options: { title: 'Reconstruction error against the clean image', x: levels, xLabel: 'noise σ', yLabel: 'MSE per pixel' },
        },
      ],
      1,
      720,
    ),
  );
  const convAe = recoveredData('conv-ae-curves', recoverLineCharts)[0];
  figure(
    'conv-ae-curves.svg',
    panelsSvg([{ series: asSeries(convAe), options: { title: convAe.title, xLabel: 'epoch', yLabel: 'test BCE per image' } }], 1, 720),
  );

  // Item 4 — the headline CNN: ten seeds as a mean with a ± 1 std band, per protocol.
  for (const name of ['usps-headline', 'usps-headline-final']) {
    const runs = readJson<{ protocol: string; bestEpoch: number; epochs: number; history: EpochRecord[] }[]>(`${name}.json`);
    const band = (p: string, key: 'valAccuracy' | 'valLoss', label: string, color: string): Series =>
      meanBandSeries(
        label,
        runs.filter((r) => r.protocol === p).map((r) => r.history.map((e) => e[key])),
        color,
      );
    const seeds = runs.filter((r) => r.protocol === 'honest').length;
    const markers: Marker[] = [];
    const fixedBudget = runs.every((r) => r.bestEpoch === r.epochs && r.epochs === runs[0].epochs);
    if (fixedBudget) markers.push({ x: runs[0].epochs - 30 + 1, label: 'weight averaging from here', color: '#555' });
    else {
      const best = runs.map((r) => r.bestEpoch).sort((a, b) => a - b);
      markers.push({
        x: best[Math.floor(best.length / 2)],
        label: `median best epoch (${best[Math.floor(best.length / 2)]})`,
        color: '#555',
      });
    }
    const opts = { xLabel: 'epoch', markers };
    figure(
      `${name}-curves.svg`,
      panelsSvg(
        [
          {
            series: [
              band('original', 'valAccuracy', '(i) 33 % hold-out', '#1f77b4'),
              band('honest', 'valAccuracy', '(ii) 15 % validation', '#d62728'),
            ],
            options: { ...opts, title: `Held-out accuracy, mean ± std over ${seeds} seeds`, yLabel: 'accuracy', percent: true },
          },
          {
            series: [
              band('original', 'valLoss', '(i) 33 % hold-out', '#1f77b4'),
              band('honest', 'valLoss', '(ii) 15 % validation', '#d62728'),
            ],
            options: { ...opts, title: `Held-out loss, mean ± std over ${seeds} seeds`, yLabel: 'loss per sample' },
          },
        ],
        2,
      ),
    );
  }
  for (const name of ['usps-headline-confusion', 'usps-headline-final-confusion']) {
    const c = recoveredData(name, recoverConfusion);
    figure(`${name}.svg`, confusionMatrixSvg(c.matrix, { title: c.title, classNames: c.classNames }));
  }
  const zero = recoveredData('usps-zero-init', recoverLineCharts);
  figure(
    'usps-zero-init.svg',
    panelsSvg(
      [
        { series: asSeries(zero[0]), options: { title: 'Training loss (fig. 4)', xLabel: 'epoch', yLabel: 'loss per sample' } },
        { series: asSeries(zero[1]), options: { title: 'USPS_test accuracy', xLabel: 'epoch', yLabel: 'accuracy (%)' } },
      ],
      2,
    ),
  );
  const variants = recoveredData('usps-conv-variants', recoverLineCharts);
  figure(
    'usps-conv-variants.svg',
    panelsSvg(
      variants.map((p) => ({
        // The sweep's value with its unit: '4 maps', 'k 3', 'batch 8'.
        series: asSeries(p).map((s) => ({ ...s, name: s.name.replace(/^feature (\d+)$/, '$1 maps').replace(/^kernel (\d+)$/, 'k $1') })),
        options: {
          title: p.title.replace(': validation accuracy (%) per epoch, seed 0', ' (seed 0)'),
          xLabel: 'epoch',
          yLabel: 'validation accuracy (%)',
        },
      })),
      2,
    ),
  );

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
