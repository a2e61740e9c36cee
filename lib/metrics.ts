/**
 * Classification metrics: turning predictions and targets into labels, accuracy, confusion matrix.
 */
import { Tensor, argmaxOfRow, checkDataLength, describe, formatShape, isTensor } from './tensor';

/** Predicted and true class labels of a batch. */
export interface Labels {
  predicted: Int32Array;
  actual: Int32Array;
  classes: number;
}

/**
 * Whether one-output targets are {−1, 1} (a −1 among them), for {@link classify} batch by batch:
 * decided on the whole set. @internal
 */
export function signedTargets(y: Tensor): boolean {
  if (y.data.length !== y.shape[0]) return false;
  for (let i = 0; i < y.data.length; i++) if (y.data[i] === -1) return true;
  return false;
}

/**
 * Reads a (prediction, target) pair as a classification, or returns null when it is not one
 * (e.g. an autoencoder's reconstruction target):
 * - yhat (batch, C ≥ 2): predicted = argmax; y is (batch,) class indices or (batch, C) one-hot rows;
 * - yhat (batch, 1) or (batch,): binary; y in {0, 1} (threshold 0.5 on yhat) or in {−1, 1}
 *   (threshold 0, the course's convention with MSE or hinge).
 *
 * @example
 * classify(fromArray([[0.1, 0.9]]), fromArray([1]))  // { predicted: [1], actual: [1], classes: 2 }
 *
 * @param reuse A previous result whose arrays are overwritten instead of allocating new ones,
 *   when they have the batch's length.
 * @param yhat Predictions, (batch, classes) or (batch, 1).
 * @param y Targets: class indices, one-hot rows, or {0, 1} / {−1, 1} values.
 * @param signed For one-output targets: whether they are {−1, 1} (threshold 0) or {0, 1}
 *   (threshold 0.5). Left out, a −1 among `y` says so; a caller classifying batch by batch decides
 *   it once for the whole set (as `fit` does), or a batch of +1 alone would be read as {0, 1}.
 */
export function classify(yhat: Tensor, y: Tensor, reuse?: Labels, signed?: boolean): Labels | null {
  const batch = yhat.shape[0];
  const width = yhat.shape.length === 1 ? 1 : yhat.shape.length === 2 ? yhat.shape[1] : -1;
  if (width < 1 || y.shape[0] !== batch) return null;
  // A training loop classifies every batch: it passes the previous result back to be refilled.
  const fits =
    reuse != null &&
    reuse.actual instanceof Int32Array &&
    reuse.predicted instanceof Int32Array &&
    reuse.actual.length === batch &&
    reuse.predicted.length === batch;
  const actual = fits ? reuse.actual : new Int32Array(batch);
  const predicted = fits ? reuse.predicted : new Int32Array(batch);
  if (width === 1) {
    const ySize = y.data.length / Math.max(batch, 1);
    if (ySize !== 1) return null;
    let sawMinusOne = false;
    for (let i = 0; i < batch; i++) {
      const v = y.data[i];
      if (v === -1) sawMinusOne = true;
      else if (v !== 0 && v !== 1) return null;
    }
    if (signed === false && sawMinusOne) return null;
    const threshold = (signed ?? sawMinusOne) ? 0 : 0.5;
    for (let i = 0; i < batch; i++) {
      actual[i] = y.data[i] > threshold ? 1 : 0;
      predicted[i] = yhat.data[i] > threshold ? 1 : 0;
    }
    return { predicted, actual, classes: 2 };
  }
  for (let r = 0; r < batch; r++) predicted[r] = argmaxOfRow(yhat.data, r * width, width);
  if (y.shape.length === 1) {
    for (let r = 0; r < batch; r++) {
      const c = y.data[r];
      if (!Number.isInteger(c) || c < 0 || c >= width) return null;
      actual[r] = c;
    }
    return { predicted, actual, classes: width };
  }
  if (y.shape.length !== 2 || y.shape[1] !== width) return null;
  for (let r = 0; r < batch; r++) {
    let hot = -1;
    for (let c = 0; c < width; c++) {
      const v = y.data[r * width + c];
      if (v === 1 && hot < 0) hot = c;
      else if (v !== 0) return null;
    }
    if (hot < 0) return null;
    actual[r] = hot;
  }
  return { predicted, actual, classes: width };
}

/**
 * Fraction of samples whose predicted class is the true one (see {@link classify} for how
 * predictions and targets are read). Throws if the pair is not a classification.
 *
 * @example
 * accuracy(predict(net, x), yOneHot)  // 0.93 (predict: evaluation mode, as Dropout and BatchNorm need)
 * @param yhat Predictions.
 * @param y Targets (see classify).
 */
