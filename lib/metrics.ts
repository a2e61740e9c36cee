/**
 * Classification metrics: turning predictions and targets into labels, accuracy, confusion matrix.
 */
import { Tensor, formatShape } from './tensor';

/** Predicted and true class labels of a batch. */
export interface Labels {
  predicted: Int32Array;
  actual: Int32Array;
  classes: number;
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
 */
export function classify(yhat: Tensor, y: Tensor, reuse?: Labels): Labels | null {
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
    let signed = false;
    for (let i = 0; i < batch; i++) {
      const v = y.data[i];
      if (v === -1) signed = true;
      else if (v !== 0 && v !== 1) return null;
    }
    const threshold = signed ? 0 : 0.5;
    for (let i = 0; i < batch; i++) {
      actual[i] = y.data[i] > threshold ? 1 : 0;
      predicted[i] = yhat.data[i] > threshold ? 1 : 0;
    }
    return { predicted, actual, classes: 2 };
  }
  for (let r = 0; r < batch; r++) {
    let best = 0;
    for (let c = 1; c < width; c++) if (yhat.data[r * width + c] > yhat.data[r * width + best]) best = c;
    predicted[r] = best;
  }
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
 * accuracy(net.forward(x), yOneHot)  // 0.93
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

/**
 * Confusion matrix: `m[actual][predicted]` counts.
 *
 * Shape: predicted, actual (n,) labels in [0, classes) → classes × classes.
 * @example
 * confusionMatrix([0, 1, 1], [0, 1, 0], 2)  // [[1, 1], [0, 1]]
 */
export function confusionMatrix(predicted: ArrayLike<number>, actual: ArrayLike<number>, classes: number): number[][] {
  if (predicted.length !== actual.length) {
    throw new RangeError(`confusionMatrix: ${predicted.length} predictions for ${actual.length} labels`);
  }
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < predicted.length; i++) {
    const a = actual[i];
    const p = predicted[i];
    if (!(a >= 0 && a < classes && p >= 0 && p < classes)) {
      throw new RangeError(`confusionMatrix: label ${i} (actual ${a}, predicted ${p}) outside [0, ${classes})`);
    }
    m[a][p] += 1;
  }
  return m;
}
