/**
 * Model presets and the JSON model-description format used by the `neurone` command.
 *
 * A model description is `{ "layers": [{ "type": "Linear", "args": [784, 10], "options": { ... } }, ...] }`:
 * each layer is exactly what that module's `toJSON()` gives (a `Linear(null, n)` sized by its
 * first input keeps its null), so `describeModel(net)` and `buildModel(description)` round-trip. The `{ "type": "Sequential", "modules": [...] }` form that
 * `JSON.stringify(net)` writes is accepted too.
 *
 * Presets are functions of the input (features, or sequence length) and the number of classes,
 * so the same name works for USPS (256 features), MNIST (784) or the 2-D toy problems.
 */
import { describe } from '../tensor';
import { decodeText, readDataFile } from '../data/read';
import { Module, ModuleConfig, Sequential } from '../nn/module';
import { Linear } from '../nn/linear';
import { followLayers } from '../nn/shapes';
import { moduleType, moduleTypes } from '../nn/registry';
import { checkArguments } from '../nn/schema';
import { LIMITS } from '../serialize';
import { firstLine } from '../messages';
import { didYouMean, unknownKeyMessage } from './command';

/** One layer of a model description: a module's `toJSON()`. */
export type LayerSpec = ModuleConfig;

/** A model: its layers, applied in order (a Sequential). */
export interface ModelDescription {
  layers: LayerSpec[];
}

/** What a preset needs to know about the data. */
export interface PresetInput {
  /** Features per example (sequence length for the convolutional presets). */
  inputSize: number;
  numClasses: number;
}

/** A named model: a short description and the function that writes its layers. */
export interface Preset {
  name: string;
  summary: string;
  /** What the model takes: flat rows (batch, n), sequences (batch, length, 1) or square images (batch, side, side, 1). */
  takes: 'rows' | 'sequence' | 'image';
  /** The layers for a given input (its length and channels, and the number of classes). */
  layers(input: PresetInput): LayerSpec[];
}

/** Thrown for a description that cannot be built; the message is one line for the user. */
export class ModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelError';
  }
}

const L = (type: string, ...args: unknown[]): LayerSpec => ({ type, args });
const Lo = (type: string, args: unknown[], options: Record<string, unknown>): LayerSpec => ({ type, args, options });

/** Length after a valid (unpadded) convolution of size k, stride 1, then a pool of size 2 stride 2. */
function convPool(length: number, k: number): number {
  return Math.floor((length - k + 1 - 2) / 2) + 1;
}

/** A stack of `blocks` Conv1D(k)→ReLU→MaxPool1D(2,2) blocks, channels doubling from `maps`, then a 100-unit MLP head. */
function convStack(input: PresetInput, blocks: number, k: number, maps: number): LayerSpec[] {
  const layers: LayerSpec[] = [];
  let length = input.inputSize;
  let chan = 1;
  for (let b = 0; b < blocks; b++) {
    const out = maps * 2 ** b;
    layers.push(L('Conv1D', k, chan, out, 1), L('ReLU'), L('MaxPool1D', 2, 2));
    length = convPool(length, k);
    if (length < 1)
      throw new ModelError(`preset cnn${blocks}: input length ${input.inputSize} is too short for ${blocks} conv(${k})+pool(2) blocks`);
    chan = out;
  }
  layers.push(L('Flatten'), L('Linear', length * chan, 100), L('ReLU'), L('Linear', 100, input.numClasses));
  return layers;
}

/** The side of the square one-channel images of `inputSize` pixels, for preset `name`. */
function squareSide(name: string, inputSize: number): number {
  const side = Math.round(Math.sqrt(inputSize));
  if (side * side !== inputSize)
    throw new ModelError(`preset ${name} takes square one-channel images (16×16 USPS, 28×28 MNIST); ${inputSize} features are not one`);
  return side;
}

/**
 * The built-in presets. `seed-cnn` is the headline network of the original report:
 * Conv1D(3,1,32) → MaxPool1D(2,2) → Flatten → Linear(4064,100) → ReLU → Linear(100,10) on USPS.
 */
