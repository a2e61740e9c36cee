/**
 * Shared pieces of the experiment scripts: command-line flags, where reports go, tables,
 * a learning-rate schedule, dataset subsets and evaluation helpers.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  Tensor,
  Module,
  Loss,
  Optimizer,
  EpochRecord,
  FitOptions,
  History,
  fit,
  evaluate,
  setBackend,
  nativeAvailable,
  getBackend,
  getThreads,
  setThreads,
  data,
} from '../../lib';
import { markdownTable, textTable, writeFigure } from '../../lib/report/figures';

export const REPORTS = path.join(__dirname, '..', '..', 'reports');

/** `--name value` flags of an experiment script, with defaults. */
export function flags(defaults: Record<string, string | number | boolean>): Record<string, string | number | boolean> {
  const out = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    const key = m?.[1].replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (!m || !key || !(key in defaults)) {
      process.stderr.write(
        `unknown argument ${argv[i]} (known: ${Object.keys(defaults)
          .map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`)
          .join(' ')})\n`,
      );
      process.exit(2);
    }
    const def = defaults[key];
    if (typeof def === 'boolean') {
      out[key] = m[2] === undefined ? true : m[2] !== 'false';
      continue;
    }
    const raw = m[2] ?? argv[++i];
    if (raw === undefined) {
      process.stderr.write(`--${m[1]} needs a value\n`);
      process.exit(2);
    }
    out[key] = typeof def === 'number' ? Number(raw) : raw;
    if (typeof def === 'number' && !Number.isFinite(out[key] as number)) {
      process.stderr.write(`--${m[1]}: '${raw}' is not a number\n`);
      process.exit(2);
    }
  }
  return out;
}

/** Uses the native backend when it loads (the experiments would take hours on the js one). */
export function useNative(): string {
  if (nativeAvailable()) setBackend('native');
  // EXPERIMENT_THREADS=1 lets two experiments share a 2-core machine without oversubscribing it.
  const threads = Number(process.env.EXPERIMENT_THREADS);
  if (Number.isInteger(threads) && threads > 0) setThreads(threads);
  return `${getBackend()} backend, ${getThreads()} thread${getThreads() === 1 ? '' : 's'}`;
}

/** Writes `reports/<name>.md` and prints the table; returns the markdown. */
export function writeTable(name: string, title: string, header: string[], rows: (string | number)[][], notes: string[] = []): string {
  const md = [`### ${title}`, '', ...notes.map((n) => `${n}`), notes.length ? '' : null, markdownTable(header, rows), '']
    .filter((l) => l !== null)
    .join('\n');
  writeFigure(path.join(REPORTS, 'tables', `${name}.md`), md);
  process.stdout.write(`\n${title}\n${textTable(header, rows)}\n`);
  return md;
}

/** Writes a figure under reports/figures/ and prints where; returns the path relative to reports/. */
export function figure(name: string, content: string | Buffer): string {
  const file = writeFigure(path.join(REPORTS, 'figures', name), content);
  process.stdout.write(`figure: ${path.relative(process.cwd(), file)}\n`);
  return `figures/${name}`;
}

/** Writes a JSON record of a run under reports/raw/. */
export function raw(name: string, value: unknown): void {
  writeFigure(path.join(REPORTS, 'raw', `${name}.json`), `${JSON.stringify(value, null, 1)}\n`);
}

/** (n,) class-index targets of a dataset. */
export function indexTargets(ds: data.Dataset): Tensor {
  return { shape: [ds.labels.length], data: Float32Array.from(ds.labels) };
}

/** A stratified random subset of `n` examples (all of them when n ≥ size). */
export function stratifiedSubset(ds: data.Dataset, n: number, seedValue: number): data.Dataset {
  if (n >= ds.labels.length) return ds;
  return data.trainTestSplit(ds, { testFraction: n / ds.labels.length, seed: seedValue, stratify: true }).test;
}

/**
 * "Reduce on plateau": multiplies the learning rate by `factor` when the validation loss has
 * not improved for `patience` epochs. Returns an onEpochEnd callback.
 */
export function reduceOnPlateau(opt: Optimizer, patience = 1, factor = 0.3): (r: EpochRecord) => void {
  let best = Infinity;
  let wait = 0;
  return (r) => {
    const v = r.valLoss ?? r.trainLoss;
    if (v < best - 1e-4) {
      best = v;
      wait = 0;
    } else if (++wait > patience) {
      opt.lr *= factor;
      wait = 0;
    }
  };
}

/** fit, silent, with defaults the experiments share. */
export function train(net: Module, loss: Loss, opt: Optimizer, ds: { x: Tensor; y: Tensor }, options: FitOptions): Promise<History> {
  return fit(net, loss, opt, ds, { verbose: 0, ...options });
}

/** Accuracy (0..1) of a classifier on a dataset. */
export function accuracyOn(net: Module, loss: Loss, ds: data.Dataset, y: Tensor = indexTargets(ds)): number {
  return evaluate(net, loss, ds.x, y).accuracy ?? NaN;
}

export const pct = (v: number): string => (100 * v).toFixed(2);
export const pm = (m: number, s: number, digits = 2): string => `${m.toFixed(digits)} ± ${s.toFixed(digits)}`;

/** Seconds since `t0` (performance.now()). */
export function since(t0: number): number {
  return (performance.now() - t0) / 1000;
}

/** The command line that ran this script, for the report. */
export function commandLine(): string {
  const script = path.relative(path.join(__dirname, '..', '..'), process.argv[1]);
  return `npx ts-node --transpile-only ${script}${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
}

export { fs, path };

/** Fashion-MNIST train (optionally a stratified subset of `trainSize`) and the full 10,000-image test set. */
export function loadFashion(trainSize: number, seedValue = 0): { train: data.Dataset; test: data.Dataset } {
  // Flat rows (n, 784): the experiments' MLPs and autoencoders take them so.
  const train = stratifiedSubset(data.loadFashionMNIST({ flatten: true }), trainSize, seedValue);
  return { train, test: data.loadFashionMNIST({ split: 'test', flatten: true }) };
}

/** One-hot (n, classes) targets of a dataset. */
export function oneHotTargets(ds: data.Dataset): Tensor {
  return data.oneHot(ds.labels, ds.numClasses);
}
