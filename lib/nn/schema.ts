/**
 * What a module type's constructor accepts, stated once as data: the argument names, their
 * ranges and the parameter shapes they imply. The constructor checks its arguments through
 * {@link checkArguments}, and {@link load} checks a stored architecture through the same call
 * before building anything, so a network that constructs can be saved and loaded, and a file
 * that would be refused on load cannot be made by constructing it either.
 */
import { MAX_TENSOR_VALUES, describe, formatShape, isTensor } from '../tensor';

/**
 * Limits on the arguments of the built-in layers. A model file may be hostile: a few bytes of
 * architecture must not make load allocate or compute far more than the file holds, so the
 * constructors refuse the same values.
 *
 * - `maxDimension` (2^24): any size argument (sizes, channels, kernel, stride, padding).
 * - `maxUpsample` (4096): an Upsample1D's `scale`.
 */
export const ARGUMENT_LIMITS = Object.freeze({
  maxDimension: 2 ** 24,
  maxUpsample: 4096,
});

/** The checked values of a module's numeric arguments and options, by name. */
export type ArgumentValues = Readonly<Record<string, number>>;

/** One numeric argument (positional, or an option) and the values it may take. */
export interface ArgumentSpec {
  readonly name: string;
  /**
   * `integer` (default): a size in [min, max]; `float32`: any number finite in float32; `shape`:
   * a list of 1 to 8 sizes in [1, max], one of which may be −1 (inferred), holding at most
   * max values; it adds nothing to the values.
   */
  readonly kind?: 'integer' | 'float32' | 'shape';
  /** Smallest integer accepted (default 1). */
  readonly min?: number;
  /**
   * Largest integer accepted (default {@link ARGUMENT_LIMITS}.maxDimension); may depend on the
   * arguments before it, and for a `pair` on the axis being checked.
   */
  readonly max?: number | ((values: ArgumentValues, axis: PairAxis) => number);
  /** The value when the argument is omitted (may depend on the arguments before it); without one the argument is required. */
  readonly default?: number | ((values: ArgumentValues, axis: PairAxis) => number);
  /**
   * An integer, or `[height, width]`: one value per axis of an image (a 2-D layer's kernel,
   * stride, padding). Both are checked against min and max; the values then hold
   * `<name>Height` and `<name>Width` (a single integer gives both).
   */
  readonly pair?: boolean;
  /**
   * A convolution's padding, which also takes PyTorch's names `'valid'` (0) and `'same'` (the
   * output keeps the input's size at stride 1), resolved from the arguments `kSize` and `stride`
   * before it ({@link resolvePaddingMode}). The values then hold the zeros after the input apart
   * from those before it: `<name>End` (1-D), or `<name>HeightEnd` and `<name>WidthEnd`. A number
   * puts as many zeros after as before; only `'same'` on an even kernel puts one more after.
   */
  readonly paddingModes?: boolean;
}

/** The axis a pair argument's value is for ('' for plain arguments). */
export type PairAxis = 'Height' | 'Width' | '';

/** The schema of the module types whose constructor takes no arguments. @internal */
export const NO_ARGUMENTS: ModuleSchema = { args: [], options: null };

/** The constructor arguments of a module type: `new Type(...args, options)`. */
export interface ModuleSchema {
  /** The positional arguments, in order; those with a default may be left out. */
  readonly args: readonly ArgumentSpec[];
  /**
   * The keys of the options object, with a spec for the numeric ones (range-checked like the
   * arguments); the others (`bias`, `init`) are the constructor's to check. Null: no options.
   */
  readonly options: readonly (string | ArgumentSpec)[] | null;
  /**
   * The defaults of the options that are on/off flags (`bias`, `affine`): the constructor and
   * `parameters` read them through {@link flagOption}, and the module's label shows a flag only
   * where it differs.
   */
  readonly flags?: Readonly<Record<string, boolean>>;
  /** The parameters a module with these arguments holds, name and shape, without allocating them. */
  readonly parameters?: (values: ArgumentValues, options: Readonly<Record<string, unknown>>) => [string, number[]][];
  /** The buffers (see `Module.buffers`) a module with these arguments holds, name and shape; saved like the parameters. */
  readonly buffers?: (values: ArgumentValues, options: Readonly<Record<string, unknown>>) => [string, number[]][];
}