export const PRESETS: readonly Preset[] = [
  {
    name: 'seed-cnn',
    summary:
      'Conv1D(3,1,32) → MaxPool1D(2,2) → Flatten → Linear(·,100) → ReLU → Linear(100,classes) (the original headline CNN; no ReLU after the conv, as in the original; Xavier-normal Linear layers)',
    takes: 'sequence',
    layers: ({ inputSize, numClasses }) => {
      const length = convPool(inputSize, 3);
      if (length < 1) throw new ModelError(`preset seed-cnn: input length ${inputSize} is too short for Conv1D(3) + MaxPool1D(2, 2)`);
      // Xavier-normal Linear layers measured better on USPS_test than the He-normal default (reports/README.md, item 4).
      const x = { init: 'xavierNormal' };
      return [
        L('Conv1D', 3, 1, 32, 1),
        L('MaxPool1D', 2, 2),
        L('Flatten'),
        Lo('Linear', [length * 32, 100], x),
        L('ReLU'),
        Lo('Linear', [100, numClasses], x),
      ];
    },
  },
  {
    name: 'cnn2',
    summary: '2 × [Conv1D(3) → ReLU → MaxPool1D(2,2)] with 16, 32 maps → Linear(·,100) → ReLU → Linear(100,classes)',
    takes: 'sequence',
    layers: (input) => convStack(input, 2, 3, 16),
  },
  {
    name: 'cnn4',
    summary: '4 × [Conv1D(3) → ReLU → MaxPool1D(2,2)] with 8, 16, 32, 64 maps → Linear(·,100) → ReLU → Linear(100,classes)',
    takes: 'sequence',
    layers: (input) => convStack(input, 4, 3, 8),
  },
  {
    name: 'lenet',
    summary:
      '2 × [Conv2D(5) → ReLU → MaxPool2D(2,2)] with 6, 16 maps → Linear(·,120) → ReLU → Linear(120,classes), on the images (the LeNet-style net of BENCHMARKS.md)',
    takes: 'image',
    layers: ({ inputSize, numClasses }) => {
      const side = convPool(convPool(squareSide('lenet', inputSize), 5), 5); // each axis as a 1-D length
      if (side < 1) throw new ModelError(`preset lenet: ${inputSize} pixels are too few for two Conv2D(5) + MaxPool2D(2, 2) blocks`);
      return [
        L('Conv2D', 5, 1, 6, 1),
        L('ReLU'),
        L('MaxPool2D', 2, 2),
        L('Conv2D', 5, 6, 16, 1),
        L('ReLU'),
        L('MaxPool2D', 2, 2),
        L('Flatten'),
        L('Linear', side * side * 16, 120),
        L('ReLU'),
        L('Linear', 120, numClasses),
      ];
    },
  },
  {
    name: 'cnn2d-bn',
    summary:
      '2 × [Conv2D(3, padded, no bias) → BatchNorm2D → ReLU → MaxPool2D(2,2)] with 32, 64 maps → Linear(·,128) → ReLU → Dropout(0.3) → Linear(128,classes), on the images (the batch-norm CNN of reports/)',
    takes: 'image',
    layers: ({ inputSize, numClasses }) => {
      const side = Math.floor(Math.floor(squareSide('cnn2d-bn', inputSize) / 2) / 2);
      if (side < 1) throw new ModelError(`preset cnn2d-bn: ${inputSize} pixels are too few for two MaxPool2D(2, 2)`);
      const conv = (chanIn: number, chanOut: number): LayerSpec[] => [
        Lo('Conv2D', [3, chanIn, chanOut, 1], { padding: 1, bias: false }),
        L('BatchNorm2D', chanOut),
        L('ReLU'),
        L('MaxPool2D', 2, 2),
      ];
      return [
        ...conv(1, 32),
        ...conv(32, 64),
        L('Flatten'),
        L('Linear', side * side * 64, 128),
        L('ReLU'),
        L('Dropout', 0.3),
        L('Linear', 128, numClasses),
      ];
    },
  },
  {
    name: 'mlp',
    summary: 'Linear(n,128) → ReLU → Linear(128,64) → ReLU → Linear(64,classes)',
    takes: 'rows',
    layers: ({ inputSize, numClasses }) => [
      L('Linear', inputSize, 128),
      L('ReLU'),
      L('Linear', 128, 64),
      L('ReLU'),
      L('Linear', 64, numClasses),
    ],
  },
  {
    name: 'small-mlp',
    summary: 'Linear(n,16) → TanH → Linear(16,classes) (enough for XOR and the blobs)',
    takes: 'rows',
    layers: ({ inputSize, numClasses }) => [L('Linear', inputSize, 16), L('TanH'), L('Linear', 16, numClasses)],
  },
  {
    name: 'linear',
    summary: 'Linear(n,classes): multinomial logistic regression',
    takes: 'rows',
    layers: ({ inputSize, numClasses }) => [L('Linear', inputSize, numClasses)],
  },
  {
    name: 'linear-sigmoid',
    summary:
      "Linear(n,classes, xavierNormal) → Sigmoid (the initialisation experiment's network; train it with BCE or MSE on one-hot targets)",
    takes: 'rows',
    layers: ({ inputSize, numClasses }) => [Lo('Linear', [inputSize, numClasses], { init: 'xavierNormal' }), L('Sigmoid')],
  },
];

