/**
 * The one list of module types. Save and load, the `neurone` command's model descriptions and
 * presets, and the tests (gradient checks, fuzzer, save/load round trips) all enumerate it, so
 * a module type registered here is built, checked, saved and tested without editing any other
 * list.
 *
 * Each built-in type comes with its constructor's {@link ModuleSchema} (argument names, ranges,
 * parameter shapes: what load checks before building anything) and an example generator (a
 * small instance and an input it accepts, for the tests). Types of the user's own, registered
 * with `registerModule`, have neither: only their factory knows what they accept and hold.
 */
import { describe } from '../tensor';
import { Module, ModuleConfig, Sequential } from './module';
import { Linear, LINEAR_SCHEMA } from './linear';
import { Conv1D, ConvTranspose1D, Upsample1D, CONV1D_SCHEMA, CONV_TRANSPOSE1D_SCHEMA, UPSAMPLE1D_SCHEMA } from './conv';
import { MaxPool1D, AvgPool1D, Flatten, Reshape, AVG_POOL1D_SCHEMA, POOL1D_SCHEMA, RESHAPE_SCHEMA } from './pool';
import {
  Conv2D,
  ConvTranspose2D,
  MaxPool2D,
  AvgPool2D,
  GlobalAvgPool2D,
  Upsample2D,
  CONV2D_SCHEMA,
  CONV_TRANSPOSE2D_SCHEMA,
  POOL2D_SCHEMA,
  AVG_POOL2D_SCHEMA,
  UPSAMPLE2D_SCHEMA,
} from './conv2d';
import { Dropout, DROPOUT_SCHEMA } from './dropout';
import { BatchNorm1D, BatchNorm2D, BATCHNORM1D_SCHEMA, BATCHNORM2D_SCHEMA } from './batchnorm';
// The activations declare themselves there (lib/nn/builtins.ts); loading the file is enough.
import './activations';
import { declaredBuiltIns } from './builtins';
import { ModuleSchema, NO_ARGUMENTS, argumentCount, optionNames } from './schema';

/**
 * Rebuilds a module from its config; `build` builds children (for containers).
 *
 * @example
 * registerModule('Scale', (c) => new Scale(c.args[0] as number));
 * @param config The stored config: `type`, `args`, `options`, and `modules` for a container.
 * @param build Builds a child module from its config (a container's factory calls it for each of `modules`).
 */
export type ModuleFactory = (config: ModuleConfig, build: (child: ModuleConfig) => Module) => Module;

/**
 * A small module of a type and an input shape it accepts, for the tests that enumerate the
 * registry. `pick(lo, hi)` draws an integer in [lo, hi], so one generator serves fixed gradient
 * checks and a fuzzer's random sizes alike.
 * @internal
 */
export interface ModuleExample {
  args: unknown[];
  options?: Record<string, unknown>;
  /** (batch, ...) with batch ≥ 1. */
  input: number[];
  /** The output has kinks (ReLU, max pooling): finite differences need inputs spread apart from them. */
  kinks?: boolean;
}

