/**
 * One training of a sweep, as a worker runs it: the dataset (shared memory), the model, the loss,
 * the optimiser and schedule of `neurone train`, then the evaluation. Used by the pool's worker
 * threads, both for a local sweep and for `neurone worker` taking jobs from a queue.
 */
import { BackendName, getBackend, kernelPath } from '../backend';
import { KernelPathName } from '../backend/ops';
import * as fs from 'fs';
import * as path from 'path';
import { Tensor } from '../tensor';
import { seed as seedGlobal } from '../random';
import { SGD, Adam, Optimizer } from '../optim';
import { fit, evaluate } from '../train';
import { CheckpointError } from '../checkpoint';
import { EpochRecord } from '../logger';
import { save } from '../serialize';
import { ensureDir } from '../data/paths';
import * as data from '../data';
import { Dataset } from '../data';
import { ModelDescription, buildModel, checkModelForInput, defaultPreset, presetDescription } from '../cli/presets';
import { datasetSampleShape, headLoss, viewSamples } from '../cli/model-io';
import { ADAM_DEFAULTS, QUICK, plateauScheduler, trainSubset } from '../cli/recipes';
import { loadTrainTest } from '../cli/datasets';
import { RunConfig, SweepDataset } from './spec';
import { firstLine } from '../messages';

/** A dataset whose arrays live in SharedArrayBuffers: posting it to a worker shares it instead of copying it. */
export interface SharedDataset {
  name: string;
  xShape: number[];
  /** Float32 features. */
  x: SharedArrayBuffer;
  /** Int32 labels. */
  labels: SharedArrayBuffer;
  numClasses: number;
}

/** Train and test parts of one dataset, shared. */
export interface SharedData {
  train: SharedDataset;
  test: SharedDataset;
}

/** What one run gives back: everything the summary and the run's folder need. */
export interface RunMetrics {
  model: string;
  epochs: number;
  bestEpoch?: number;
  stoppedEarly: boolean;
  trainAccuracy?: number;
  trainLoss: number;
  validationAccuracy?: number;
  validationLoss: number;
  testAccuracy?: number;
  testLoss: number;
  /** Training samples processed (all epochs), for the throughput figures. */
  samples: number;
  seconds: number;
  /** When the run started and finished in its worker (ms since 1970): the throughput figures use them. */
  startedAt: number;
  finishedAt: number;
  /** True when the run continued from a checkpoint. */
  resumed: boolean;
  /**
   * Why the checkpoint an interrupted run left could not be continued from (damaged, cut short,
   * another run's): the run started over and replaced it. Absent when there was none to discard.
   */
  checkpointDiscarded?: string;
  /** The backend it trained on (the job's own, or its worker's). */
  backend?: BackendName;
  /**
   * The native kernels' SIMD path it trained on (absent on js): a seed gives the same result on
   * the same path only, so runs of one sweep on machines of other paths may differ. A run resumed
   * on another machine names the path of the machine that finished it.
   */
  kernelPath?: KernelPathName;
  /**
   * The optimiser's settings as the run used them: the spec's, or the defaults it left out
   * (`config` in the run's record holds the spec's values only). The learning rate is the first
   * epoch's; the history has each epoch's.
   */
  optimizer?: { name: 'sgd' | 'adam'; lr: number; weightDecay: number; momentum?: number };
  history: EpochRecord[];
}

function share(ds: Dataset): SharedDataset {
  const x = new SharedArrayBuffer(ds.x.data.byteLength);
  new Float32Array(x).set(ds.x.data);
  const labels = new SharedArrayBuffer(ds.labels.byteLength);
  new Int32Array(labels).set(ds.labels);
  return { name: ds.name, xShape: [...ds.x.shape], x, labels, numClasses: ds.numClasses };
}

/** A Dataset over shared arrays (no copy). */
export function unshare(s: SharedDataset): Dataset {
  return data.makeDataset(s.name, { shape: s.xShape, data: new Float32Array(s.x) }, new Int32Array(s.labels), s.numClasses);
}

/** The key under which a run's data is loaded: runs with the same key share one copy. */
export function dataKey(c: Pick<RunConfig, 'dataset' | 'dataSeed'>): string {
  return ['usps', 'mnist', 'fashion'].includes(c.dataset) ? c.dataset : `${c.dataset}:${c.dataSeed}`;
}