/** The preset `neurone train` and a sweep's runs use when none is named: the headline CNN on the image sets, small MLPs on the synthetic ones. */
export function defaultPreset(dataset: string): string {
  return dataset === 'xor' || dataset === 'blobs' ? 'small-mlp' : dataset === 'checkerboard' ? 'mlp' : 'seed-cnn';
}

/** The preset called `name`, or undefined. */
export function findPreset(name: string): Preset | undefined {
  return PRESETS.find((p) => p.name === name);
}

/** The description of preset `name` for this input; throws ModelError for an unknown name. */
export function presetDescription(name: string, input: PresetInput): ModelDescription {
  const preset = findPreset(name);
  if (!preset)
    throw new ModelError(
      `unknown model preset '${name}'${didYouMean(
        name,
        PRESETS.map((p) => p.name),
      )} (presets: ${PRESETS.map((p) => p.name).join(', ')}; or give a .json file)`,
    );
  return { layers: preset.layers(input) };
}

/** The built-in layer types a description may use (those of the module registry). */
export const LAYER_TYPES: readonly string[] = moduleTypes()
  .filter((t) => t.builtIn)
  .map((t) => t.type);

/**
 * The most parameter values a model description may declare (2^24, 64 MiB of float32): a
 * description arrives in a spec, a job or a file of a few bytes, and building it allocates its
 * weights, so `{ "type": "Linear", "args": [16777216, 64] }` is refused from its arguments instead
 * of allocating 4 GiB. The built-in presets hold under a million; a network built in code has
 * only the limits of `load`.
 */
export const MAX_DESCRIBED_PARAMETERS = 2 ** 24;

function buildLayer(spec: unknown, where: string, budget: { left: number }, depth: number): Module {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new ModelError(`${where}: expected an object { "type", "args", "options"? }, got ${describe(spec)}`);
  }
  const s = spec as Partial<ModuleConfig>;
  if (typeof s.type !== 'string') throw new ModelError(`${where}: "type" must be a string, got ${describe(s.type)}`);
  refuseUnknownKeys(spec, LAYER_KEYS, `${where} (${s.type})`);
  if (s.type === 'Sequential') {
    if (!Array.isArray(s.modules)) throw new ModelError(`${where}: a Sequential needs a "modules" array`);
    // As deep as a saved model may be: a network nested deeper could be trained but not saved.
    if (depth >= LIMITS.maxNesting)
      throw new ModelError(`${where}: Sequentials nested more than ${LIMITS.maxNesting} levels deep, the most a saved model may hold`);
    return new Sequential(...s.modules.map((m, i) => buildLayer(m, `${where}.${i}`, budget, depth + 1)));
  }
  const entry = moduleType(s.type);
  if (!entry) {
    const known = moduleTypes().map((t) => t.type);
    throw new ModelError(`${where}: unknown layer type "${s.type}"${didYouMean(String(s.type), known)} (known: ${known.join(', ')})`);
  }
  const args = s.args ?? [];
  if (!Array.isArray(args)) throw new ModelError(`${where} (${s.type}): "args" must be an array, got ${describe(args)}`);
  if (s.options !== undefined && (s.options === null || typeof s.options !== 'object' || Array.isArray(s.options))) {
    throw new ModelError(`${where} (${s.type}): "options" must be an object, got ${describe(s.options)}`);
  }
  // A lazily sized layer (Linear(null, out)) takes its size from the data when it first runs.
  if (entry.schema?.parameters && !args.includes(null)) {
    // Sized from the arguments before anything is allocated (the constructor's own checks first).
    let declared = 0;
    try {
      const values = checkArguments(s.type, entry.schema, args, s.options ?? {});
      for (const [, shape] of entry.schema.parameters(values, s.options ?? {})) declared += shape.reduce((a, b) => a * b, 1);
    } catch (e) {
      throw new ModelError(`${where}: ${(e as Error).message}`);
    }
    budget.left -= declared;
    if (budget.left < 0)
      throw new ModelError(
        `${where} (${s.type}) brings the model to over ${MAX_DESCRIBED_PARAMETERS.toLocaleString('en-US')} parameter values, the most a model description may hold`,
      );
  }
  try {
    // Only Sequential has children, and it is built above with its own positions.
    return entry.create({ type: s.type, args, options: s.options }, () => {
      throw new Error(`${s.type} holds no modules`);
    });
  } catch (e) {
    throw new ModelError(`${where}: ${(e as Error).message}`);
  }
}

