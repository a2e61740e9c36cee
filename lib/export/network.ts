/**
 * What both exporters (ONNX, lib/export/onnx.ts; PyTorch's layout, lib/export/torch.ts) need of
 * a network before converting it: its modules in the order they run, with the Sequentials
 * opened up, as torch.onnx traces a nested model into one flat graph.
 *
 * The walk keeps its own stack instead of recursing, so a Sequential nested 10,000 deep is
 * exported like a flat one (the JavaScript stack would overflow long before), and it refuses
 * the two networks that have no flat form: a Sequential that contains itself, and one that
 * unrolls to more places than {@link MAX_PLACES}. Then each module's tensors are checked
 * against what its config declares ({@link checkTensors}).
 * @internal
 */
import { Module, Sequential } from '../nn/module';
import { checkConfigShape, moduleType } from '../nn/registry';
import { ArgumentValues, checkArguments, checkDeclaredTensor } from '../nn/schema';
import { describe } from '../tensor';
import { firstLine } from '../messages';

/** A module at one of its places in a network. @internal */
export interface Place {
  module: Module;
  /** Its position, as parameter names are prefixed: '' for the root, `3` or `3.1` inside Sequentials. */
  path: string;
}

/**
 * The most places {@link unroll} lists. A module at several places counts at each, so a
 * Sequential holding the same Sequential twice, itself held twice, and so on, doubles the count
 * at every level: 40 levels would make a graph of 2^40 nodes (and a walk that never ends).
 * @internal
 */
export const MAX_PLACES = 2 ** 20;

/** Marks in an outline: a Sequential opens or closes; a leaf is its index in the places. */
const OPEN = -1;
const CLOSE = -2;

const join = (pos: string, name: string): string => (pos === '' ? name : `${pos}.${name}`);
const where = (path: string): string => (path === '' ? 'the root' : `position ${path}`);

/**
 * The modules of `net` other than the Sequentials `opens` accepts, in the order they run, each
 * at every place it sits. `outline()` writes the network as `net.toString()` does (what the
 * Sequentials hold, nested), without recursion. `who` prefixes errors.
 * @internal
 */
export function unroll(
  net: Module,
  who: string,
  opens: (m: Module) => m is Sequential,
  limit = MAX_PLACES,
): { places: Place[]; outline: () => string } {
  const places: Place[] = [];
  const marks: number[] = [];
  const stack: { seq: Sequential; path: string; next: number }[] = [];
  /** The Sequentials open on the current branch, by their path there. */
  const open = new Map<Module, string>();
  let entered = 0;
  const enter = (m: Module, path: string): void => {
    // Only what was pushed into `modules` by hand gets here without being a constructed Module.
    if (!(m instanceof Module)) throw new TypeError(`${who}: the module at ${where(path)} is not a Module, got ${describe(m)}`);
    if (++entered > limit) {
      throw new RangeError(
        `${who}: the network unrolls to over ${limit} modules (the limit): a module at several places counts at each, so Sequentials shared inside shared Sequentials multiply`,
      );
    }
    if (!opens(m)) {
      marks.push(places.length);
      places.push({ module: m, path });
      return;
    }
    if (!Array.isArray(m.modules))
      throw new TypeError(`${who}: the Sequential at ${where(path)} has no list of modules (it was never constructed)`);
    const outer = open.get(m);
    if (outer !== undefined) {
      throw new RangeError(
        `${who}: the Sequential at ${where(outer)} contains itself (again at ${where(path)}): a network cannot hold itself`,
      );
    }
    open.set(m, path);
    stack.push({ seq: m, path, next: 0 });
    marks.push(OPEN);
  };
  enter(net, '');
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.next < top.seq.modules.length) {
      const i = top.next++;
      enter(top.seq.modules[i], join(top.path, String(i)));
    } else {
      stack.pop();
      open.delete(top.seq);
      marks.push(CLOSE);
    }
  }
  const outline = (): string => {
    const parts: string[] = [];
    let first = true;
    for (const mark of marks) {
      if (mark === CLOSE) {
        parts.push(')');
        first = false;
        continue;
      }
      if (!first) parts.push(', ');
      first = mark === OPEN;
      parts.push(mark === OPEN ? 'Sequential(' : places[mark].module.toString());
    }
    return parts.join('');
  };
  return { places, outline };
}

/**
 * The modules of `places`, each once, with the first place it sits at: the modules to check
 * before converting anything. `who` prefixes errors. Refuses a layer not sized yet
 * (`Linear(null, out)` before its first input), which has no weights to convert, and a built-in
 * module whose tensors disagree with its config ({@link checkTensors}). @internal
 */