/** Loads a named dataset into shared memory; throws an Error naming the dataset when it cannot. */
export function loadSharedData(name: SweepDataset, dataSeed: number, dir?: string): SharedData {
  let loaded: { train: Dataset; test: Dataset };
  try {
    loaded = loadTrainTest(name, dataSeed, dir);
  } catch (e) {
    throw new Error(`cannot load dataset ${name}: ${firstLine(e)}`);
  }
  return { train: share(loaded.train), test: share(loaded.test) };
}

/** As `neurone train --recipe quick`: SGD's learning rate and weight decay are the quick recipe's, Adam's its defaults. */
const DEFAULT_LR = { adam: ADAM_DEFAULTS.lr, sgd: QUICK.lr } as const;
const DEFAULT_WEIGHT_DECAY = { adam: ADAM_DEFAULTS.weightDecay, sgd: QUICK.weightDecay } as const;

/**
 * Removes a run's checkpoint (a finished run's, or a fresh start's); false when it could not go
 * (a folder made read-only): for a finished run only disk space, which the caller may say.
 */
export function removeCheckpoint(checkpoint: string): boolean {
  try {
    fs.rmSync(checkpoint, { force: true });
    // The validation losses earlier versions kept beside it (the plateau now resumes from the
    // checkpoint alone): removed with it, or a folder of old runs would keep them for ever.
    fs.rmSync(`${checkpoint}.val-losses.json`, { force: true });
    return true;
  } catch {
    return false;
  }
}

/** Where a run keeps its files in the worker: a checkpoint to resume from, the model when asked. */
export interface RunFiles {
  /** Checkpoint written after every epoch, and read back when it exists (an interrupted run continues there). */
  checkpoint?: string;
  /** Save the trained model there. */
  model?: string;
}

/** How an error names the model of a run: its preset (the dataset's default, said so) or its description. */
export function runModelLabel(config: Pick<RunConfig, 'model' | 'dataset'>): string {
  const m = config.model;
  if (typeof m === 'object') return m.name !== undefined ? `model description "${m.name}"` : 'the model description';
  return m === undefined ? `model ${defaultPreset(config.dataset)} (the default for ${config.dataset})` : `model ${m}`;
}

/**
 * The model a run trains: its name (the preset's, the description's own, or `custom`) and its
 * description (a preset's, sized for the data).
 */
export function runModel(
  config: Pick<RunConfig, 'model' | 'dataset'>,
  inputSize: number,
  numClasses: number,
): { name: string; description: ModelDescription } {
  const m = config.model;
  if (typeof m === 'object') return { name: m.name ?? 'custom', description: m as ModelDescription };
  const name = m ?? defaultPreset(config.dataset);
  return { name, description: presetDescription(name, { inputSize, numClasses }) };
}

/**
 * Trains one configuration on shared data and evaluates it. `onEpoch` gets the samples of each
 * finished epoch (the sweep's throughput display). Throws what the training throws.
 */
