/**
 * Training logger: records the history, prints one line per epoch, redraws a small terminal
 * chart of the loss during training, and writes the loss/accuracy curves as an SVG at the end.
 */
import { asciiChart, lineChartSvg, Marker } from './plot';
import { writeFileAtomic } from './data/read';
import { TerminalProgress, drawsInPlace, formatLoss } from './progress';
import type { TrainingRecord } from './train';

/** What `fit` records for one epoch. */
export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /** Mean per-sample training loss over the epoch (as the batches saw it, weights moving). */
  trainLoss: number;
  /** Training accuracy over the epoch (classification targets only). */
  trainAccuracy?: number;
  /** Mean per-sample loss on the validation set after the epoch. */
  valLoss?: number;
  valAccuracy?: number;
  /** Wall time of the epoch, validation included. */
  seconds: number;
}

/** Options of {@link Logger}. */
export interface LoggerOptions {
  /** 0 silent, 1 one line per epoch (default), 2 also a terminal chart of the loss after each epoch. */
  verbose?: 0 | 1 | 2;
  /**
   * Where lines go (default `process.stdout`).
   * @param line One line of text, without its newline.
   */
  write?: (line: string) => void;
  /** If set, `end()` writes the loss and accuracy curves there as SVG. */
  svgPath?: string;
  /**
   * Show a progress bar over the batches of each epoch (cli-progress, on stdout). Default: when
   * stdout is a terminal, `verbose` is at least 1 and no `write` was given; never when verbose is 0.
   * The bar fits the terminal's width (80 columns show the loss and the time left) and, on Ctrl-C
   * or when the process exits while it draws, shows the cursor again and turns line wrapping back on.
   */
  progress?: boolean;
}

/**
 * Records epochs and reports them.
 *
 * @example
 * const logger = new Logger({ verbose: 1, svgPath: 'training.svg' });
 * await fit(net, loss, opt, train, { epochs: 10, logger });
 * logger.history  // [{ epoch: 1, trainLoss: ..., seconds: ... }, ...]
 */
export class Logger {
  readonly history: EpochRecord[] = [];
  readonly verbose: 0 | 1 | 2;
  readonly svgPath: string | undefined;
  private readonly write: (line: string) => void;
  private readonly showProgress: boolean;
  private readonly bar = new TerminalProgress({ unit: 'batches' });
  private lossSum = 0;
  private lossCount = 0;
  private readonly marks: Marker[] = [];

  /** @param options verbose, write, svgPath, progress (all optional). */
  constructor(options: LoggerOptions = {}) {
    const v = options.verbose ?? 1;
    if (v !== 0 && v !== 1 && v !== 2) throw new RangeError(`Logger: verbose must be 0, 1 or 2, got ${String(v)}`);
    this.verbose = v;
    this.svgPath = options.svgPath;
    this.write = options.write ?? ((line) => process.stdout.write(`${line}\n`));
    this.showProgress = v > 0 && (options.progress ?? (options.write === undefined && drawsInPlace(process.stdout)));
  }

  /**
   * Moves the progress bar to batch `batch` of `batches` in epoch `epoch` (no-op unless shown).
   * @param epoch The epoch running, from 1.
   * @param batch The batch just done, from 1.
   * @param batches The batches of the epoch.
   * @param loss That batch's mean loss per sample; the bar shows the running mean over the epoch.
   * @param totalEpochs The number of epochs of the run, for the bar's `3/10` counter.
   */
  progress(epoch: number, batch: number, batches: number, loss: number, totalEpochs?: number): void {
    if (!this.showProgress) return;
    // Cleared on stop: the epoch's summary line takes its place.
    if (!this.bar.active || batch <= 1) {
      this.bar.start(batches, batch, epoch, totalEpochs);
      this.lossSum = 0;
      this.lossCount = 0;
    }
    // The running mean over the epoch's batches: steadier than one batch's loss, and where the
    // epoch's line (the mean over its samples) will land.
    this.lossSum += loss;
    this.lossCount++;
    this.bar.update(batch, this.lossSum / this.lossCount);
  }

