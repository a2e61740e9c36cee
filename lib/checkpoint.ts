/**
 * Training checkpoints for `fit`: everything needed to continue a run exactly as if it had not
 * stopped. A checkpoint is a model file (see serialize.ts; `load` reads it as a model) with more
 * tensors and one more metadata entry:
 *
 * - `optimizer.<param>.<buffer>`: the optimiser's buffers (`optimizer.0.weight.m`, ...);
 * - `fit.order`: the sample order (I32), shuffled in place epoch after epoch;
 * - `fit.best.<param>`: the best weights so far, with `earlyStopping.restoreBest`;
 * - metadata `neurone.checkpoint`: JSON with the epoch, the global generator's state, the
 *   optimiser's type, learning rate and step counts, the history so far and the early-stopping
 *   counters.
 */
import { describe } from './tensor';
import { backend } from './backend';
import { Rng, globalRng, RngState } from './random';
import { Module } from './nn/module';
import { Optimizer, OptimizerState } from './optim';
import { EpochRecord } from './logger';
import {
  modelContents,
  readSafetensors,
  storedArchitecture,
  checkWeights,
  writeSafetensors,
  StoredTensor,
  storedTies,
  storedTiesKey,
  tiesOf,
} from './serialize';

/**
 * Thrown by `fit` when `resumeFrom` names a file it cannot continue from: not a checkpoint,
 * damaged, or written for another network, dataset size or optimiser. Nothing was changed (the
 * network, the optimiser and the random generator are as before the call), so a caller may start
 * the run over instead, as a sweep's `--resume` does. A file the system would not let `fit` read
 * (EACCES, EIO, EMFILE: the file may be fine) is no CheckpointError: that error is thrown as it
 * is, with its `code`.
 */
export class CheckpointError extends Error {
  /**
   * @param file The `resumeFrom` file.
   * @param reason What was wrong with it (its message is this error's).
   */
  constructor(
    readonly file: string,
    reason: unknown,
  ) {
    super(reason instanceof Error ? reason.message : String(reason));
    this.name = 'CheckpointError';
  }
}

/** Options of `fit`'s `checkpoint`. */
export interface CheckpointOptions {
  /** File written (atomically) with the checkpoint; each write replaces the previous one. */
  path: string;
  /** Write every this many epochs (default 1); the last epoch is always written. */
  every?: number;
}

/** The loop state of `fit` that a checkpoint carries besides weights and optimiser. @internal */
export interface FitState {
  /** Last completed epoch (1-based). */
  epoch: number;
  order: Int32Array;
  history: EpochRecord[];
  best: number | undefined;
  bestEpoch: number | undefined;
  waited: number;
  bestWeights: Float32Array[] | null;
  /** Early stopping ended the run at `epoch`. */
  stoppedEarly: boolean;
}

interface CheckpointMeta {
  epoch: number;
  rng: RngState;
  optimizer: { type: string; lr: number; steps: Record<string, number> } | null;
  history: EpochRecord[];
  best: number | null;
  bestEpoch: number | null;
  waited: number;
  /** Absent in checkpoints written before it was recorded: false. */
  stoppedEarly?: boolean;
}

const META_KEY = 'neurone.checkpoint';