/** The keys of a layer (`JSON.stringify` of a module writes these), and of a description's top level. */
const LAYER_KEYS = ['type', 'args', 'options', 'modules'];
const DESCRIPTION_KEYS = ['layers', 'name'];

/**
 * Refuses a key a description does not read: a misspelt `"option": { "bias": false }` trained a
 * layer with its bias, the key ignored.
 */
function refuseUnknownKeys(spec: object, known: readonly string[], where: string): void {
  const unknown = Object.keys(spec).find((k) => !known.includes(k));
  if (unknown !== undefined) throw new ModelError(`${where}: ${unknownKeyMessage(unknown, known)}`);
}

/**
 * Builds a Sequential from a description: `{ layers: [...] }`, a bare array of layers, or the
 * `{ type: 'Sequential', modules: [...] }` form of `JSON.stringify(net)`.
 * Throws {@link ModelError} naming the layer at fault.
 *
 * @example
 * const net = buildModel({ layers: [{ type: 'Linear', args: [784, 10] }, { type: 'Sigmoid', args: [] }] });
 */
export function buildModel(description: unknown): Sequential {
  let layers: unknown;
  if (Array.isArray(description)) layers = description;
  else if (description !== null && typeof description === 'object') {
    const d = description as { layers?: unknown; type?: unknown; modules?: unknown };
    // The `JSON.stringify(net)` form may carry a name as well, which a sweep labels its runs with.
    refuseUnknownKeys(description, d.layers !== undefined ? DESCRIPTION_KEYS : [...LAYER_KEYS, 'name'], 'model description');
    layers = d.layers ?? (d.type === 'Sequential' ? d.modules : undefined);
  }
  if (!Array.isArray(layers)) {
    throw new ModelError(`model description: expected { "layers": [...] }, got ${describe(description)}`);
  }
  if (layers.length === 0) throw new ModelError('model description: "layers" is empty');
  const budget = { left: MAX_DESCRIBED_PARAMETERS };
  return new Sequential(...layers.map((l, i) => buildLayer(l, `layer ${i}`, budget, 1)));
}

/**
 * The most activation values one training step of a described model may hold, every layer's
 * output for the whole batch together (2^28, 1 GiB of float32): a description of a few hundred
 * bytes (an Upsample1D(4096) twice) must not claim gigabytes at its first batch.
 */
export const MAX_STEP_ACTIVATIONS = 2 ** 28;

/** What a sample meets on its way through a network ({@link followShapes}). @internal */
export interface ShapeWalk {
  /** The network's output shape. */
  output: readonly number[];
  /** Parameters of the lazily sized layers, once sized for this input. */
  lazyParameters: number;
  /** The first lazily sized layer, for messages. */
  lazyLabel: string;
  /** Output values of every layer for one sample. */
  activations: number;
  /** The layer with the largest output per sample: its values, label and output shape (values 0 when there is no layer). */
  largest: { values: number; label: string; shape: readonly number[] };
}

/**
 * What a described model would be for this input ({@link ShapeWalk}), from its layers' shapes
 * alone ({@link followLayers}: a lazily sized layer draws no weights). A layer that refuses the
 * input throws its own error. @internal
 */
