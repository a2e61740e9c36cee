/**
 * The layer library: modules, activations and containers.
 * @packageDocumentation
 */
export { Module, Sequential } from './module';
export type { Parameter, ModuleBuffer, ModuleConfig } from './module';
export { Linear } from './linear';
export type { LinearOptions } from './linear';
export { Conv1D, ConvTranspose1D, Upsample1D } from './conv';
export type { Conv1DOptions, ConvTranspose1DOptions } from './conv';
export { MaxPool1D, AvgPool1D, Flatten, Reshape } from './pool';
export type { AvgPool1DOptions, Pool1DOptions } from './pool';
export { Conv2D, ConvTranspose2D, MaxPool2D, AvgPool2D, GlobalAvgPool2D, Upsample2D } from './conv2d';
export type { AvgPool2DOptions, Conv2DOptions, ConvTranspose2DOptions, Pool2DOptions, Size2D } from './conv2d';
export type { PaddingMode } from './schema';
// Every class of activations.ts, so that a new activation needs no line here.
export * from './activations';
export { Dropout } from './dropout';
export { BatchNorm1D, BatchNorm2D } from './batchnorm';
export type { BatchNormOptions } from './batchnorm';
