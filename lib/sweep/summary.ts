/**
 * The sweep's summary: per configuration, mean ± std over its seeds of the final scores, as a
 * Markdown table, a CSV file and two SVG figures (mean validation-accuracy curve with a ±1 std
 * band per configuration; final test accuracy per configuration with ±1 std bars).
 */
import { meanStd, markdownTable } from '../report/figures';
import { RunConfig, valueLabel } from './spec';
import { RunMetrics } from './training';
import { KERNEL_PATHS } from '../backend/ops';
import type { RunOutcome } from './pool-worker';

/** What a sweep keeps of each run (the run's `result.json`). */
export interface RunRecord {
  id: string;
  configKey: string;
  axes: Record<string, unknown>;
  config: RunConfig;
  status: 'done' | 'failed';
  error?: string;
  metrics?: RunMetrics;
  /** Where it ran: `local` or `host:pid` of the queue worker. */
  worker: string;
}

/**
 * Checks a run's outcome that crossed a trust boundary (a queue worker's result, a result.json
 * read back by --resume) before the summary reads it: returns it, or a one-line reason it is
 * not an outcome. JSON writes NaN and ±Infinity as null, so a loss may be null.
 */
export function checkOutcome(value: unknown): RunOutcome | string {
  if (value === null || typeof value !== 'object') return `expected an object with a status, got ${value === null ? 'null' : typeof value}`;
  const o = value as Record<string, unknown>;
  if (o.status === 'failed')
    return typeof o.error === 'string' ? { status: 'failed', error: o.error } : 'a failed run without an error message';
  if (o.status !== 'done') return `status must be 'done' or 'failed', got ${JSON.stringify(o.status)?.slice(0, 40)}`;
  const m = o.metrics as Record<string, unknown> | null | undefined;
  if (m === null || typeof m !== 'object') return 'a finished run without metrics';
  const finite = (k: string): boolean => typeof m[k] === 'number' && Number.isFinite(m[k]);
  const loss = (v: unknown): boolean => v === null || typeof v === 'number';
  const fraction = (v: unknown): boolean => v === undefined || (typeof v === 'number' && v >= 0 && v <= 1);
  for (const k of ['epochs', 'samples', 'seconds', 'startedAt', 'finishedAt'])
    if (!finite(k)) return `metrics.${k} must be a finite number`;
  for (const k of ['trainLoss', 'validationLoss', 'testLoss']) if (!loss(m[k])) return `metrics.${k} must be a number or null`;
  for (const k of ['trainAccuracy', 'validationAccuracy', 'testAccuracy'])
    if (!fraction(m[k])) return `metrics.${k} must be a fraction in [0, 1] when present`;
  if (typeof m.model !== 'string' || typeof m.stoppedEarly !== 'boolean' || typeof m.resumed !== 'boolean')
    return 'metrics.model, stoppedEarly and resumed must be a string and two booleans';
  if (m.checkpointDiscarded !== undefined && typeof m.checkpointDiscarded !== 'string')
    return 'metrics.checkpointDiscarded must be a string when present';
  if (m.kernelPath !== undefined && !(KERNEL_PATHS as readonly unknown[]).includes(m.kernelPath))
    return `metrics.kernelPath must be one of ${KERNEL_PATHS.join(', ')} when present`;
  const opt = m.optimizer as Record<string, unknown> | undefined;
  if (
    opt !== undefined &&
    (opt === null ||
      typeof opt !== 'object' ||
      (opt.name !== 'sgd' && opt.name !== 'adam') ||
      ![opt.lr, opt.weightDecay, opt.momentum ?? 0].every((v) => typeof v === 'number' && Number.isFinite(v)))
  )
    return 'metrics.optimizer must be { name: sgd|adam, lr, weightDecay, momentum? } with finite numbers';
  if (!Array.isArray(m.history) || m.history.length > 1e6) return 'metrics.history must be an array of epochs';
  for (const e of m.history as unknown[]) {
    const r = e as Record<string, unknown> | null;
    if (r === null || typeof r !== 'object' || typeof r.epoch !== 'number' || !loss(r.trainLoss) || !fraction(r.valAccuracy ?? undefined))
      return 'metrics.history holds an entry that is not an epoch record';
  }
  return { status: 'done', metrics: m as unknown as RunMetrics };
}

/** One configuration's line of the summary. */
export interface SummaryRow {
  configKey: string;
  axes: Record<string, unknown>;
  /** Seeds that finished. */
  runs: number;
  failed: number;
  /** Mean and sample std over the finished seeds (NaN when none finished). */
  testAccuracy: { mean: number; std: number };
  validationAccuracy: { mean: number; std: number };
  trainAccuracy: { mean: number; std: number };
  testLoss: { mean: number; std: number };
  epochs: { mean: number; std: number };
}

