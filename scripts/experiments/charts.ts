/**
 * The report's charts, drawn from their data: the experiments call these as they finish, and
 * scripts/experiments/figures.ts calls them again from the saved data to redraw every figure
 * without training. Data that reports/raw/<experiment>.json does not hold is saved by
 * {@link saveFigureData} in reports/raw/figure-data/<figure>.json.
 */
import * as fs from 'fs';
import * as path from 'path';
import { confusionMatrixSvg, meanBandSeries, panelsSvg, scatterSvg, writeFigure } from '../../lib/report/figures';
import { Marker, Series } from '../../lib/plot';
import { EpochRecord } from '../../lib/logger';

export const REPORTS = path.join(__dirname, '..', '..', 'reports');
export const FIGURE_DATA = path.join(REPORTS, 'raw', 'figure-data');

/** The curves of one line-chart panel. */
export interface LineData {
  title: string;
  series: { name: string; values: (number | null)[] }[];
}

/** A confusion matrix `matrix[actual][predicted]`. */
export interface ConfusionData {
  title: string;
  classNames: string[];
  matrix: number[][];
}

/** Points of a 2-D scatter plot. */
export interface ScatterData {
  title: string;
  classNames: string[];
  /** (n, 2) row-major. */
  xy: number[];
  labels: number[];
}

/** Saves the data figure `name` is drawn from, with where it came from. */
export function saveFigureData(name: string, source: string, data: unknown): void {
  writeFigure(path.join(FIGURE_DATA, `${name}.json`), `${JSON.stringify({ source, data })}\n`);
}

/** The saved data of figure `name`, or undefined. */
export function loadFigureData<T>(name: string): T | undefined {
  const file = path.join(FIGURE_DATA, `${name}.json`);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { data: T }).data : undefined;
}

const asSeries = (p: LineData): Series[] => p.series.map((s) => ({ name: s.name, values: s.values.map((v) => v ?? undefined) }));

function curvesOf<R extends { history: EpochRecord[] }>(runs: readonly R[], name: (r: R) => string, key: keyof EpochRecord): Series[] {
  return runs.map((r) => ({ name: name(r), values: r.history.map((e) => e[key] as number | undefined) }));
}

/** Item 3: training cross-entropy and test accuracy per epoch for each activation. */
export function activationCurves(runs: readonly { name: string; history: EpochRecord[] }[]): string {
  const name = (r: { name: string }): string => r.name.split(' ')[0];
  return panelsSvg(
    [
      {
        series: curvesOf(runs, name, 'trainLoss'),
        options: { title: 'Training cross-entropy', xLabel: 'epoch', yLabel: 'cross-entropy per sample' },
      },
      {
        series: curvesOf(runs, name, 'valAccuracy'),
        options: { title: 'Test accuracy', xLabel: 'epoch', yLabel: 'accuracy', percent: true },
      },
    ],
    2,
  );
}

/** Item 5: training and test BCE per image for each autoencoder. */
export function autoencoderCurves(runs: readonly { name: string; history: EpochRecord[] }[]): string {
  const name = (r: { name: string }): string => r.name;
  return panelsSvg(
    [
      { series: curvesOf(runs, name, 'trainLoss'), options: { title: 'Training BCE', xLabel: 'epoch', yLabel: 'BCE per image' } },
      { series: curvesOf(runs, name, 'valLoss'), options: { title: 'Test BCE', xLabel: 'epoch', yLabel: 'BCE per image' } },
    ],
    2,
  );
}

/** Item 5: % of the latent activations per bin over [−1, 1]. */
export function latentHistogram(hist: LineData): string {
  const bins = hist.series[0]?.values.length ?? 0;
  return panelsSvg(
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
  );
}

/** Items 1 and 2: training BCE on a log axis and test accuracy, one curve per run. */
export function bceCurves<R extends { history: EpochRecord[] }>(runs: readonly R[], name: (r: R) => string): string {
  return panelsSvg(
    [
      {
        series: curvesOf(runs, name, 'trainLoss'),
        options: { title: 'Training BCE (log scale)', xLabel: 'epoch', yLabel: 'BCE per sample', yScale: 'log' },
      },
      {
        series: curvesOf(runs, name, 'valAccuracy'),
        options: { title: 'Test accuracy', xLabel: 'epoch', yLabel: 'accuracy', percent: true },
      },
    ],
    2,
  );
}

export function confusion(c: ConfusionData): string {
  return confusionMatrixSvg(c.matrix, { title: c.title, classNames: c.classNames });
}

export function latentScatter(s: ScatterData): string {
  return scatterSvg(s.xy, s.labels, { title: s.title, classNames: s.classNames, xLabel: 'z₁', yLabel: 'z₂' });
}

