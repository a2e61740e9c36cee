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
import { Rng, globalRng, RngState } from './random';
import { Module } from './nn/module';
import { Optimizer, OptimizerState } from './optim';
import { EpochRecord } from './logger';
import { modelContents, readSafetensors, storedArchitecture, assignWeights, writeSafetensors, StoredTensor } from './serialize';

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
}

interface CheckpointMeta {
  epoch: number;
  rng: RngState;
  optimizer: { type: string; lr: number; steps: Record<string, number> } | null;
  history: EpochRecord[];
  best: number | null;
  bestEpoch: number | null;
  waited: number;
}

const META_KEY = 'neurone.checkpoint';

/** Writes a checkpoint of `net`, `optimizer` and the loop state atomically to `file`. @internal */
export function writeCheckpoint(file: string, net: Module, optimizer: Optimizer, state: FitState): void {
  const { tensors, metadata } = modelContents(net);
  const params = net.parameters();
  const opt: OptimizerState | null = typeof optimizer.state === 'function' ? optimizer.state(params) : null;
  if (opt) {
    for (const [name, data] of Object.entries(opt.buffers)) {
      tensors.push({ name: `optimizer.${name}`, dtype: 'F32', shape: [data.length], data });
    }
  }
  tensors.push({ name: 'fit.order', dtype: 'I32', shape: [state.order.length], data: state.order });
  state.bestWeights?.forEach((w, i) => tensors.push({ name: `fit.best.${params[i].name}`, dtype: 'F32', shape: [...params[i].value.shape], data: w }));
  const meta: CheckpointMeta = {
    epoch: state.epoch,
    rng: globalRng().getState(),
    optimizer: opt ? { type: opt.type, lr: opt.lr, steps: opt.steps } : null,
    history: state.history,
    best: state.best ?? null,
    bestEpoch: state.bestEpoch ?? null,
    waited: state.waited,
  };
  writeSafetensors(file, tensors, { ...metadata, [META_KEY]: JSON.stringify(meta) });
}

/**
 * Restores a checkpoint into `net` and `optimizer`, sets the global generator's state, and
 * returns the loop state (`order` is filled in place). Checks the checkpoint was written for the
 * same architecture and data size, and validates everything before changing anything.
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
  const rawMeta = metadata[META_KEY];
  if (rawMeta === undefined) throw fail(`no ${META_KEY} in the metadata: a model file, not a training checkpoint`);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(rawMeta) as CheckpointMeta;
  } catch (e) {
    throw fail(`corrupt metadata: ${META_KEY} is not valid JSON (${(e as Error).message})`);
  }
  if (meta === null || typeof meta !== 'object' || !Number.isInteger(meta.epoch) || meta.epoch < 1 || !Array.isArray(meta.history)) {
    throw fail(`corrupt metadata: ${META_KEY} lacks a valid epoch or history`);
  }

  const storedOrder = tensors.get('fit.order');
  if (!storedOrder || storedOrder.dtype !== 'I32') throw fail('the tensor fit.order (I32) is missing');
  if (storedOrder.data.length !== order.length) {
    throw fail(`the checkpoint was written for ${storedOrder.data.length} training samples, this dataset has ${order.length}`);
  }

  const params = net.parameters();
  const buffers: Record<string, Float32Array> = {};
  for (const [name, t] of tensors) {
    if (name.startsWith('optimizer.')) buffers[name.slice('optimizer.'.length)] = t.data as Float32Array;
  }
  let optState: OptimizerState | null = null;
  if (meta.optimizer) {
    if (typeof optimizer.loadState !== 'function') {
      throw fail(`the checkpoint holds ${meta.optimizer.type} state but the optimiser ${describe(optimizer)} has no loadState method`);
    }
    optState = { type: meta.optimizer.type, lr: meta.optimizer.lr, steps: meta.optimizer.steps ?? {}, buffers };
  }
  const bestWeights = params.map((p) => tensors.get(`fit.best.${p.name}`));
  const hasBest = bestWeights.some((b) => b !== undefined);
  if (hasBest && bestWeights.some((b, i) => !b || b.data.length !== params[i].value.data.length)) {
    throw fail('the fit.best.* tensors do not match the parameters');
  }

  try {
    new Rng().setState(meta.rng);
  } catch (e) {
    throw fail(`corrupt metadata: ${(e as Error).message}`);
  }

  // Weights first (checked in full before any copy), then the optimiser (its own checks).
  assignWeights(net, tensors, file, who);
  if (optState) {
    try {
      (optimizer.loadState as (p: typeof params, s: OptimizerState) => void)(params, optState);
    } catch (e) {
      throw fail((e as Error).message);
    }
  }
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
  };
}