/** Writes a checkpoint of `net`, `optimizer` and the loop state atomically to `file`. @internal */
export function writeCheckpoint(file: string, net: Module, optimizer: Optimizer, state: FitState): void {
  const { tensors, metadata } = modelContents(net, {}, `fit: checkpoint: ${file}`);
  const params = net.parameters();
  const opt: OptimizerState | null = typeof optimizer.state === 'function' ? optimizer.state(params) : null;
  if (opt) {
    for (const [name, data] of Object.entries(opt.buffers)) {
      tensors.push({ name: `optimizer.${name}`, dtype: 'F32', shape: [data.length], data });
    }
  }
  tensors.push({ name: 'fit.order', dtype: 'I32', shape: [state.order.length], data: state.order });
  // The best epoch's parameters, then its buffers (BatchNorm's running estimates), as fit keeps them.
  const best = [...params, ...net.buffers()];
  state.bestWeights?.forEach((w, i) =>
    tensors.push({ name: `fit.best.${best[i].name}`, dtype: 'F32', shape: [...best[i].value.shape], data: w }),
  );
  const meta: CheckpointMeta = {
    epoch: state.epoch,
    rng: globalRng().getState(),
    optimizer: opt ? { type: opt.type, lr: opt.lr, steps: opt.steps } : null,
    history: state.history,
    best: state.best ?? null,
    bestEpoch: state.bestEpoch ?? null,
    waited: state.waited,
    stoppedEarly: state.stoppedEarly,
  };
  writeSafetensors(file, tensors, { ...metadata, [META_KEY]: JSON.stringify(meta) }, { who: 'fit: checkpoint' });
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Checks the parsed `neurone.checkpoint` field by field (types and ranges), so that a damaged or
 * hand-edited checkpoint gives an error naming the field rather than an engine error later, or
 * early-stopping counters that silently never trigger.
 */
function checkMeta(raw: unknown, fail: (what: string) => Error): CheckpointMeta {
  const bad = (field: string, expected: string, got: unknown): Error =>
    fail(`corrupt metadata: ${META_KEY}.${field} must be ${expected}, got ${describe(got)}`);
  if (!isObject(raw)) throw fail(`corrupt metadata: ${META_KEY} must be an object, got ${describe(raw)}`);
  const { epoch, history, best, bestEpoch, waited, optimizer, stoppedEarly } = raw;
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 1) throw bad('epoch', 'a positive integer', epoch);
  if (!Array.isArray(history)) throw bad('history', 'an array of epoch records', history);
  // One record per completed epoch, in order (fit pushes one before every checkpoint).
  if (history.length !== epoch) throw bad('history', `${epoch} epoch records (one per completed epoch)`, `${history.length} records`);
  history.forEach((r: unknown, i: number) => {
    const at = `history[${i}]`;
    if (!isObject(r)) throw bad(at, 'an epoch record', r);
    if (r.epoch !== i + 1) throw bad(`${at}.epoch`, `${i + 1}`, r.epoch);
    // A NaN loss (allowNonFinite) is written by JSON as null.
    for (const k of ['trainLoss', 'valLoss'] as const) {
      if (k in r && typeof r[k] !== 'number' && r[k] !== null) throw bad(`${at}.${k}`, 'a number', r[k]);
      if (r[k] === null) r[k] = NaN;
    }
    if (!('trainLoss' in r)) throw bad(`${at}.trainLoss`, 'a number', undefined);
    for (const k of ['trainAccuracy', 'valAccuracy'] as const) {
      if (k in r && (typeof r[k] !== 'number' || !((r[k] as number) >= 0 && (r[k] as number) <= 1)))
        throw bad(`${at}.${k}`, 'a number in [0, 1]', r[k]);
    }
    if (typeof r.seconds !== 'number' || !(r.seconds >= 0)) throw bad(`${at}.seconds`, 'a number >= 0', r.seconds);
    // The learning rate of the epoch and the metrics asked of fit (TrainingRecord's own fields).
    if ('lr' in r && (typeof r.lr !== 'number' || !(r.lr >= 0))) throw bad(`${at}.lr`, 'a number >= 0', r.lr);
    for (const field of ['trainMetrics', 'valMetrics'] as const) {
      if (!(field in r)) continue;
      const m = r[field];
      if (!isObject(m)) throw bad(`${at}.${field}`, 'an object of numbers', m);
      for (const [name, v] of Object.entries(m)) {
        if (typeof v !== 'number' && v !== null) throw bad(`${at}.${field}.${name}`, 'a number', v);
        if (v === null) m[name] = NaN;
      }
    }
    for (const k of Object.keys(r)) {
      if (!['epoch', 'trainLoss', 'trainAccuracy', 'valLoss', 'valAccuracy', 'seconds', 'lr', 'trainMetrics', 'valMetrics'].includes(k))
        throw fail(`corrupt metadata: ${META_KEY}.${at} has an unknown field '${k}'`);
    }
  });
  if (best !== null && best !== undefined && (typeof best !== 'number' || !Number.isFinite(best)))
    throw bad('best', 'a finite number or null', best);
  if (
    bestEpoch !== null &&
    bestEpoch !== undefined &&
    (typeof bestEpoch !== 'number' || !Number.isInteger(bestEpoch) || bestEpoch < 1 || bestEpoch > epoch)
  ) {
    throw bad('bestEpoch', `an integer in [1, ${epoch}] or null`, bestEpoch);
  }
  const hasBest = best !== null && best !== undefined;
  const hasBestEpoch = bestEpoch !== null && bestEpoch !== undefined;
  if (hasBest !== hasBestEpoch)
    throw fail(
      `corrupt metadata: ${META_KEY}.best and bestEpoch must be both set or both null, got ${describe(best)} and ${describe(bestEpoch)}`,
    );
  const w = waited ?? 0;
  // fit resets waited at each improvement and counts every epoch since: it is epoch − bestEpoch;
  // with no best yet (every value NaN so far, or no early stopping), all epochs or none.
  const expectedWaited = hasBestEpoch ? [epoch - (bestEpoch as number)] : [0, epoch];
  if (typeof w !== 'number' || !Number.isInteger(w) || !expectedWaited.includes(w)) {
    throw bad('waited', `${expectedWaited.join(' or ')} (epochs since bestEpoch ${hasBestEpoch ? bestEpoch : 'none'})`, w);
  }
  if (stoppedEarly !== undefined && typeof stoppedEarly !== 'boolean') throw bad('stoppedEarly', 'true or false', stoppedEarly);
  if (stoppedEarly === true && w < 1) throw bad('waited', 'at least 1 when stoppedEarly (early stopping waits an epoch or more)', w);
  if (optimizer !== null && optimizer !== undefined) {
    if (!isObject(optimizer)) throw bad('optimizer', 'an object { type, lr, steps } or null', optimizer);
    if (typeof optimizer.type !== 'string') throw bad('optimizer.type', 'a string', optimizer.type);
    if (typeof optimizer.lr !== 'number' || !Number.isFinite(optimizer.lr) || optimizer.lr < 0)
      throw bad('optimizer.lr', 'a finite number >= 0', optimizer.lr);
    const steps = optimizer.steps ?? {};
    if (!isObject(steps)) throw bad('optimizer.steps', 'an object of step counts', steps);
    for (const [k, v] of Object.entries(steps)) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw bad(`optimizer.steps['${k}']`, 'a positive integer', v);
    }
  }
  return raw as unknown as CheckpointMeta;
}