/** Item 6: MSE against the clean image per noise level; rows [σ, input, plain, denoising]. */
export function denoiseCurve(rows: readonly (readonly (string | number)[])[], sigma: number): string {
  const col = (k: number): number[] => rows.map((r) => Number(r[k]));
  return panelsSvg(
    [
      {
        series: [
          { name: 'noisy input', values: col(1), dashed: true },
          { name: 'plain AE', values: col(2) },
          { name: `denoising AE (trained at σ ${sigma})`, values: col(3) },
        ],
        options: { title: 'Reconstruction error against the clean image', x: col(0), xLabel: 'noise σ', yLabel: 'MSE per pixel' },
      },
    ],
    1,
    720,
  );
}

/** Item 6: test BCE per epoch, conv against linear autoencoder. */
export function convAutoencoderCurves(d: LineData): string {
  return panelsSvg([{ series: asSeries(d), options: { title: d.title, xLabel: 'epoch', yLabel: 'test BCE per image' } }], 1, 720);
}

/** Item 4: held-out accuracy and loss, mean ± std over the seeds, per protocol. */
export function headlineCurves(
  runs: readonly { protocol: string; bestEpoch: number; epochs: number; history: EpochRecord[] }[],
  swa = 30,
): string {
  const band = (p: string, key: 'valAccuracy' | 'valLoss', label: string, color: string): Series =>
    meanBandSeries(
      label,
      runs.filter((r) => r.protocol === p).map((r) => r.history.map((e) => e[key])),
      color,
    );
  const seeds = runs.filter((r) => r.protocol === 'honest').length;
  const markers: Marker[] = [];
  const fixedBudget = runs.every((r) => r.bestEpoch === r.epochs && r.epochs === runs[0].epochs);
  if (fixedBudget && swa > 0) markers.push({ x: runs[0].epochs - swa + 1, label: 'weight averaging from here', color: '#555' });
  else {
    const best = runs.map((r) => r.bestEpoch).sort((a, b) => a - b);
    const median = best[Math.floor(best.length / 2)];
    markers.push({ x: median, label: `median best epoch (${median})`, color: '#555' });
  }
  const opts = { xLabel: 'epoch', markers };
  const pair = (key: 'valAccuracy' | 'valLoss'): Series[] => [
    band('original', key, '(i) 33 % hold-out', '#1f77b4'),
    band('honest', key, '(ii) 15 % validation', '#d62728'),
  ];
  return panelsSvg(
    [
      {
        series: pair('valAccuracy'),
        options: { ...opts, title: `Held-out accuracy, mean ± std over ${seeds} seeds`, yLabel: 'accuracy', percent: true },
      },
      { series: pair('valLoss'), options: { ...opts, title: `Held-out loss, mean ± std over ${seeds} seeds`, yLabel: 'loss per sample' } },
    ],
    2,
  );
}

/** Item 4, fig. 4: training loss and USPS_test accuracy (%) with zero and Xavier initialisation. */
export function zeroInitCurves(panels: readonly LineData[]): string {
  return panelsSvg(
    [
      { series: asSeries(panels[0]), options: { title: 'Training loss (fig. 4)', xLabel: 'epoch', yLabel: 'loss per sample' } },
      { series: asSeries(panels[1]), options: { title: 'USPS_test accuracy', xLabel: 'epoch', yLabel: 'accuracy (%)' } },
    ],
    2,
  );
}

/** Item 4's sweeps: validation accuracy (%) per epoch, one panel per sweep. */
export function convVariantCurves(panels: readonly LineData[]): string {
  return panelsSvg(
    panels.map((p) => ({
      // The sweep's value with its unit: '4 maps', 'k 3', 'batch 8'.
      series: asSeries(p).map((s) => ({ ...s, name: s.name.replace(/^feature (\d+)$/, '$1 maps').replace(/^kernel (\d+)$/, 'k $1') })),
      options: {
        title: p.title.replace(/: validation accuracy \(%\) per epoch, seed 0$/, ' (seed 0)'),
        xLabel: 'epoch',
        yLabel: 'validation accuracy (%)',
      },
    })),
    2,
  );
}

/** Issue 16, experiment 2: one panel per dataset, test BCE per epoch of each autoencoder, mean ± std over the seeds. */
export interface SeedCurves {
  title: string;
  /** One entry per model: its name and, per seed, the value at each epoch. */
  series: { name: string; runs: (number | null)[][] }[];
}

export function seedBandCurves(panels: readonly SeedCurves[], yLabel: string): string {
  return panelsSvg(
    panels.map((p) => ({
      series: p.series.map((s) =>
        meanBandSeries(
          s.name,
          s.runs.map((r) => r.map((v) => v ?? undefined)),
        ),
      ),
      options: { title: p.title, xLabel: 'epoch', yLabel },
    })),
    2,
  );
}