/** How many positional arguments the schema takes: [required, all]. */
export function argumentCount(schema: ModuleSchema): [number, number] {
  return [schema.args.filter((a) => a.default === undefined).length, schema.args.length];
}

/** The names of the options the schema takes. */
export function optionNames(schema: ModuleSchema): string[] {
  return (schema.options ?? []).map((o) => (typeof o === 'string' ? o : o.name));
}

function resolve(v: number | ((values: ArgumentValues, axis: PairAxis) => number), values: ArgumentValues, axis: PairAxis): number {
  return typeof v === 'function' ? v(values, axis) : v;
}

/** A shape argument: a list of sizes, one of which may be −1. */
function checkShapeArgument(type: string, spec: ArgumentSpec, v: unknown): void {
  const max = typeof spec.max === 'number' ? spec.max : ARGUMENT_LIMITS.maxDimension;
  const what = `a list of 1 to 8 integers in [1, ${max}], one of which may be -1`;
  if (!Array.isArray(v) || v.length < 1 || v.length > 8) throw new TypeError(`${type}: ${spec.name} must be ${what}, got ${describe(v)}`);
  let product = 1;
  v.forEach((d: unknown, i: number) => {
    const free = d === -1 && v.indexOf(-1) === i;
    if (!free && (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > max)) {
      throw new RangeError(
        `${type}: ${spec.name}[${i}] must be an integer in [1, ${max}]${i === v.indexOf(-1) ? ' or -1' : ''}, got ${typeof d === 'number' ? d : describe(d)}`,
      );
    }
    if (!free) product *= d as number;
  });
  if (product > max)
    throw new RangeError(`${type}: ${spec.name} must hold at most ${max} values per sample, got ${product} (${JSON.stringify(v)})`);
}

/** A pair argument: one integer for both axes, or [height, width]; stored as <name>Height and <name>Width. */
function checkPair(type: string, spec: ArgumentSpec, v: unknown, values: Record<string, number>): void {
  const axes = ['Height', 'Width'] as const;
  if (Array.isArray(v)) {
    if (v.length !== 2) throw new TypeError(`${type}: ${spec.name} must be an integer or [height, width], got ${describe(v)}`);
    axes.forEach((axis, i) => {
      const element = { ...spec, name: `${spec.name}[${i}]`, pair: false, paddingModes: false };
      values[spec.name + axis] = checkOne(type, element, v[i], values, axis);
    });
    return;
  }
  for (const axis of axes) values[spec.name + axis] = checkOne(type, spec, v, values, axis);
}

