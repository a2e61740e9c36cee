/**
 * neurone: neural-network training for Node.js.
 *
 * Everything public is exported from here.
 * @packageDocumentation
 */
export type { Tensor } from './tensor';
export {
  tensor, zeros, zerosLike, full, fromArray, randn, rand, reshape, clone, sliceRows, sameShape, argmaxRows,
} from './tensor';
export { Rng, seed } from './random';
export type { RngState } from './random';
export type { Backend } from './backend/types';
export type { BackendName } from './backend';
export { getBackend, setBackend, nativeAvailable, setThreads, getThreads } from './backend';
export * from './nn';
export { Loss, MSELoss, BCELoss, CrossEntropyLoss, CELogSoftmaxLoss, HingeLoss, oneHot, fromOneHot } from './losses';
export { initialize, INIT_NAMES } from './init';
export type { InitName } from './init';
export { SGD, Adam, Optim } from './optim';
export type { Optimizer, OptimizerState, SGDOptions, AdamOptions } from './optim';
export { WeightAverage } from './averaging';
export type { WeightAverageOptions } from './averaging';
export { fit, predict, evaluate, NonFiniteError } from './train';
export type { Dataset, FitOptions, History, EarlyStopping, BatchInfo, PredictOptions, Evaluation } from './train';
export type { CheckpointOptions } from './checkpoint';
export { save, load, loadWeights, registerModule, buildModule } from './serialize';
export type { SaveOptions, ModuleFactory } from './serialize';
export { accuracy, confusionMatrix, classify } from './metrics';
export type { Labels } from './metrics';
export { Logger, formatEpoch } from './logger';
export type { EpochRecord, LoggerOptions } from './logger';
export { lineChartSvg, asciiChart } from './plot';
export type { Series, ChartOptions } from './plot';
/** Datasets: readers, embedded USPS digits, MNIST, Fashion-MNIST, synthetic data, splits and batches (also `neurone/data`). */
export * as data from './data';
/** Model presets and the JSON model-description format of the `neurone` command. */
export { PRESETS, findPreset, presetDescription, buildModel, describeModel, readModelFile, takesSequences, ModelError, LAYER_TYPES } from './presets';
export type { Preset, PresetInput, ModelDescription, LayerSpec } from './presets';
/** Figures: PNG image grids, SVG confusion matrix, multi-panel charts, scatter plots, tables. */
export { imageGridPng, columnsOf, rowsOf, confusionMatrixSvg, panelsSvg, scatterSvg, writeFigure, markdownTable, textTable, meanStd, CLASS_COLORS } from './figures';
export type { ImageGridOptions, ConfusionOptions, Panel, ScatterOptions } from './figures';