/** Groups the records by configuration, in the order of first appearance. */
export function summarize(records: readonly RunRecord[]): SummaryRow[] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) {
    const g = groups.get(r.configKey);
    if (g) g.push(r);
    else groups.set(r.configKey, [r]);
  }
  return [...groups.values()].map((g) => {
    const done = g.filter((r) => r.status === 'done' && r.metrics).map((r) => r.metrics as RunMetrics);
    const stat = (f: (m: RunMetrics) => number | undefined): { mean: number; std: number } =>
      meanStd(done.map(f).filter((v): v is number => v !== undefined));
    return {
      configKey: g[0].configKey,
      axes: g[0].axes,
      runs: done.length,
      failed: g.length - done.length,
      testAccuracy: stat((m) => m.testAccuracy),
      validationAccuracy: stat((m) => m.validationAccuracy),
      trainAccuracy: stat((m) => m.trainAccuracy),
      testLoss: stat((m) => m.testLoss),
      epochs: stat((m) => m.epochs),
    };
  });
}

/** mean ± std; the mean alone over one seed, where there is no spread to give. */
const pm = (s: { mean: number; std: number }, scale: number, digits: number, runs: number): string =>
  Number.isNaN(s.mean)
    ? 'n/a'
    : runs === 1
      ? (s.mean * scale).toFixed(digits)
      : `${(s.mean * scale).toFixed(digits)} ± ${(s.std * scale).toFixed(digits)}`;

/**
 * The configuration a sweep chose: the highest mean validation accuracy (the test set is not
 * used to choose); undefined when no configuration has one, or there is only one.
 */
export function bestConfiguration(rows: readonly SummaryRow[]): SummaryRow | undefined {
  let best: SummaryRow | undefined;
  for (const r of rows)
    if (r.runs > 0 && Number.isFinite(r.validationAccuracy.mean) && (!best || r.validationAccuracy.mean > best.validationAccuracy.mean))
      best = r;
  return rows.length > 1 ? best : undefined;
}

function axisNames(rows: readonly SummaryRow[]): string[] {
  return [...new Set(rows.flatMap((r) => Object.keys(r.axes)))];
}

function axisText(v: unknown): string {
  return v === undefined ? '' : valueLabel(v);
}

/** The summary as a Markdown table (accuracies in %). */
export function summaryMarkdown(rows: readonly SummaryRow[]): string {
  const axes = axisNames(rows);
  const header = [
    ...(axes.length ? axes : ['configuration']),
    'seeds',
    'failed',
    'test %',
    'validation %',
    'train %',
    'test loss',
    // The epochs run (early stopping ends some sooner); named apart from an axis of the epochs asked for.
    axes.includes('epochs') ? 'epochs run' : 'epochs',
  ];
  return (
    markdownTable(
      header,
      rows.map((r) => [
        ...(axes.length ? axes.map((a) => axisText(r.axes[a])) : [r.configKey]),
        r.runs,
        r.failed,
        pm(r.testAccuracy, 100, 2, r.runs),
        pm(r.validationAccuracy, 100, 2, r.runs),
        pm(r.trainAccuracy, 100, 2, r.runs),
        pm(r.testLoss, 1, 4, r.runs),
        pm(r.epochs, 1, 1, r.runs),
      ]),
    ) + bestLine(rows)
  );
}

/** The line under the table naming the best configuration on validation, '' when there is none to choose. */
function bestLine(rows: readonly SummaryRow[]): string {
  const best = bestConfiguration(rows);
  if (!best) return '';
  const seeds = `${best.runs} seed${best.runs === 1 ? '' : 's'}`;
  return (
    `\n\nBest on validation: ${best.configKey} (validation ${pm(best.validationAccuracy, 100, 2, best.runs)} %, ` +
    `test ${pm(best.testAccuracy, 100, 2, best.runs)} %, ${seeds}).`
  );
}

