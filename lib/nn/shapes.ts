/**
 * A sample's shape followed through a network, layer by layer, without running it or drawing a
 * lazily sized layer's weights: what the checks before a run (fit's batch-norm check, the
 * bounds of described models and of the commands) read. @internal
 */
import { Module, Sequential } from './module';
import { Linear } from './linear';
import { BatchNorm } from './batchnorm';
import { sizeOf } from '../tensor';

/**
 * Follows a sample of `sampleShape` ((1, …)) through `net` and its nested Sequentials, calling
 * `visit` with each layer, the shape it receives and the one it gives; returns the network's
 * output shape. A lazily sized `Linear(null, n)` gives (batch, n) on paper: its `outputShape`
 * would draw its weights. A layer that refuses its input throws its own error. @internal
 */
export function followLayers(
  net: Module,
  sampleShape: readonly number[],
  visit: (layer: Module, input: readonly number[], output: readonly number[]) => void,
): readonly number[] {
  const walk = (m: Module, shape: readonly number[]): readonly number[] => {
    if (m instanceof Sequential) {
      for (const c of m.modules) shape = walk(c, shape);
      return shape;
    }
    const features = shape[shape.length - 1];
    const out =
      m instanceof Linear && m.lazy && shape.length >= 2 && Number.isInteger(features) && features >= 1
        ? [...shape.slice(0, -1), m.outputSize]
        : m.outputShape([...shape]);
    visit(m, shape, out);
    return out;
  };
  return walk(net, sampleShape);
}

/**
 * The first batch norm of `net` that a batch of one sample of shape `sampleShape` gives one value
 * per channel (a BatchNorm1D after a Flatten or a Linear), which cannot measure a spread in
 * training mode; undefined when every one sees a spread (a BatchNorm2D's image positions). @internal
 */
export function batchNormOfOneValue(net: Module, sampleShape: readonly number[]): BatchNorm | undefined {
  let layer: BatchNorm | undefined;
  followLayers(net, [1, ...sampleShape], (m, input) => {
    if (!layer && m instanceof BatchNorm && sizeOf(input) === m.channels) layer = m;
  });
  return layer;
}