/**
 * Restores a checkpoint into `net` and `optimizer`, sets the global generator's state, and
 * returns the loop state (`order` is filled in place). Checks the checkpoint was written for the
 * same architecture (and sharing of parameters) and data size, and validates everything before
 * changing anything: a refused resume leaves the weights, the optimiser and the generator as
 * they were. The optimiser's `loadState` must itself check before it changes anything (SGD and
 * Adam do); it runs after every other check, and the weights are copied only once it succeeded.
 * @internal
 */
export function readCheckpoint(file: string, net: Module, optimizer: Optimizer, order: Int32Array): FitState {
  const who = 'fit: resumeFrom';
  const fail = (what: string): Error => new Error(`${who}: ${file}: ${what}`);
  const { tensors, metadata } = readSafetensors(file, who);
  const arch = JSON.stringify(storedArchitecture(metadata, file, who));
  if (arch !== JSON.stringify(net.config())) {
    throw fail(`the checkpoint is for the network ${arch}, not ${JSON.stringify(net.config())}`);
  }
  const storedShares = storedTiesKey(metadata, file, who);
  const netShares = tiesOf(net, who);
  if (storedShares !== netShares) throw fail(`the checkpoint shares parameters as ${storedShares}, the network as ${netShares}`);
  const rawMeta = metadata[META_KEY];
  if (rawMeta === undefined) throw fail(`no ${META_KEY} in the metadata: a model file, not a training checkpoint`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawMeta);
  } catch (e) {
    throw fail(`corrupt metadata: ${META_KEY} is not valid JSON (${(e as Error).message})`);
  }
  const meta = checkMeta(parsed, fail);

  const storedOrder = tensors.get('fit.order');
  if (!storedOrder || storedOrder.dtype !== 'I32') throw fail('the tensor fit.order (I32) is missing');
  if (storedOrder.data.length !== order.length) {
    throw fail(`the checkpoint was written for ${storedOrder.data.length} training samples, this dataset has ${order.length}`);
  }
  // A permutation of 0..n−1: anything else would train on some samples several times and skip
  // others (all zeros: sample 0 only), or index outside the data.
  const seen = new Uint8Array(order.length);
  for (let i = 0; i < storedOrder.data.length; i++) {
    const v = storedOrder.data[i];
    if (!(v >= 0 && v < order.length) || seen[v]) {
      throw fail(
        `fit.order is not a permutation of 0..${order.length - 1}: entry ${i} is ${v}${v >= 0 && v < order.length ? ', already listed' : ''}`,
      );
    }
    seen[v] = 1;
  }

  const params = net.parameters();
  const buffers: Record<string, Float32Array> = {};
  for (const [name, t] of tensors) {
    if (!name.startsWith('optimizer.')) continue;
    if (t.dtype !== 'F32') throw fail(`tensor '${name}' has dtype ${t.dtype}, optimiser buffers are F32`);
    buffers[name.slice('optimizer.'.length)] = t.data as Float32Array;
  }
  let optState: OptimizerState | null = null;
  if (meta.optimizer) {
    if (typeof optimizer.loadState !== 'function') {
      throw fail(`the checkpoint holds ${meta.optimizer.type} state but the optimiser ${describe(optimizer)} has no loadState method`);
    }
    optState = { type: meta.optimizer.type, lr: meta.optimizer.lr, steps: meta.optimizer.steps ?? {}, buffers };
  } else if (Object.keys(buffers).length > 0) {
    throw fail('optimizer.* tensors without optimiser metadata');
  }
  const best = [...params, ...net.buffers()];
  const bestWeights = best.map((p) => tensors.get(`fit.best.${p.name}`));
  const hasBest = bestWeights.some((b) => b !== undefined);
  if (hasBest && bestWeights.some((b, i) => !b || b.dtype !== 'F32' || b.data.length !== best[i].value.data.length)) {
    throw fail('the fit.best.* tensors do not match the parameters');
  }
  if (hasBest && (meta.bestEpoch === null || meta.bestEpoch === undefined)) throw fail('fit.best.* tensors without a bestEpoch');
  // The weights restoreBest puts back at the end, checked as the weights themselves are: NaN here
  // trained on and was restored without a word, and save then wrote a file load refuses.
  if (hasBest) {
    bestWeights.forEach((b, i) => {
      const data = (b as StoredTensor).data as Float32Array;
      const at = backend().nonFiniteIndex(data, data.length);
      if (at >= 0) throw fail(`fit.best.${best[i].name} holds ${data[at]} at index ${at}; the best epoch's weights are finite`);
    });
  }

  try {
    new Rng().setState(meta.rng);
  } catch (e) {
    throw fail(`corrupt metadata: ${META_KEY}.rng: ${(e as Error).message}`);
  }
  const copyWeights = checkWeights(net, tensors, file, who, storedTies(metadata, file, who));

  // Everything is checked. The optimiser's own checks come last, before anything is changed;
  // after it, only copies that cannot fail.
  if (optState) {
    try {
      (optimizer.loadState as (p: typeof params, s: OptimizerState) => void)(params, optState);
    } catch (e) {
      throw fail((e as Error).message);
    }
  }
  copyWeights();
  globalRng().setState(meta.rng);
  order.set(storedOrder.data);
  return {
    epoch: meta.epoch,
    order,
    history: meta.history,
    best: meta.best ?? undefined,
    bestEpoch: meta.bestEpoch ?? undefined,
    waited: meta.waited ?? 0,
    bestWeights: hasBest ? bestWeights.map((b) => (b as StoredTensor).data as Float32Array) : null,
    stoppedEarly: meta.stoppedEarly ?? false,
  };
}
