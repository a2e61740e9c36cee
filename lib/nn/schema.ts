/**
 * What a module type's constructor accepts, stated once as data: the argument names, their
 * ranges and the parameter shapes they imply. The constructor checks its arguments through
 * {@link checkArguments}, and {@link load} checks a stored architecture through the same call
 * before building anything, so a network that constructs can be saved and loaded, and a file
 * that would be refused on load cannot be made by constructing it either.
 */
import { describe } from '../tensor';

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
  /** `integer` (default): a size in [min, max]; `float32`: any number finite in float32. */
  readonly kind?: 'integer' | 'float32';
  /** Smallest integer accepted (default 1). */
  readonly min?: number;
  /** Largest integer accepted (default {@link ARGUMENT_LIMITS}.maxDimension); may depend on the arguments before it. */
  readonly max?: number | ((values: ArgumentValues) => number);
  /** The value when the argument is omitted (may depend on the arguments before it); without one the argument is required. */
  readonly default?: number | ((values: ArgumentValues) => number);
}

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

function resolve(v: number | ((values: ArgumentValues) => number), values: ArgumentValues): number {
  return typeof v === 'function' ? v(values) : v;
}

function checkOne(type: string, spec: ArgumentSpec, v: unknown, values: Record<string, number>): number {
  if (v === undefined && spec.default !== undefined) return resolve(spec.default, values);
  if (typeof v !== 'number') throw new TypeError(`${type}: ${spec.name} must be a number, got ${describe(v)}`);
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
  const max = spec.max === undefined ? ARGUMENT_LIMITS.maxDimension : resolve(spec.max, values);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${type}: ${spec.name} must be an integer in [${min}, ${max}], got ${v}`);
  }
  return v;
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
  schema.args.forEach((spec, i) => {
    values[spec.name] = checkOne(type, spec, args[i], values);
  });
  for (const spec of schema.options ?? []) {
    if (typeof spec === 'string') continue;
    values[spec.name] = checkOne(type, spec, options[spec.name], values);
  }
  return values;
}