export function accuracy(yhat: Tensor, y: Tensor): number {
  const l = classify(yhat, y);
  if (!l)
    throw new RangeError(
      `accuracy: cannot read predictions ${formatShape(yhat.shape)} and targets ${formatShape(y.shape)} as a classification`,
    );
  let hits = 0;
  for (let i = 0; i < l.actual.length; i++) if (l.actual[i] === l.predicted[i]) hits++;
  return l.actual.length === 0 ? 0 : hits / l.actual.length;
}

/** The most classes {@link confusionMatrix} takes: 2^26 counts, half a gigabyte as numbers. */
export const MAX_CONFUSION_CLASSES = 8192;

/** Precision, recall and F1 count a classes × classes matrix: refused, naming the metric, past the bound. */
function checkPerClassMetric(who: string, name: string, classes: number): void {
  if (classes > MAX_CONFUSION_CLASSES)
    throw new RangeError(
      `${who}: metric ${name} counts a classes × classes confusion matrix, at most ${MAX_CONFUSION_CLASSES} classes; the predictions have ${classes}`,
    );
}

/**
 * Class labels given to a metric: an array, a typed array, or a Tensor of shape (n,) or (n, 1)
 * (what a dataset's labels or `argmax` give); anything else is refused naming the argument. A
 * Tensor of scores (n, classes) is refused too: its labels are its rows' argmax.
 */
function labelsArgument(who: string, name: string, v: unknown): ArrayLike<number> {
  if (isTensor(v)) {
    checkDataLength(who, name, v);
    const [n, ...rest] = v.shape;
    if (v.shape.length === 1 || (rest.length === 1 && rest[0] === 1)) return v.data;
    throw new RangeError(
      `${who}: ${name} must be class labels, a Tensor of shape (n,) or (n, 1), got ${formatShape(v.shape)}` +
        (v.shape.length === 2 ? ` (scores? take each row's argmax first: ${n} labels)` : ''),
    );
  }
  if (Array.isArray(v)) {
    const at = v.findIndex((e) => typeof e !== 'number');
    if (at >= 0) throw new TypeError(`${who}: ${name} must be class labels, numbers; got an array holding ${describe(v[at])}`);
    return v as number[];
  }
  if (ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array))
    return v as unknown as ArrayLike<number>;
  throw new TypeError(`${who}: ${name} must be class labels (an array, a typed array or a Tensor of shape (n,)), got ${describe(v)}`);
}

/**
 * Confusion matrix: `m[actual][predicted]` counts.
 *
 * Shape: predicted, actual (n,) labels in [0, classes) → classes × classes.
 * @example
 * confusionMatrix([0, 1, 1], [0, 1, 0], 2)  // [[1, 1], [0, 1]]
 * @param predicted Predicted labels: an array, a typed array or a Tensor (n,) or (n, 1).
 * @param actual True labels, as `predicted`.
 * @param classes The number of classes, at most {@link MAX_CONFUSION_CLASSES}.
 */
export function confusionMatrix(predicted: ArrayLike<number> | Tensor, actual: ArrayLike<number> | Tensor, classes: number): number[][] {
  predicted = labelsArgument('confusionMatrix', 'predicted', predicted);
  actual = labelsArgument('confusionMatrix', 'actual', actual);
  // classes² counts: 1e5 classes asked for 10^10 of them, and the process ran out of memory.
  if (!Number.isInteger(classes) || classes < 1 || classes > MAX_CONFUSION_CLASSES) {
    throw new RangeError(
      `confusionMatrix: classes must be an integer in [1, ${MAX_CONFUSION_CLASSES}] (the matrix holds classes² counts), got ${describe(classes)}`,
    );
  }
  if (predicted.length !== actual.length) {
    throw new RangeError(`confusionMatrix: ${predicted.length} predictions for ${actual.length} labels`);
  }
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < predicted.length; i++) {
    const a = actual[i];
    const p = predicted[i];
    if (!(Number.isInteger(a) && Number.isInteger(p) && a >= 0 && a < classes && p >= 0 && p < classes)) {
      // A fraction is likely a probability given as a label: say so rather than "outside".
      const fraction = !Number.isInteger(a) || !Number.isInteger(p);
      throw new RangeError(
        `confusionMatrix: label ${i} (actual ${a}, predicted ${p}) ${fraction ? `is not an integer class in [0, ${classes}) (probabilities? threshold or argmax them first)` : `outside [0, ${classes})`}`,
      );
    }
    m[a][p] += 1;
  }
  return m;
}