/** A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break, a quote doubled. */
const csvCell = (v: string | number): string => {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** The summary as CSV: one column per axis, then mean and std columns (accuracies as fractions, full precision). */
export function summaryCsv(rows: readonly SummaryRow[]): string {
  const axes = axisNames(rows);
  const stats = ['testAccuracy', 'validationAccuracy', 'trainAccuracy', 'testLoss', 'epochs'] as const;
  const header = [...(axes.length ? axes : ['configuration']), 'seeds', 'failed', ...stats.flatMap((s) => [`${s}Mean`, `${s}Std`])];
  const lines = rows.map((r) =>
    [
      ...(axes.length ? axes.map((a) => axisText(r.axes[a])) : [r.configKey]),
      r.runs,
      r.failed,
      ...stats.flatMap((s) => [r[s].mean, r[s].std]),
    ]
      .map(csvCell)
      .join(','),
  );
  return `${[header.map(csvCell).join(','), ...lines].join('\n')}\n`;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/**
 * Mean validation accuracy per epoch of each configuration with a ±1 std band (over the seeds
 * that reached that epoch; early stopping ends some curves sooner).
 */
export function curvesSvg(records: readonly RunRecord[], title: string): string {
  const groups = new Map<string, number[][]>();
  for (const r of records) {
    if (r.status !== 'done' || !r.metrics) continue;
    const curve = r.metrics.history.map((e) => e.valAccuracy ?? NaN);
    groups.set(r.configKey, [...(groups.get(r.configKey) ?? []), curve]);
  }
  const series = [...groups.entries()].map(([key, curves]) => {
    const len = curves.reduce((a, c) => Math.max(a, c.length), 0);
    const points = Array.from({ length: len }, (_, e) =>
      meanStd(curves.map((c) => c[e]).filter((v) => v !== undefined && !Number.isNaN(v))),
    );
    return { key, points };
  });
  const W = 720;
  const H = 400;
  const m = { left: 56, right: 220, top: 30, bottom: 40 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const all = series.flatMap((s) => s.points.flatMap((p) => (Number.isNaN(p.mean) ? [] : [p.mean - p.std, p.mean + p.std])));
  // Reduced, not spread: a spread of a long history overflows the call stack (~75,000 points).
  let lo = all.length ? all.reduce((a, v) => Math.min(a, v), Infinity) : 0;
  let hi = all.length ? all.reduce((a, v) => Math.max(a, v), -Infinity) : 1;
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.01, hi + 0.01];
  const n = series.reduce((a, s) => Math.max(a, s.points.length), 2);
  const px = (i: number): number => m.left + (i / (n - 1)) * pw;
  const py = (v: number): number => m.top + ph - ((v - lo) / (hi - lo)) * ph;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${(m.left + pw / 2).toFixed(1)}" y="18" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
    `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    out.push(`<text x="${m.left - 4}" y="${(py(v) + 4).toFixed(1)}" text-anchor="end">${(100 * v).toFixed(1)} %</text>`);
  }
  out.push(`<text x="${(m.left + pw / 2).toFixed(1)}" y="${H - 8}" text-anchor="middle">epoch (1 to ${n})</text>`);
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const ok = s.points.map((p, e) => ({ ...p, e })).filter((p) => !Number.isNaN(p.mean));
    if (ok.length === 0) return;
    const upper = ok.map((p) => `${px(p.e).toFixed(1)},${py(p.mean + p.std).toFixed(1)}`);
    const lower = ok.map((p) => `${px(p.e).toFixed(1)},${py(p.mean - p.std).toFixed(1)}`).reverse();
    out.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${color}" fill-opacity="0.15" stroke="none"/>`);
    out.push(
      `<polyline points="${ok.map((p) => `${px(p.e).toFixed(1)},${py(p.mean).toFixed(1)}`).join(' ')}" fill="none" stroke="${color}" stroke-width="1.5"/>`,
    );
    out.push(`<text x="${W - m.right + 8}" y="${m.top + 12 + 14 * i}" fill="${color}">${escapeXml(s.key)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Final test accuracy of each configuration: a bar at the mean with a ±1 std whisker. */
export function finalScoresSvg(rows: readonly SummaryRow[], title: string): string {
  const W = 720;
  const rowH = 22;
  const m = { left: 260, right: 110, top: 34, bottom: 20 };
  const H = m.top + m.bottom + rowH * Math.max(1, rows.length);
  const pw = W - m.left - m.right;
  const vals = rows.filter((r) => !Number.isNaN(r.testAccuracy.mean));
  const hi = Math.min(
    1,
    vals.reduce((a, r) => Math.max(a, r.testAccuracy.mean + r.testAccuracy.std), 0.01),
  );
  const lo = Math.max(0, vals.reduce((a, r) => Math.min(a, r.testAccuracy.mean - r.testAccuracy.std), hi) - 0.02);
  const px = (v: number): number => m.left + ((v - lo) / (hi - lo || 1)) * pw;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
  ];
  rows.forEach((r, i) => {
    const y = m.top + i * rowH;
    out.push(`<text x="${m.left - 6}" y="${y + 14}" text-anchor="end">${escapeXml(r.configKey)}</text>`);
    const s = r.testAccuracy;
    if (Number.isNaN(s.mean)) {
      out.push(`<text x="${m.left + 4}" y="${y + 14}">no finished run</text>`);
      return;
    }
    out.push(
      `<rect x="${m.left}" y="${y + 3}" width="${Math.max(0, px(s.mean) - m.left).toFixed(1)}" height="${rowH - 6}" fill="${PALETTE[i % PALETTE.length]}" fill-opacity="0.7"/>`,
    );
    out.push(
      `<line x1="${px(Math.max(lo, s.mean - s.std)).toFixed(1)}" x2="${px(Math.min(hi, s.mean + s.std)).toFixed(1)}" y1="${y + rowH / 2}" y2="${y + rowH / 2}" stroke="black"/>`,
    );
    out.push(`<text x="${W - m.right + 6}" y="${y + 14}">${(100 * s.mean).toFixed(2)} ± ${(100 * s.std).toFixed(2)} %</text>`);
  });
  out.push(`<text x="${m.left}" y="${H - 4}">${(100 * lo).toFixed(1)} %</text>`);
  out.push(`<text x="${W - m.right}" y="${H - 4}" text-anchor="end">${(100 * hi).toFixed(1)} %</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