  /** Clears the progress bar, if one draws (fit calls it however it ends, a throw included). @internal */
  stopProgress(): void {
    this.bar.stop();
  }

  /**
   * Records an epoch and prints it ({@link formatEpoch}: one line, or more when the learning rate
   * and the metrics do not fit in 80 columns).
   * @param record The finished epoch, with the `lr`, `trainMetrics` and `valMetrics` fit adds.
   * @param totalEpochs The number of epochs of the run, for the `3/10` counter.
   */
  epoch(record: TrainingRecord, totalEpochs?: number): void {
    this.history.push(record);
    this.stopProgress();
    if (this.verbose === 0) return;
    for (const line of formatEpoch(record, totalEpochs).split('\n')) this.write(line);
    if (this.verbose === 2 && this.history.length > 1) {
      for (const line of asciiChart(this.lossSeries(), 5, 60)) this.write(line);
    }
  }

  /**
   * Prints a free-form message (e.g. early stopping), unless silent.
   * @param text The message, one line.
   */
  message(text: string): void {
    this.stopProgress();
    if (this.verbose > 0) this.write(text);
  }

  /**
   * Marks epoch `epoch` on the SVG's charts with `label` (a learning-rate drop, a restart). The
   * best epoch (lowest validation loss, or training loss without validation) is marked anyway.
   * @param epoch The epoch to mark, from 1.
   * @param label The mark's text, kept short (`lr → 1.5e-4`).
   */
  annotate(epoch: number, label: string): void {
    this.marks.push({ x: epoch, label, color: '#d97706' });
  }

  /**
   * Takes the records of epochs trained before a resume, without printing them, so that
   * {@link history} and the curves cover the whole run. With `nextLr` (a schedule that announces
   * its changes, as ReduceLROnPlateau does), an epoch after which the learning rate changed is
   * marked as {@link annotate} marked it live; `nextLr` is the rate the run goes on with, which
   * tells whether it changed after the last of the records. @internal
   */
  resumed(records: readonly TrainingRecord[], nextLr?: number): void {
    this.history.push(...records);
    if (nextLr === undefined) return;
    const rates = [...records.map((r) => r.lr), nextLr];
    for (let i = 0; i < records.length; i++) {
      const before = rates[i];
      const after = rates[i + 1];
      if (before !== undefined && after !== undefined && after !== before)
        this.annotate(records[i].epoch, `lr → ${after.toExponential(1)}`);
    }
  }

  /** End of training: writes the SVG if asked. */
  end(): void {
    this.stopProgress();
    if (this.svgPath) writeFileAtomic(this.svgPath, Buffer.from(this.svg()), { mkdir: true });
  }

  private lossSeries(): { name: string; values: (number | undefined)[] }[] {
    const s = [{ name: 'train loss', values: this.history.map((r) => r.trainLoss as number | undefined) }];
    if (this.history.some((r) => r.valLoss !== undefined)) s.push({ name: 'val loss', values: this.history.map((r) => r.valLoss) });
    return s;
  }

  /** The curves as one SVG document: loss on top, accuracy below when there is one; the best epoch and {@link annotate}'s marks on both. */
  svg(): string {
    const markers: Marker[] = [...this.marks];
    const monitored = this.history.some((r) => r.valLoss !== undefined) ? 'valLoss' : 'trainLoss';
    let best: EpochRecord | undefined;
    for (const r of this.history) {
      const v = r[monitored];
      if (v !== undefined && Number.isFinite(v) && (best === undefined || v < (best[monitored] as number))) best = r;
    }
    if (best && this.history.length > 1) {
      markers.push({
        x: best.epoch,
        label: `best ${monitored === 'valLoss' ? 'val' : 'train'} loss: epoch ${best.epoch}`,
        color: '#2ca02c',
      });
    }
    // Both charts keep the widest legend's room, so that their epochs line up.
    const common = { xLabel: 'epoch', markers, legendWidth: 130 };
    const charts = [lineChartSvg(this.lossSeries(), { ...common, title: 'Loss per sample', yLabel: 'loss per sample' })];
    const acc = [
      { name: 'train accuracy', values: this.history.map((r) => r.trainAccuracy) },
      { name: 'val accuracy', values: this.history.map((r) => r.valAccuracy) },
    ].filter((s) => s.values.some((v) => v !== undefined));
    if (acc.length > 0) charts.push(lineChartSvg(acc, { ...common, title: 'Accuracy', yLabel: 'accuracy', percent: true }));
    if (charts.length === 1) return charts[0];
    const h = 360;
    const inner = charts.map((c, i) => c.replace('<svg ', `<svg y="${i * h}" `));
    return `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="${h * charts.length}">\n${inner.join('\n')}\n</svg>`;
  }
}