/**
 * Fraction of samples whose true class is among the `k` highest scores (Keras's
 * `topKCategoricalAccuracy`). Equal scores rank by class index, the lower first, as `argmax`
 * breaks them: top-1 is the accuracy on finite scores (a true class scoring NaN is a miss here,
 * where argmax may pick it), and a network that scores every class the same (dead units)
 * gets k / classes, not 1 (TensorFlow's `in_top_k` counts every tied class as in the top k).
 * NaN ranks above every number, as in `torch.topk`: a sample whose true class scores NaN is a miss.
 *
 * @param scores Scores, probabilities or logits, (n, classes).
 * @param labels The true class of each sample, (n,): an array, a typed array or a Tensor (n,) or (n, 1).
 * @param k How many of the top scores count (default 5).
 * @example
 * topKAccuracy(predict(net, x), labels, 5)  // 0.994
 */
export function topKAccuracy(scores: Tensor, labels: ArrayLike<number> | Tensor, k = 5): number {
  if (!isTensor(scores)) throw new TypeError(`topKAccuracy: scores must be a Tensor (n, classes), got ${describe(scores)}`);
  labels = labelsArgument('topKAccuracy', 'labels', labels);
  if (scores.shape.length !== 2) throw new RangeError(`topKAccuracy: expected scores (n, classes), got ${formatShape(scores.shape)}`);
  const [n, classes] = scores.shape;
  if (labels.length !== n) throw new RangeError(`topKAccuracy: ${n} rows of scores for ${labels.length} labels`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`topKAccuracy: k must be a positive integer, got ${k}`);
  // As torch.topk: k past the classes is an error (it would count every sample a hit).
  if (k > classes) throw new RangeError(`topKAccuracy: k must be at most the ${classes} classes of the scores, got ${k}`);
  let hits = 0;
  for (let r = 0; r < n; r++) {
    const label = labels[r];
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw new RangeError(`topKAccuracy: label ${r} is ${label}, expected an integer in [0, ${classes})`);
    }
    const own = scores.data[r * classes + label];
    // NaN ranks above every number, as in torch.topk: a NaN score of the true class is no hit
    // (a diverged network is not right), another class's NaN is above it.
    if (Number.isNaN(own)) continue;
    let above = 0;
    for (let c = 0; c < classes; c++) {
      const v = scores.data[r * classes + c];
      if (v > own || (v === own && c < label) || Number.isNaN(v)) above++;
    }
    if (above < k) hits++;
  }
  return n === 0 ? 0 : hits / n;
}

/** Per-class precision, recall and F1, and their unweighted means over the classes (macro averages). */
export interface ClassReport {
  /** Of the samples predicted as class c, the fraction that are c (0 when none was predicted). */
  precision: number[];
  /** Of the samples of class c, the fraction predicted as c (0 when the class has none). */
  recall: number[];
  /** Harmonic mean of precision and recall per class (0 when both are 0). */
  f1: number[];
  /** Samples of each class. */
  support: number[];
  /** Mean of `precision` over the classes that occur among the targets or the predictions (scikit-learn's macro average). */
  macroPrecision: number;
  /** Mean of `recall` over the same classes. */
  macroRecall: number;
  /** Mean of `f1` over the same classes. */
  macroF1: number;
}

/**
 * Precision, recall and F1 of each class from a confusion matrix `m[actual][predicted]`, as
 * scikit-learn's `classification_report`.
 *
 * @param confusion The matrix of {@link confusionMatrix} (or of `evaluate`).
 * @example
 * const { f1, macroF1 } = classReport(evaluate(net, loss, test).confusion!);
 */
export function classReport(confusion: readonly (readonly number[])[]): ClassReport {
  const classes = confusion.length;
  if (!confusion.every((row) => Array.isArray(row) && row.length === classes)) {
    throw new RangeError(
      `classReport: expected a square confusion matrix, got ${classes} rows of lengths ${confusion.map((r) => r?.length).join(', ')}`,
    );
  }
  const precision: number[] = [];
  const recall: number[] = [];
  const f1: number[] = [];
  const support: number[] = [];
  /** Classes that occur among the targets or the predictions: the ones the macro means average. */
  const present: number[] = [];
  for (let c = 0; c < classes; c++) {
    const hits = confusion[c][c];
    let predicted = 0;
    let actual = 0;
    for (let o = 0; o < classes; o++) {
      predicted += confusion[o][c];
      actual += confusion[c][o];
    }
    const p = predicted === 0 ? 0 : hits / predicted;
    const r = actual === 0 ? 0 : hits / actual;
    precision.push(p);
    recall.push(r);
    f1.push(p + r === 0 ? 0 : (2 * p * r) / (p + r));
    support.push(actual);
    if (actual > 0 || predicted > 0) present.push(c);
  }
  // Over the classes present, as scikit-learn's default labels (those in y_true or y_pred): a
  // class of the output that no sample has and none was predicted as would count as a 0.
  const mean = (v: number[]): number => (present.length === 0 ? 0 : present.reduce((a, c) => a + v[c], 0) / present.length);
  return { precision, recall, f1, support, macroPrecision: mean(precision), macroRecall: mean(recall), macroF1: mean(f1) };
}

