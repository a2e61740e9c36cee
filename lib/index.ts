/**
 * neurone: neural-network training for Node.js.
 *
 * The library: tensors, modules, losses, initialisation, optimisers, training, backend control,
 * save and load, sweeps (many trainings side by side, or across machines on BullMQ), style transfer. Datasets are
 * also under `neurone/data`; the figures and tables of the reports under `neurone/report`; the
 * `neurone` command's own files (presets, model descriptions) are not part of the API.
 * @packageDocumentation
 */
// The declarations name Node's types (Buffer, streams): the reference brings them into a
// project that has @types/node, whatever its "types" setting says (TypeScript 6 and later list none by
// default); `preserve` keeps it in the emitted declarations.
/// <reference types="node" preserve="true" />
export type { Tensor, NestedArray, TensorValues } from './tensor';
export {
  tensor,
  zeros,
  zerosLike,
  full,
  fromArray,
  toArray,
  randn,
  rand,
  reshape,
  clone,
  sliceRows,
  sameShape,
  argmaxRows,
} from './tensor';
export { Rng, seed } from './random';
export type { RngState } from './random';
export type { BackendName } from './backend';
export { getBackend, setBackend, nativeAvailable, setThreads, getThreads } from './backend';
export * from './nn';
export { Loss, MSELoss, BCELoss, CrossEntropyLoss, CELogSoftmaxLoss, HingeLoss, fromOneHot } from './losses';
export { oneHot } from './data/dataset';
export type { Reduction, LossOptions, CrossEntropyOptions } from './losses';
export { initialize, INIT_NAMES } from './init';
export type { InitName } from './init';
export { SGD, Adam, AdamW, Optim } from './optim';
export { StepLR, CosineAnnealingLR, LinearWarmup, ReduceLROnPlateau, EpochScheduler } from './schedulers';
export type { LRScheduler, StepLROptions, CosineOptions, WarmupOptions, PlateauOptions } from './schedulers';
export { clipGradNorm, clipGradValue } from './clip';
export type { Optimizer, OptimizerState, SGDOptions, AdamOptions, AdamWOptions } from './optim';
export { WeightAverage, updateBatchNorm } from './averaging';
export type { WeightAverageOptions, UpdateBatchNormOptions } from './averaging';
export { fit, predict, evaluate, NonFiniteError } from './train';
export { CheckpointError } from './checkpoint';
export type {
  TrainingData,
  FitOptions,
  History,
  TrainingRecord,
  EarlyStopping,
  BatchInfo,
  PredictOptions,
  EvaluateOptions,
  Evaluation,
} from './train';
export type { CheckpointOptions } from './checkpoint';
export { save, load, loadWeights, registerModule, buildModule, LIMITS } from './serialize';
export type { SaveOptions, LoadOptions, WeightLayout, ModuleFactory } from './serialize';
export { toONNX, ONNX_OPSET, ONNX_IR_VERSION } from './export/onnx';
export type { ONNXOptions } from './export/onnx';
export {
  accuracy,
  confusionMatrix,
  MAX_CONFUSION_CLASSES,
  classify,
  topKAccuracy,
  classReport,
  meanSquaredError,
  meanAbsoluteError,
} from './metrics';
export type { Labels, ClassReport, MetricName } from './metrics';
export { Logger, formatEpoch } from './logger';
export type { EpochRecord, LoggerOptions } from './logger';
export { sweep, startQueueWorker, SpecError, validateSpec, expandSpec, SWEEP_DATASETS } from './sweep';
export type {
  SweepOptions,
  SweepResult,
  SweepStatus,
  SweepSpec,
  SweepRun,
  RunConfig,
  SweepDataset,
  RunRecord,
  SummaryRow,
  RunMetrics,
  QueueWorker,
  QueueWorkerOptions,
} from './sweep';
export { styleTransfer, styleDistance, randomStyleFeatures, trainStyleFeatures, StyleOverflowError } from './style';
export type {
  StyleFeatures,
  StyleFeatureOptions,
  TrainStyleFeatureOptions,
  StyleTransferOptions,
  StyleTransferResult,
  StyleLoss,
} from './style';
/** Datasets: readers, embedded USPS digits, MNIST, Fashion-MNIST, synthetic data, splits and batches (also `neurone/data`). */
export * as data from './data';