/** The widest line {@link formatEpoch} writes: 79 characters, since some terminals wrap a line that fills all 80 columns. @internal */
export const EPOCH_LINE_WIDTH = 79;

/**
 * One epoch as the Logger prints it:
 * `epoch  3/10  loss 0.4123  acc 91.20%  val_loss 0.4410  val_acc 90.00%  1.52s`, then the
 * learning rate and the metrics fit recorded (`lr 0.001000  f1 0.9012  val_f1 0.8890 …`). Losses,
 * rates and metrics are written as every loss of neurone is (4 significant digits, exponent
 * notation below 1e-4 and from 1e6), accuracies in percent.
 * Fields that would take the line past 79 characters (an 80-column terminal) go on indented lines
 * below (joined by `\n`), in order; the time stays at the end of the first line.
 *
 * @param r The epoch's record, as fit passes it to the Logger.
 * @param total The number of epochs of the run, for the `3/10` counter and its width.
 * @returns One line, or several joined by `\n`, each at most 79 characters wide unless a single
 * field is wider.
 */
export function formatEpoch(r: TrainingRecord, total?: number): string {
  const width = total === undefined ? 0 : String(total).length;
  const head = `epoch ${String(r.epoch).padStart(width)}${total === undefined ? '' : `/${total}`}`;
  const fields = [`loss ${formatLoss(r.trainLoss)}`];
  if (r.trainAccuracy !== undefined) fields.push(`acc ${(100 * r.trainAccuracy).toFixed(2)}%`);
  if (r.valLoss !== undefined) fields.push(`val_loss ${formatLoss(r.valLoss)}`);
  if (r.valAccuracy !== undefined) fields.push(`val_acc ${(100 * r.valAccuracy).toFixed(2)}%`);
  if (r.lr !== undefined) fields.push(`lr ${formatLoss(r.lr)}`);
  // Each metric beside its validation twin (Keras's `val_` prefix), the two kept on one line.
  const names = [...Object.keys(r.trainMetrics ?? {}), ...Object.keys(r.valMetrics ?? {})].filter((k, i, all) => all.indexOf(k) === i);
  for (const name of names) {
    const train = r.trainMetrics?.[name];
    const val = r.valMetrics?.[name];
    const pair = [train === undefined ? '' : `${name} ${formatLoss(train)}`, val === undefined ? '' : `val_${name} ${formatLoss(val)}`];
    fields.push(pair.filter((f) => f !== '').join('  '));
  }
  const time = `${r.seconds.toFixed(2)}s`;
  const sep = '  ';
  // The first line keeps room for the time; once a field does not fit there, it and every field
  // after it go below, indented under the first field, so the order reads the same.
  let first = head;
  let i = 0;
  for (; i < fields.length; i++) {
    if (i > 0 && first.length + sep.length + fields[i].length + sep.length + time.length > EPOCH_LINE_WIDTH) break;
    first += sep + fields[i];
  }
  const lines = [first + sep + time];
  const indent = ' '.repeat(head.length + sep.length);
  let line = '';
  for (; i < fields.length; i++) {
    if (line !== '' && indent.length + line.length + sep.length + fields[i].length > EPOCH_LINE_WIDTH) {
      lines.push(indent + line);
      line = '';
    }
    line += (line === '' ? '' : sep) + fields[i];
  }
  if (line !== '') lines.push(indent + line);
  return lines.join('\n');
}