function checkSameSize(who: string, yhat: Tensor, y: Tensor): void {
  if (yhat.data.length !== y.data.length || yhat.shape[0] !== y.shape[0]) {
    throw new RangeError(`${who}: predictions ${formatShape(yhat.shape)} and targets ${formatShape(y.shape)} differ in size`);
  }
}

/**
 * Mean over every entry of (y − ŷ)², as PyTorch's `MSELoss()` and Keras's `mse` metric (not per
 * sample like neurone's `MSELoss.forward`).
 *
 * @param yhat Predictions.
 * @param y Targets of the same size.
 */
export function meanSquaredError(yhat: Tensor, y: Tensor): number {
  checkSameSize('meanSquaredError', yhat, y);
  let s = 0;
  for (let i = 0; i < y.data.length; i++) s += (y.data[i] - yhat.data[i]) ** 2;
  return y.data.length === 0 ? 0 : s / y.data.length;
}

/**
 * Mean over every entry of |y − ŷ|.
 *
 * @param yhat Predictions.
 * @param y Targets of the same size.
 */
export function meanAbsoluteError(yhat: Tensor, y: Tensor): number {
  checkSameSize('meanAbsoluteError', yhat, y);
  let s = 0;
  for (let i = 0; i < y.data.length; i++) s += Math.abs(y.data[i] - yhat.data[i]);
  return y.data.length === 0 ? 0 : s / y.data.length;
}

/**
 * The metrics `fit` and `evaluate` can report besides loss and accuracy: `'top5'` (any `'topK'`),
 * `'precision'`, `'recall'`, `'f1'` (macro averages; the per-class values are in
 * {@link Evaluation.classReport}), `'mse'` and `'mae'` (over every entry, for regressions).
 */
export type MetricName = `top${number}` | 'precision' | 'recall' | 'f1' | 'mse' | 'mae';

/** Checks a list of metric names; returns it. @internal */
export function checkMetricNames(who: string, names: unknown): MetricName[] {
  if (!Array.isArray(names)) throw new TypeError(`${who}: metrics must be an array of names, got ${String(names)}`);
  for (const name of names) {
    if (typeof name !== 'string' || !(/^top[1-9][0-9]*$/.test(name) || ['precision', 'recall', 'f1', 'mse', 'mae'].includes(name))) {
      // Keras's and TF.js's metrics: ['accuracy'] asks for what neurone reports unasked.
      const reported = typeof name === 'string' && ['accuracy', 'acc', 'loss'].includes(name);
      throw new RangeError(
        `${who}: unknown metric ${JSON.stringify(name)}; valid metrics: top1, top5 (any topK), precision, recall, f1, mse, mae` +
          (reported
            ? ` (the loss, and the accuracy with a classification loss, are reported without asking: leave ${JSON.stringify(name)} out)`
            : ''),
      );
    }
  }
  return names as MetricName[];
}

/**
 * Refuses a `topK` metric whose k exceeds the classes of a network's output (n, classes), before
 * any step: `top5` of 3 classes would report 1 every epoch. @internal
 */
export function checkTopK(who: string, names: readonly MetricName[], outputShape: readonly number[]): void {
  if (outputShape.length !== 2 || outputShape[1] < 2) return; // not class scores: the metric says so when it runs
  const classes = outputShape[1];
  for (const name of names) {
    const k = name.startsWith('top') ? Number(name.slice(3)) : 0;
    if (k > classes)
      throw new RangeError(`${who}: metric ${name} asks for the ${k} best of the network's ${classes} classes; use top1 to top${classes}`);
  }
}

/**
 * The named metrics of predictions `yhat` against targets `y`. Classification metrics need a
 * classification (see {@link classify}); a metric that does not apply throws, naming it.
 * @internal
 */