export async function runTraining(
  config: RunConfig,
  shared: SharedData,
  files: RunFiles = {},
  onEpoch?: (samples: number) => void,
): Promise<RunMetrics> {
  const t0 = performance.now();
  const startedAt = Date.now();
  const fullTrain = trainSubset(unshare(shared.train), config.trainSize, config.seed, '"trainSize"', config.dataset);
  let test = unshare(shared.test);
  if (config.testSize !== undefined && config.testSize > test.labels.length)
    throw new Error(`"testSize" ${config.testSize} is more than the ${test.labels.length} test examples of ${config.dataset}`);
  if (config.testSize !== undefined && config.testSize < test.labels.length) {
    test = data.subset(
      test,
      Array.from({ length: config.testSize }, (_, i) => i),
    );
  }
  const { name: modelName, description } = runModel(config, data.numFeatures(fullTrain), fullTrain.numClasses);
  seedGlobal(config.seed);
  const net = buildModel(description);
  const sampleShape = datasetSampleShape(net, fullTrain.x.shape, config.dataset);
  const split = data.trainTestSplit(fullTrain, { testFraction: config.valFraction, seed: config.seed, stratify: true });
  // A job from the queue skipped the sweep's preflight: its lazily sized layers and activations
  // are bounded here, at the largest batch fit makes of the training part.
  checkModelForInput(net, [1, ...sampleShape], Math.min(config.batchSize, split.train.labels.length));
  const view = (ds: Dataset): Dataset => viewSamples(ds, sampleShape);
  const trainSet = view(split.train);
  const valSet = view(split.test);
  const testSet = view(test);
  const { loss, oneHot } = headLoss(net, 'sum');
  const targets = (ds: Dataset): Tensor =>
    oneHot ? data.oneHot(ds.labels, ds.numClasses) : { shape: [ds.labels.length], data: Float32Array.from(ds.labels) };
  const lr = config.lr ?? DEFAULT_LR[config.optimizer];
  const weightDecay = config.weightDecay ?? DEFAULT_WEIGHT_DECAY[config.optimizer];
  const optimizer: Optimizer =
    config.optimizer === 'adam' ? new Adam({ lr, weightDecay }) : new SGD({ lr, momentum: config.momentum, weightDecay });

  // The plateau schedule of `neurone train` (lib/cli/recipes.ts); a resumed run rebuilds its
  // counters from the checkpoint's epochs (fit calls its resume).
  const scheduler = config.schedule === 'plateau' ? plateauScheduler(optimizer) : undefined;
  const resumeFrom = files.checkpoint && fs.existsSync(files.checkpoint) ? files.checkpoint : undefined;
  // A checkpoint that cannot be continued from would fail the run at every --resume: the run
  // starts over instead (fit changed nothing), from its seed, as if there had been none. One the
  // system would not let it read (EIO, EMFILE) fails the run and is kept for the next --resume.
  const startOver = async (checkpoint: string, e: unknown): Promise<RunMetrics> => {
    const reason = firstLine(e);
    if (!removeCheckpoint(checkpoint)) throw new Error(`${reason}; the run cannot start over: its checkpoint files could not be removed`);
    return { ...(await runTraining(config, shared, files, onEpoch)), checkpointDiscarded: reason };
  };
  const n = trainSet.labels.length;
  const training = fit(
    net,
    loss,
    optimizer,
    { x: trainSet.x, y: targets(trainSet) },
    {
      batchSize: config.batchSize,
      epochs: config.epochs,
      validation: { x: valSet.x, y: targets(valSet) },
      earlyStopping: config.patience > 0 ? { patience: config.patience, monitor: 'valLoss', restoreBest: true } : undefined,
      verbose: 0,
      checkpoint: files.checkpoint ? { path: files.checkpoint } : undefined,
      resumeFrom,
      scheduler,
      onEpochEnd: () => onEpoch?.(n),
    },
  );
  let history;
  try {
    history = await training;
  } catch (e) {
    if (resumeFrom && e instanceof CheckpointError) return startOver(resumeFrom, e);
    throw e;
  }
  const samples = history.epochs.length * n;
  const trainEval = evaluate(net, loss, trainSet.x, targets(trainSet));
  const valEval = evaluate(net, loss, valSet.x, targets(valSet));
  const testEval = evaluate(net, loss, testSet.x, targets(testSet));
  if (files.model) {
    ensureDir(path.dirname(files.model)); // not mkdirSync recursive: see ensureDir
    save(net, files.model, { inputShape: trainSet.x.shape.slice(1) }); // the sample shape, for export
  }
  return {
    model: modelName,
    epochs: history.epochs.length,
    bestEpoch: history.bestEpoch,
    stoppedEarly: history.stoppedEarly,
    trainAccuracy: trainEval.accuracy,
    trainLoss: trainEval.loss,
    validationAccuracy: valEval.accuracy,
    validationLoss: valEval.loss,
    testAccuracy: testEval.accuracy,
    testLoss: testEval.loss,
    samples,
    seconds: (performance.now() - t0) / 1000,
    startedAt,
    finishedAt: Date.now(),
    resumed: resumeFrom !== undefined,
    backend: getBackend(),
    kernelPath: kernelPath(),
    optimizer: { name: config.optimizer, lr, weightDecay, ...(config.optimizer === 'sgd' ? { momentum: config.momentum } : {}) },
    history: history.epochs,
  };
}