/** One registered module type. @internal */
export interface ModuleType {
  /** The `type` its `config()` writes. */
  readonly type: string;
  readonly create: ModuleFactory;
  /** Built-in types: what the constructor accepts; absent for the user's own types. */
  readonly schema?: ModuleSchema;
  /** Built-in layers: a generator of small examples for the tests. */
  readonly example?: (pick: (lo: number, hi: number) => number) => ModuleExample;
  readonly builtIn: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Constructor = new (...args: any[]) => Module;

/**
 * Refuses a config whose argument count or options the schema does not take: a TypeError such
 * as `Linear takes 2 args (inputSize, outputSize), got 3 ([2,3,4])`, which names the options
 * where the type has some (PyTorch's positional padding goes there in neurone). @internal
 */
export function checkConfigShape(type: string, schema: ModuleSchema, config: ModuleConfig): void {
  const [min, max] = argumentCount(schema);
  const args = config.args;
  if (args.length < min || args.length > max) {
    const expected =
      max === 0 ? 'no args' : `${min === max ? min : `${min} to ${max}`} args (${schema.args.map((a) => a.name).join(', ')})`;
    const options = schema.options?.length ? ` and "options": { ${optionNames(schema).join(', ')} }` : '';
    throw new TypeError(`${type} takes ${expected}${options}, got ${args.length} (${JSON.stringify(args)})`);
  }
  if (schema.options === null && config.options !== undefined)
    throw new TypeError(`${type} takes no options, got ${JSON.stringify(config.options)}`);
  if (config.modules !== undefined) throw new TypeError(`${type} holds no modules, got a modules field`);
}

/** `new C(...args, options)`, the arguments left out passed as undefined so that options land in their place. */
function fromSchema(type: string, C: Constructor, schema: ModuleSchema): ModuleFactory {
  return (c) => {
    checkConfigShape(type, schema, c);
    if (c.options === undefined) return new C(...c.args);
    const args = [...c.args];
    while (args.length < schema.args.length) args.push(undefined);
    return new C(...args, c.options);
  };
}

const types = new Map<string, ModuleType>();

function builtIn(C: Constructor, schema: ModuleSchema, example: ModuleType['example']): void {
  types.set(C.name, { type: C.name, create: fromSchema(C.name, C, schema), schema, example, builtIn: true });
}

const bias = (pick: (lo: number, hi: number) => number): boolean => pick(0, 1) === 1;

types.set('Sequential', { type: 'Sequential', create: (c, build) => new Sequential(...(c.modules ?? []).map(build)), builtIn: true });
builtIn(Linear, LINEAR_SCHEMA, (pick) => {
  const inputSize = pick(1, 6);
  // Half the examples with one or two axes of positions, each read with the same weights.
  const positions = Array.from({ length: [0, 0, 1, 2][pick(0, 3)] }, () => pick(1, 3));
  return { args: [inputSize, pick(1, 6)], options: { bias: bias(pick) }, input: [pick(1, 3), ...positions, inputSize] };
});
builtIn(Conv1D, CONV1D_SCHEMA, (pick) => {
  const kSize = pick(1, 4);
  const chanIn = pick(1, 3);
  // One example in four pads 'same' at stride 1: an even kernel puts one more zero after than before.
  if (pick(0, 3) === 0) {
    return {
      args: [kSize, chanIn, pick(1, 4), 1],
      options: { padding: 'same', bias: bias(pick) },
      input: [pick(1, 3), pick(1, 9), chanIn],
    };
  }
  const padding = pick(0, kSize - 1);
  return {
    args: [kSize, chanIn, pick(1, 4), pick(1, 3)],
    options: { padding, bias: bias(pick) },
    input: [pick(1, 3), pick(Math.max(1, kSize - 2 * padding), kSize + 8), chanIn],
  };
});
builtIn(ConvTranspose1D, CONV_TRANSPOSE1D_SCHEMA, (pick) => {
  const kSize = pick(1, 4);
  const chanIn = pick(1, 3);
  const stride = pick(1, 3);
  // padding at most (kSize − 1) / 2 leaves every input length an output.
  return {
    args: [kSize, chanIn, pick(1, 3), stride],
    options: { padding: pick(0, Math.floor((kSize - 1) / 2)), outputPadding: pick(0, stride - 1), bias: bias(pick) },
    input: [pick(1, 3), pick(1, 6), chanIn],
  };
});
builtIn(Upsample1D, UPSAMPLE1D_SCHEMA, (pick) => ({ args: [pick(1, 3)], input: [pick(1, 3), pick(1, 5), pick(1, 3)] }));
for (const [Pool, schema] of [
  [MaxPool1D, POOL1D_SCHEMA],
  [AvgPool1D, AVG_POOL1D_SCHEMA],
] as const) {
  builtIn(Pool, schema, (pick) => {
    const kSize = pick(1, 3);
    const padding = pick(0, Math.floor(kSize / 2));
    return {
      args: [kSize, pick(1, 3)],
      options: { padding, ceilMode: pick(0, 2) === 0, ...(Pool === AvgPool1D ? { countIncludePad: pick(0, 1) === 1 } : {}) },
      input: [pick(1, 3), pick(Math.max(1, kSize - 2 * padding), kSize + 8), pick(1, 3)],
      kinks: Pool === MaxPool1D,
    };
  });
}
builtIn(Flatten, NO_ARGUMENTS, (pick) => ({ args: [], input: [pick(1, 3), pick(1, 3), pick(1, 4)] }));
builtIn(Reshape, RESHAPE_SCHEMA, (pick) => {
  const [a, b] = [pick(1, 3), pick(1, 4)];
  return { args: [pick(0, 1) === 1 ? [b, -1] : [b, a]], input: [pick(1, 3), a * b] };
});
/** A kernel, stride or scale argument: a square number or, half the time, [height, width]. */
const size2d = (pick: (lo: number, hi: number) => number, lo: number, hi: number): [number, number] => {
  const h = pick(lo, hi);
  return [h, pick(0, 1) === 1 ? h : pick(lo, hi)];
};
const asArg = ([h, w]: [number, number]): number | [number, number] => (h === w ? h : [h, w]);
builtIn(Conv2D, CONV2D_SCHEMA, (pick) => {
  const k = size2d(pick, 1, 4);
  const chanIn = pick(1, 2);
  // One example in four pads 'same' at stride 1: an even kernel puts one more zero after than before.
  if (pick(0, 3) === 0) {
    return {
      args: [asArg(k), chanIn, pick(1, 3), 1],
      options: { padding: 'same', bias: bias(pick) },
      input: [pick(1, 2), pick(1, 6), pick(1, 6), chanIn],
    };
  }
  const stride = size2d(pick, 1, 2);
  const padding: [number, number] = [pick(0, k[0] - 1), pick(0, k[1] - 1)];
  const side = (i: number): number => pick(Math.max(1, k[i] - 2 * padding[i]), k[i] + 4);
  return {
    args: [asArg(k), chanIn, pick(1, 3), asArg(stride)],
    options: { padding: asArg(padding), bias: bias(pick) },
    input: [pick(1, 2), side(0), side(1), chanIn],
  };
});
builtIn(ConvTranspose2D, CONV_TRANSPOSE2D_SCHEMA, (pick) => {
  const k = size2d(pick, 1, 3);
  const stride = size2d(pick, 1, 2);
  const chanIn = pick(1, 2);
  // padding at most (k − 1) / 2 leaves every input size an output.
  return {
    args: [asArg(k), chanIn, pick(1, 3), asArg(stride)],
    options: {
      padding: asArg([pick(0, Math.floor((k[0] - 1) / 2)), pick(0, Math.floor((k[1] - 1) / 2))]),
      outputPadding: asArg([pick(0, stride[0] - 1), pick(0, stride[1] - 1)]),
      bias: bias(pick),
    },
    input: [pick(1, 2), pick(1, 4), pick(1, 4), chanIn],
  };
});
for (const [Pool, schema] of [
  [MaxPool2D, POOL2D_SCHEMA],
  [AvgPool2D, AVG_POOL2D_SCHEMA],
] as const) {
  builtIn(Pool, schema, (pick) => {
    const k = size2d(pick, 1, 3);
    const padding: [number, number] = [pick(0, Math.floor(k[0] / 2)), pick(0, Math.floor(k[1] / 2))];
    const side = (i: number): number => pick(Math.max(1, k[i] - 2 * padding[i]), k[i] + 4);
    return {
      args: [asArg(k), asArg(size2d(pick, 1, 3))],
      options: {
        padding: asArg(padding),
        ceilMode: pick(0, 2) === 0,
        ...(Pool === AvgPool2D ? { countIncludePad: pick(0, 1) === 1 } : {}),
      },
      input: [pick(1, 2), side(0), side(1), pick(1, 3)],
      kinks: Pool === MaxPool2D,
    };
  });
}
builtIn(GlobalAvgPool2D, NO_ARGUMENTS, (pick) => ({ args: [], input: [pick(1, 3), pick(1, 4), pick(1, 4), pick(1, 3)] }));
builtIn(Upsample2D, UPSAMPLE2D_SCHEMA, (pick) => ({
  args: [asArg(size2d(pick, 1, 3))],
  input: [pick(1, 2), pick(1, 4), pick(1, 4), pick(1, 3)],
}));
for (const d of declaredBuiltIns()) builtIn(d.module, d.schema, d.example);
// The mode-dependent layers (training mode in the registry's examples: the gradient checks hold
// Dropout's mask fixed by replaying the random stream; BatchNorm's examples have at least two rows).
builtIn(Dropout, DROPOUT_SCHEMA, (pick) => ({ args: [[0, 0.25, 0.5][pick(0, 2)]], input: [pick(1, 3), pick(1, 4), pick(1, 3)] }));
const batchNormOptions = (pick: (lo: number, hi: number) => number): Record<string, unknown> => ({
  eps: [1e-5, 1e-3][pick(0, 1)],
  momentum: [0.1, 0.5][pick(0, 1)],
  affine: bias(pick),
});
builtIn(BatchNorm1D, BATCHNORM1D_SCHEMA, (pick) => {
  const features = pick(1, 4);
  const input = pick(0, 1) === 1 ? [pick(2, 4), features] : [pick(1, 3), pick(2, 4), features];
  return { args: [features], options: batchNormOptions(pick), input };
});
builtIn(BatchNorm2D, BATCHNORM2D_SCHEMA, (pick) => {
  const chan = pick(1, 3);
  return { args: [chan], options: batchNormOptions(pick), input: [pick(1, 2), pick(1, 3), pick(2, 3), chan] };
});

/** The registered type called `type`, or undefined. @internal */
export function moduleType(type: string): ModuleType | undefined {
  return types.get(type);
}

/** Every registered type, the built-in ones first, in registration order. @internal */
export function moduleTypes(): ModuleType[] {
  return [...types.values()];
}

/** Registers a type of the user's own (see `registerModule`); built-in types cannot be replaced. @internal */
export function registerModuleType(type: string, factory: ModuleFactory, who = 'registerModule'): void {
  if (typeof type !== 'string' || type === '') throw new TypeError(`${who}: type must be a non-empty string, got ${describe(type)}`);
  if (typeof factory !== 'function') throw new TypeError(`${who}: factory must be a function, got ${describe(factory)}`);
  if (types.get(type)?.builtIn) throw new Error(`${who}: '${type}' is a built-in module type`);
  types.set(type, { type, create: factory, builtIn: false });
}