export function computeMetrics(
  who: string,
  names: readonly MetricName[],
  yhat: Tensor,
  y: Tensor,
  signed?: boolean,
): { values: Record<string, number>; report?: ClassReport } {
  const values: Record<string, number> = {};
  let report: ClassReport | undefined;
  let labels: Labels | null | undefined;
  const classification = (name: string): Labels => {
    if (labels === undefined) labels = classify(yhat, y, undefined, signed);
    if (!labels)
      throw new RangeError(
        `${who}: metric ${name} needs a classification; predictions ${formatShape(yhat.shape)} and targets ${formatShape(y.shape)} are not one`,
      );
    return labels;
  };
  for (const name of names) {
    if (name === 'mse') values.mse = meanSquaredError(yhat, y);
    else if (name === 'mae') values.mae = meanAbsoluteError(yhat, y);
    else if (name.startsWith('top')) {
      const l = classification(name);
      if (yhat.shape.length !== 2 || yhat.shape[1] < 2)
        throw new RangeError(`${who}: metric ${name} needs (n, classes) scores, got ${formatShape(yhat.shape)}`);
      values[name] = topKAccuracy(yhat, l.actual, Number(name.slice(3)));
    } else {
      const l = classification(name);
      checkPerClassMetric(who, name, l.classes);
      report ??= classReport(confusionMatrix(l.predicted, l.actual, l.classes));
      values[name] = name === 'precision' ? report.macroPrecision : name === 'recall' ? report.macroRecall : report.macroF1;
    }
  }
  return { values, report };
}

/**
 * Sums the named metrics over the batches of an epoch, for `fit`'s `trainMetrics`: top-k hits,
 * squared and absolute errors, and a confusion matrix for precision, recall and F1.
 * @internal
 */
export class MetricAccumulator {
  private rows = 0;
  private entries = 0;
  private sums: Record<string, number> = {};
  private confusion: number[][] | null = null;

  constructor(
    private readonly who: string,
    private readonly names: readonly MetricName[],
    /** Whether one-output targets are {−1, 1}, decided on the whole set ({@link signedTargets}). */
    private readonly signed?: boolean,
  ) {}

  /** Adds one batch's predictions and targets. */
  add(yhat: Tensor, y: Tensor): void {
    const rows = yhat.shape[0];
    const classMetrics = this.names.filter((n) => n.startsWith('top') || n === 'precision' || n === 'recall' || n === 'f1');
    const labels = classMetrics.length > 0 ? classify(yhat, y, undefined, this.signed) : null;
    if (classMetrics.length > 0 && !labels) {
      // Only the ones that do (mse and mae take any shapes).
      throw new RangeError(
        `${this.who}: ${classMetrics.length === 1 ? `metric ${classMetrics[0]} needs` : `metrics ${classMetrics.join(', ')} need`} a classification; predictions ${formatShape(yhat.shape)} and targets ${formatShape(y.shape)} are not one`,
      );
    }
    for (const name of this.names) {
      if (name === 'mse') this.sums.mse = (this.sums.mse ?? 0) + meanSquaredError(yhat, y) * y.data.length;
      else if (name === 'mae') this.sums.mae = (this.sums.mae ?? 0) + meanAbsoluteError(yhat, y) * y.data.length;
      else if (name.startsWith('top') && labels) {
        if (yhat.shape.length !== 2 || yhat.shape[1] < 2)
          throw new RangeError(`${this.who}: metric ${name} needs (n, classes) scores, got ${formatShape(yhat.shape)}`);
        this.sums[name] = (this.sums[name] ?? 0) + topKAccuracy(yhat, labels.actual, Number(name.slice(3))) * rows;
      }
    }
    const perClass = this.names.find((n) => n === 'precision' || n === 'recall' || n === 'f1');
    if (labels && perClass) {
      checkPerClassMetric(this.who, perClass, labels.classes);
      this.confusion ??= Array.from({ length: labels.classes }, () => new Array<number>(labels.classes).fill(0));
      for (let i = 0; i < rows; i++) this.confusion[labels.actual[i]][labels.predicted[i]] += 1;
    }
    this.rows += rows;
    this.entries += y.data.length;
  }

  /** The metrics over everything added, by name. */
  values(): Record<string, number> {
    const out: Record<string, number> = {};
    const report = this.confusion ? classReport(this.confusion) : null;
    for (const name of this.names) {
      if (name === 'mse' || name === 'mae') out[name] = this.entries === 0 ? 0 : this.sums[name] / this.entries;
      else if (name.startsWith('top')) out[name] = this.rows === 0 ? 0 : this.sums[name] / this.rows;
      else if (report) out[name] = name === 'precision' ? report.macroPrecision : name === 'recall' ? report.macroRecall : report.macroF1;
    }
    return out;
  }
}