export function checkModules(places: readonly Place[], who: string): Map<Module, string> {
  const first = new Map<Module, string>();
  for (const p of places) if (!first.has(p.module)) first.set(p.module, p.path);
  try {
    for (const m of first.keys()) m.config();
  } catch (e) {
    throw new RangeError(`${who}: ${(e as Error).message}`);
  }
  for (const [m, path] of first) checkTensors(m, path, who);
  return first;
}

/**
 * Refuses a built-in module that its own constructor would refuse, or whose parameters and
 * buffers are not the ones its config declares. Both come from fields edited after
 * construction: a pooling's stride set to 0, a shape edited by hand, data of another length
 * than its shape, data that is not a Float32Array. The exporters write the config's sizes as
 * attributes and shapes (a Gemm's, a Conv's, PyTorch's) and the tensors' values, so either
 * would make a file that ONNX Runtime refuses or whose weights do not fit its own graph.
 * `path` is the module's place, which prefixes its tensors' names.
 * @internal
 */
export function checkTensors(m: Module, path: string, who: string): void {
  const c = m.config();
  const schema = moduleType(c.type)?.schema;
  if (!schema) return;
  const options = c.options ?? {};
  let values: ArgumentValues;
  try {
    checkConfigShape(c.type, schema, c);
    values = checkArguments(c.type, schema, c.args, options);
  } catch (e) {
    throw new RangeError(`${who}: ${m.label()}: ${(e as Error).message}`);
  }
  const declared = [
    ...(schema.parameters?.(values, options) ?? []).map(([name, shape]) => ({ kind: 'parameter', name, shape })),
    ...(schema.buffers?.(values, options) ?? []).map(([name, shape]) => ({ kind: 'buffer', name, shape })),
  ];
  const held = new Map([...m.parameters(), ...m.buffers()].map((t) => [t.name, t.value]));
  const list = (names: string[]): string => names.join(', ') || 'none';
  if (held.size !== declared.length || declared.some((d) => !held.has(d.name))) {
    throw new RangeError(
      `${who}: ${m.label()} holds the tensors ${list([...held.keys()])}, its config declares ${list(declared.map((d) => d.name))}`,
    );
  }
  for (const { kind, name, shape } of declared)
    checkDeclaredTensor(who, `${kind} ${join(path, name)} of ${m.label()}`, held.get(name)!, shape);
}

/**
 * Checks that `inputShape` is the shape of one sample: a non-empty array of positive integers.
 * Array.from reads the holes of a sparse array (`[256, , 1]`) as undefined, which `some` and
 * `every` would skip. @internal
 */
export function checkSampleShape(who: string, inputShape: unknown): asserts inputShape is readonly number[] {
  if (
    !Array.isArray(inputShape) ||
    inputShape.length === 0 ||
    Array.from(inputShape).some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 1)
  )
    throw new TypeError(
      `${who}: inputShape must be the shape of one sample (positive integers, without the batch), got ${describe(inputShape)}`,
    );
}

/**
 * Checks that `inputShape` is the shape of one sample ({@link checkSampleShape}) and that the
 * network takes it: see {@link throughSampleShape}. @internal
 */
export function checkSampleShapeFits(
  who: string,
  inputShape: unknown,
  follow: (shape: number[]) => unknown,
): asserts inputShape is readonly number[] {
  checkSampleShape(who, inputShape);
  throughSampleShape(who, inputShape, follow);
}

/**
 * What `follow` gives for a batch of one sample of `inputShape` (it passes the batch through the
 * network, shapes only, and throws where a layer refuses it). A refused shape is a RangeError
 * naming it, with a hint when the shape without its first axis fits: a batch given with it, as
 * PyTorch's dummy input is. @internal
 */
export function throughSampleShape<T>(who: string, inputShape: readonly number[], follow: (shape: number[]) => T): T {
  try {
    return follow([1, ...inputShape]);
  } catch (e) {
    const withoutBatch = inputShape.slice(1);
    let hint = '';
    try {
      follow([1, ...withoutBatch]);
      if (withoutBatch.length > 0) hint = ` (inputShape is one sample's shape, without the batch: [${withoutBatch.join(', ')}]?)`;
    } catch {
      // Not that either: the message says why the shape given does not fit.
    }
    throw new RangeError(`${who}: inputShape [${inputShape.join(', ')}] does not fit the network: ${firstLine(e)}${hint}`);
  }
}

/** The shape the places give, run one after the other on `shape` (batch first); a layer that refuses it throws. @internal */
export function shapeThrough(places: readonly Place[], shape: readonly number[]): number[] {
  let out = [...shape];
  for (const p of places) out = p.module.outputShape(out);
  return out;
}