export function followShapes(net: Module, sampleShape: readonly number[]): ShapeWalk {
  const walk: ShapeWalk = {
    output: sampleShape,
    lazyParameters: 0,
    lazyLabel: '',
    activations: 0,
    largest: { values: 0, label: '', shape: [] },
  };
  walk.output = followLayers(net, sampleShape, (m, input, out) => {
    if (m instanceof Linear && m.lazy) {
      const features = input[input.length - 1];
      walk.lazyParameters += (features + 1) * m.outputSize;
      if (walk.lazyLabel === '') walk.lazyLabel = `${m.label()} on ${features} features`;
    }
    const values = out.slice(1).reduce((p, d) => p * d, 1);
    walk.activations += values;
    if (values > walk.largest.values) walk.largest = { values, label: m.label(), shape: out };
  });
  return walk;
}

/**
 * Checks a network built from a description against its input before anything is allocated
 * for it: its lazily sized layers (`Linear(null, n)`), sized for this input, must keep the model
 * within MAX_DESCRIBED_PARAMETERS, and one training step of `batchSize` within
 * MAX_STEP_ACTIVATIONS. Returns the network's output shape for `sampleShape` ((1, …)), found
 * without sizing the lazy layers; ModelError, naming the layer, otherwise (including the
 * layers' own refusal of the input).
 */
export function checkModelForInput(net: Module, sampleShape: readonly number[], batchSize: number): readonly number[] {
  let walk: ShapeWalk;
  try {
    walk = followShapes(net, sampleShape);
  } catch (e) {
    if (e instanceof RangeError) throw new ModelError(e.message);
    throw e;
  }
  const total = net.parameters().reduce((n, p) => n + p.value.data.length, 0) + walk.lazyParameters;
  if (walk.lazyParameters > 0 && total > MAX_DESCRIBED_PARAMETERS) {
    throw new ModelError(
      `${walk.lazyLabel} brings the model to ${total.toLocaleString('en-US')} parameter values, over the ` +
        `${MAX_DESCRIBED_PARAMETERS.toLocaleString('en-US')} a model description may hold`,
    );
  }
  const step = batchSize * (walk.activations + sampleShape.slice(1).reduce((a, b) => a * b, 1));
  if (step > MAX_STEP_ACTIVATIONS) {
    throw new ModelError(
      `one training step at batch ${batchSize} would hold ${step.toLocaleString('en-US')} activation values ` +
        `(the largest layer: ${walk.largest.label} outputs (batch, ${walk.largest.shape.slice(1).join(', ')})), over the ${MAX_STEP_ACTIVATIONS.toLocaleString('en-US')} (1 GiB) a described model may use; ` +
        'use a smaller batch size or model',
    );
  }
  return walk.output;
}

/** The description of a Sequential: `{ layers: [each module's toJSON()] }`, the inverse of {@link buildModel}. */
export function describeModel(net: Sequential): ModelDescription {
  return { layers: net.modules.map((m) => m.description()) };
}

/**
 * Most bytes of a JSON model file: 1 MiB. A description is a list of layers with a few numbers
 * each (a hundred layers take a few KB); anything larger is not a model description.
 */
export const MAX_MODEL_FILE_BYTES = 2 ** 20;

/** Reads and parses a model-description file; errors are one-line ModelErrors naming the file. */
export function readModelFile(file: string): ModelDescription {
  let text: string;
  try {
    // Not readFileSync: `--model /dev/zero` (or a FIFO) would be read until memory runs out.
    text = decodeText(readDataFile(file, MAX_MODEL_FILE_BYTES, 'a JSON model file'));
  } catch (e) {
    const msg = (e as Error).message;
    const why = msg.startsWith(`${file}: `) ? msg.slice(file.length + 2) : msg;
    throw new ModelError(`cannot read model file ${file}: ${why.replace(/^cannot read \((.*)\)$/, '$1')}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ModelError(`model file ${file} is not valid JSON: ${firstLine(e)}`);
  }
  try {
    const net = buildModel(parsed);
    return describeModel(net);
  } catch (e) {
    throw new ModelError(`model file ${file}: ${(e as Error).message}`);
  }
}