function checkOne(type: string, spec: ArgumentSpec, v: unknown, values: Record<string, number>, axis: PairAxis = ''): number {
  if (v === undefined && spec.default !== undefined) return resolve(spec.default, values, axis);
  if (typeof v !== 'number') {
    const expected = spec.paddingModes
      ? `an integer, ${spec.pair ? '[height, width], ' : ''}'same' or 'valid'`
      : spec.pair
        ? 'an integer or [height, width]'
        : 'a number';
    throw new TypeError(`${type}: ${spec.name} must be ${expected}, got ${describe(v)}`);
  }
  if (spec.kind === 'float32') {
    // The kernels compute in float32: a finite double beyond its range would become ±Infinity.
    if (!Number.isFinite(Math.fround(v))) {
      throw new RangeError(
        `${type}: ${spec.name} must be a finite number within the float32 range (|${spec.name}| <= 3.4028235e38), got ${v}`,
      );
    }
    return v;
  }
  const min = spec.min ?? 1;
  const max = spec.max === undefined ? ARGUMENT_LIMITS.maxDimension : resolve(spec.max, values, axis);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${type}: ${spec.name} must be an integer in [${min}, ${max}], got ${v}`);
  }
  return v;
}

/**
 * Refuses an options object given in place of a positional argument (PyTorch's keywords written
 * as `new Conv2D(3, 1, 16, { padding: 1 })`, where stride comes first), saying where the options
 * go, instead of "stride must be an integer or [height, width], got object".
 */
function checkNoOptionsInPlaceOfArgument(type: string, schema: ModuleSchema, args: readonly unknown[]): void {
  if (schema.options === null) return;
  const at = schema.args.findIndex((spec, i) => spec.kind !== 'shape' && isOptionsLike(args[i]));
  if (at < 0) return;
  const names = schema.args.map((a) => a.name).join(', ');
  throw new TypeError(
    `${type}: got an options object in place of ${schema.args[at].name} (argument ${at + 1}); the options come after ` +
      `the ${schema.args.length} positional arguments: new ${type}(${names}, { ${optionNames(schema).join(', ')} })`,
  );
}

/** A plain object (`{ padding: 1 }`): what an options argument looks like; a tensor or a typed array is not one. */
function isOptionsLike(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || isTensor(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Checks the numeric arguments and options of a `type` module against its schema and returns
 * them by name, defaults filled in. Throws a TypeError (not a number) or a RangeError naming
 * the type, the argument, the accepted range and the value: `Conv1D: padding must be an
 * integer in [0, 2], got 5`. Argument counts and option keys are the caller's to check.
 */
export function checkArguments(
  type: string,
  schema: ModuleSchema,
  args: readonly unknown[],
  options: Readonly<Record<string, unknown>> = {},
): ArgumentValues {
  const values: Record<string, number> = {};
  checkNoOptionsInPlaceOfArgument(type, schema, args);
  schema.args.forEach((spec, i) => {
    if (spec.kind === 'shape') checkShapeArgument(type, spec, args[i]);
    else if (spec.pair) checkPair(type, spec, args[i], values);
    else values[spec.name] = checkOne(type, spec, args[i], values);
  });
  for (const spec of schema.options ?? []) {
    if (typeof spec === 'string') continue;
    if (spec.paddingModes) checkPadding(type, spec, options[spec.name], values);
    else if (spec.pair) checkPair(type, spec, options[spec.name], values);
    else values[spec.name] = checkOne(type, spec, options[spec.name], values);
  }
  // Before anything is allocated: a tensor past 2^32 values would be refused by zeros(), in its
  // own name rather than the module's.
  for (const [name, shape] of [...(schema.parameters?.(values, options) ?? []), ...(schema.buffers?.(values, options) ?? [])]) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (size > MAX_TENSOR_VALUES) {
      throw new RangeError(
        `${type}: its ${name} of shape [${shape.join(', ')}] would hold ${size} values, more than the 2^32 a tensor holds`,
      );
    }
  }
  return values;
}

/** PyTorch's names for two paddings of a convolution: `'valid'` (none) and `'same'` (the output keeps the input's size). */
export type PaddingMode = 'same' | 'valid';

/**
 * The zeros before and after the input on each axis that a convolution's padding of `'same'` or
 * `'valid'` stands for. `'valid'` is none. `'same'` keeps the size at stride 1 (so it takes stride
 * 1 on every axis, as PyTorch): a kernel of k needs k − 1 zeros, ⌊(k − 1) / 2⌋ before and the
 * rest after, so an even kernel gets one more zero after the input than before it, as in PyTorch
 * and TensorFlow.
 * @param type The module, for messages.
 * @param padding The option as given (a string).
 * @param kernel The kernel's size on each axis (checked).
 * @param stride The stride on each axis (checked).
 * @internal
 */
export function resolvePaddingMode(
  type: string,
  padding: string,
  kernel: readonly number[],
  stride: readonly number[],
): { before: number[]; after: number[] } {
  const axes = kernel.length === 1 ? [''] : [' height', ' width'];
  if (padding === 'valid') return { before: kernel.map(() => 0), after: kernel.map(() => 0) };
  if (padding !== 'same') {
    const numbers = kernel.length === 1 ? 'an integer' : 'an integer, [height, width]';
    throw new TypeError(`${type}: padding must be ${numbers}, 'same' or 'valid', got ${JSON.stringify(padding)}`);
  }
  stride.forEach((s, i) => {
    if (s !== 1) throw new RangeError(`${type}: padding 'same' needs stride 1 (as in PyTorch), got stride${axes[i]} ${s}`);
  });
  const before = kernel.map((k) => Math.floor((k - 1) / 2));
  return { before, after: kernel.map((k, i) => k - 1 - before[i]) };
}

/**
 * A padding option that also takes `'same'` and `'valid'` ({@link ArgumentSpec.paddingModes}):
 * stores the zeros before the input as a plain (or pair) option does, and those after it under
 * the same name with `End`.
 */
function checkPadding(type: string, spec: ArgumentSpec, v: unknown, values: Record<string, number>): void {
  const axes: PairAxis[] = spec.pair ? ['Height', 'Width'] : [''];
  if (typeof v === 'string') {
    const kernel = axes.map((axis) => values[`kSize${axis}`]);
    const stride = axes.map((axis) => values[`stride${axis}`]);
    const { before, after } = resolvePaddingMode(type, v, kernel, stride);
    axes.forEach((axis, i) => {
      values[spec.name + axis] = before[i];
      values[`${spec.name}${axis}End`] = after[i];
    });
    return;
  }
  if (spec.pair) checkPair(type, spec, v, values);
  else values[spec.name] = checkOne(type, spec, v, values);
  for (const axis of axes) values[`${spec.name}${axis}End`] = values[spec.name + axis];
}

/**
 * Refuses a module's tensor whose shape is not `declared` (the shape its module's config
 * declares, known for the built-in types; without it, any valid shape) or whose data is not a
 * Float32Array of that many values. Either comes from editing a tensor by hand
 * (`p.value.shape = ...`): a file written from it would not load, or would be misread by PyTorch
 * and ONNX Runtime. Used by save and the exporters before anything is written.
 * @param who Prefix of the error (`save: path`, `toONNX`).
 * @param what The tensor, for the error: `parameter 0.weight of Linear(4, 2) at position 0`.
 * @internal
 */
export function checkDeclaredTensor(
  who: string,
  what: string,
  t: { shape: readonly number[]; data: unknown },
  declared: readonly number[] | undefined,
): void {
  const validShape = Array.isArray(t.shape) && t.shape.every((d) => Number.isSafeInteger(d) && d >= 0);
  const expected = declared ?? (validShape ? t.shape : undefined);
  const size = expected?.reduce((a, b) => a * b, 1);
  const sameShape =
    validShape && expected !== undefined && t.shape.length === expected.length && t.shape.every((d, i) => d === expected[i]);
  if (sameShape && t.data instanceof Float32Array && t.data.length === size) return;
  const got = Array.isArray(t.shape) ? formatShape(t.shape) : describe(t.shape);
  const data = t.data instanceof Float32Array ? `${t.data.length} values` : `${describe(t.data)}, not a Float32Array`;
  const want =
    expected === undefined ? 'an array of non-negative integers as its shape' : `shape ${formatShape(expected)} (${size} values)`;
  throw new RangeError(`${who}: ${what} must have ${want}, got ${got} holding ${data}`);
}

/** The value of flag `name` in `options`: as given, or the schema's default (false without one). */
export function flagOption(schema: ModuleSchema, options: Readonly<Record<string, unknown>>, name: string): boolean {
  const v = options[name];
  return v === undefined ? (schema.flags?.[name] ?? false) : v === true;
}

/**
 * The options of a module's `config()` that differ from the schema's defaults, in the schema's
 * order, as a label writes them: `{ padding: 1, bias: false }`; '' when all are defaults. Options
 * without a default (`init`) are left out: they make no difference to a built network.
 */
export function labelOptions(schema: ModuleSchema, options: Readonly<Record<string, unknown>> | undefined): string {
  if (!options) return '';
  // As in a call: `[3, 1]`, `'same'`.
  const written = (v: unknown): string =>
    Array.isArray(v) ? `[${v.map(written).join(', ')}]` : typeof v === 'string' ? `'${v}'` : String(v);
  const shown: string[] = [];
  for (const spec of schema.options ?? []) {
    const name = typeof spec === 'string' ? spec : spec.name;
    const v = options[name];
    if (v === undefined) continue;
    if (typeof spec === 'string') {
      if (schema.flags && name in schema.flags && v !== schema.flags[name]) shown.push(`${name}: ${written(v)}`);
      continue;
    }
    const d = spec.default;
    if (typeof d !== 'number') continue;
    const differs = Array.isArray(v) ? v.some((x) => x !== d) : v !== d;
    if (differs) shown.push(`${name}: ${written(v)}`);
  }
  return shown.length === 0 ? '' : `{ ${shown.join(', ')} }`;
}
