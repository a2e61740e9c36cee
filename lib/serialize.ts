/**
 * Saving and loading networks.
 *
 * A model file is a [safetensors](https://github.com/huggingface/safetensors) file:
 *
 *     8 bytes   N, the header length, unsigned little-endian
 *     N bytes   JSON header: { "__metadata__": { string: string },
 *                              "<name>": { "dtype": "F32", "shape": [...], "data_offsets": [begin, end] }, ... }
 *     rest      the tensors' raw little-endian bytes; offsets count from the end of the header
 *
 * The network's architecture (`net.config()`, see {@link ModuleConfig}) is stored as JSON in the
 * metadata under `neurone.architecture`, so {@link load} rebuilds the network without user code;
 * the tensors are the parameters under their `parameters()` names (`0.weight`, `0.bias`, ...), so
 * Python's `safetensors.numpy.load_file` or `safetensors.torch.load_file` read the weights as is.
 *
 * Writes are atomic: a temporary file in the same directory is written, flushed to disk and renamed
 * over the target, so a crash mid-save leaves the previous file as it was.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, formatShape, sizeOf } from './tensor';
import { globalRng } from './random';
import { Module, ModuleConfig, Sequential } from './nn/module';
import { Linear } from './nn/linear';
import { Conv1D, ConvTranspose1D, Upsample1D } from './nn/conv';
import { MaxPool1D, AvgPool1D, Flatten } from './nn/pool';
import { TanH, Sigmoid, StableSigmoid, Softmax, LogSoftmax, ReLU, LeakyReLU, SoftPlus, Identity } from './nn/activations';

/** Version of the layout described above, stored as metadata `neurone.format`. */
export const FORMAT_VERSION = '1';

/** Element types neurone reads and writes (safetensors names). */
export type DType = 'F32' | 'I32';

/** One tensor of a safetensors file. @internal */
export interface StoredTensor {
  dtype: DType;
  shape: number[];
  data: Float32Array | Int32Array;
}

/** A safetensors file in memory: named tensors in file order, and the string metadata. @internal */
export interface SafetensorsFile {
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

// safetensors' own reader refuses headers above 100 MB; a larger length means a corrupt file.
const MAX_HEADER = 100_000_000;
// One writeSync call takes at most 2 GiB; big tensors go out in pieces.
const WRITE_PIECE = 64 * 1024 * 1024;
const LITTLE_ENDIAN = os.endianness() === 'LE';

function bytesOf(data: Float32Array | Int32Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(4 * i, data[i], true);
    else view.setInt32(4 * i, data[i], true);
  }
  return out;
}

function fromBytes(dtype: DType, bytes: Uint8Array): Float32Array | Int32Array {
  const n = bytes.length / 4;
  const out = dtype === 'F32' ? new Float32Array(n) : new Int32Array(n);
  if (LITTLE_ENDIAN) {
    // A copy: the file buffer need not be 4-byte aligned, and the weights must not alias it.
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = dtype === 'F32' ? view.getFloat32(4 * i, true) : view.getInt32(4 * i, true);
  return out;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length;) {
    const end = Math.min(bytes.length, at + WRITE_PIECE);
    at += fs.writeSync(fd, bytes, at, end - at);
  }
}

/**
 * Writes `chunks` to `file` atomically: a temporary file `.<name>.<pid>.<random>.tmp` in the same
 * directory (a rename is atomic only within one file system), fsync, rename over `file`, then
 * fsync the directory so the rename itself survives a power cut (skipped where directories
 * cannot be opened, as on Windows).
 * @internal
 */
export function writeFileAtomic(file: string, chunks: readonly Uint8Array[]): void {
  const target = path.resolve(file);
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  const fd = fs.openSync(tmp, 'wx', 0o644);
  try {
    for (const c of chunks) writeAll(fd, c);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  let dirFd: number | undefined;
  try {
    dirFd = fs.openSync(dir, 'r');
    fs.fsyncSync(dirFd);
  } catch {
    // Directory fsync is not supported everywhere (Windows, some network file systems).
  } finally {
    if (dirFd !== undefined) fs.closeSync(dirFd);
  }
}

/**
 * Encodes named tensors and metadata as safetensors and writes them atomically to `file`.
 * @internal
 */
export function writeSafetensors(file: string, tensors: readonly (StoredTensor & { name: string })[], metadata: Record<string, string>): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const seen = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (seen.has(t.name) || t.name === '__metadata__') throw new Error(`save: ${file}: tensor name '${t.name}' is used twice`);
    seen.add(t.name);
    const bytes = 4 * sizeOf(t.shape, `save: tensor ${t.name}`);
    if (t.data.byteLength !== bytes) {
      throw new RangeError(`save: ${file}: tensor ${t.name} has shape ${formatShape(t.shape)} but ${t.data.length} values`);
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces (as the reference writer does) so the data starts 8-byte aligned.
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  writeFileAtomic(file, [prefix, headerBytes, ...tensors.map((t) => bytesOf(t.data))]);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Reads and validates a safetensors file: header length and JSON, dtypes, shapes, offsets that
 * tile the data exactly, and the file length. Errors name the file and what is wrong.
 * @internal
 */
export function readSafetensors(file: string, who = 'load'): SafetensorsFile {
  const fail = (what: string): Error => new Error(`${who}: ${file}: ${what}`);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw fail(`cannot read the file (${(e as Error).message})`);
  }
  if (buf.length < 8) throw fail(`truncated or not a safetensors file: ${buf.length} bytes, fewer than the 8-byte header length`);
  const declared = buf.readBigUInt64LE(0);
  if (declared > BigInt(MAX_HEADER)) throw fail(`not a safetensors file: header length ${declared} is implausible (over ${MAX_HEADER} bytes)`);
  const headerLength = Number(declared);
  if (8 + headerLength > buf.length) {
    throw fail(`truncated or not a safetensors file: the header needs ${headerLength} bytes, the file has ${buf.length - 8} after the length`);
  }
  let header: unknown;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLength).toString('utf8'));
  } catch (e) {
    throw fail(`corrupt header: not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(header)) throw fail(`corrupt header: expected a JSON object, got ${describe(header)}`);

  const metadata: Record<string, string> = {};
  const rawMeta = header.__metadata__;
  if (rawMeta !== undefined) {
    if (!isPlainObject(rawMeta)) throw fail('corrupt header: __metadata__ must be an object of strings');
    for (const [k, v] of Object.entries(rawMeta)) {
      if (typeof v !== 'string') throw fail(`corrupt header: metadata '${k}' must be a string, got ${describe(v)}`);
      metadata[k] = v;
    }
  }

  const dataLength = buf.length - 8 - headerLength;
  const entries: { name: string; dtype: DType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (!isPlainObject(raw)) throw fail(`corrupt header: entry '${name}' must be an object`);
    const { dtype, shape, data_offsets: offsets } = raw;
    if (dtype !== 'F32' && dtype !== 'I32') throw fail(`tensor '${name}' has dtype ${JSON.stringify(dtype)}; neurone reads F32 (and I32 in checkpoints)`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw fail(`corrupt header: tensor '${name}' has shape ${JSON.stringify(shape)}, expected an array of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[1] < offsets[0]) {
      throw fail(`corrupt header: tensor '${name}' has data_offsets ${JSON.stringify(offsets)}, expected [begin, end] with 0 <= begin <= end`);
    }
    const bytes = 4 * shape.reduce((a: number, b: number) => a * b, 1);
    if (offsets[1] - offsets[0] !== bytes) {
      throw fail(`corrupt header: tensor '${name}' of shape ${formatShape(shape)} needs ${bytes} bytes, its data_offsets [${offsets.join(', ')}] span ${offsets[1] - offsets[0]}`);
    }
    entries.push({ name, dtype, shape, begin: offsets[0], end: offsets[1] });
  }

  // As the reference reader requires: the tensors tile the data from 0 to its end, no gap, no overlap.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of sorted) {
    if (e.begin !== expected) {
      throw fail(`corrupt header: tensor '${e.name}' starts at byte ${e.begin} of the data, expected ${expected} (gap or overlap)`);
    }
    expected = e.end;
  }
  if (expected > dataLength) throw fail(`truncated: the tensors need ${expected} bytes of data, the file has ${dataLength}`);
  if (expected < dataLength) throw fail(`corrupt file: ${dataLength - expected} bytes after the last tensor`);

  const data = buf.subarray(8 + headerLength);
  const tensors = new Map<string, StoredTensor>();
  for (const e of entries) tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: fromBytes(e.dtype, data.subarray(e.begin, e.end)) });
  return { tensors, metadata };
}

/**
 * Rebuilds a module from its config; `build` builds children (for containers).
 *
 * @example
 * registerModule('Scale', (c) => new Scale(c.args[0] as number));
 */
export type ModuleFactory = (config: ModuleConfig, build: (child: ModuleConfig) => Module) => Module;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Constructor = new (...args: any[]) => Module;

/** `new C(...args, options)`: every built-in module puts its options object after the positional arguments. */
function positional(C: Constructor): ModuleFactory {
  return (c) => new C(...c.args, ...(c.options === undefined ? [] : [c.options]));
}

const registry = new Map<string, ModuleFactory>([
  ['Sequential', (c, build) => new Sequential(...(c.modules ?? []).map(build))],
  ...([
    Linear, Conv1D, ConvTranspose1D, Upsample1D, MaxPool1D, AvgPool1D, Flatten,
    TanH, Sigmoid, StableSigmoid, Softmax, LogSoftmax, ReLU, LeakyReLU, SoftPlus, Identity,
  ] as Constructor[]).map((C): [string, ModuleFactory] => [C.name, positional(C)]),
]);
const builtIn = new Set(registry.keys());

/**
 * Teaches {@link load} and {@link buildModule} to rebuild a module type of your own (the `type`
 * its `config()` returns). Built-in types cannot be replaced.
 *
 * @example
 * class Scale extends Module {
 *   constructor(readonly k: number) { super(); }
 *   config() { return { type: 'Scale', args: [this.k] }; }
 *   // ...
 * }
 * registerModule('Scale', (c) => new Scale(c.args[0] as number));
 * const net = load('model.safetensors');
 */
export function registerModule(type: string, factory: ModuleFactory): void {
  if (typeof type !== 'string' || type === '') throw new TypeError(`registerModule: type must be a non-empty string, got ${describe(type)}`);
  if (typeof factory !== 'function') throw new TypeError(`registerModule: factory must be a function, got ${describe(factory)}`);
  if (builtIn.has(type)) throw new Error(`registerModule: '${type}' is a built-in module type`);
  registry.set(type, factory);
}

/**
 * Builds a network from its architecture (`net.config()`, or `JSON.parse(JSON.stringify(net))`),
 * with freshly initialised weights. The global random generator is left as it was.
 *
 * @example
 * const copy = buildModule(net.config());   // same layers, new weights
 */
export function buildModule(config: ModuleConfig): Module {
  const rng = globalRng();
  const saved = rng.getState();
  try {
    return buildAt(config, 'root');
  } finally {
    // Rebuilding initialises weights that are about to be overwritten: that must not
    // shift the random stream the caller's training or shuffling sees.
    rng.setState(saved);
  }
}

function buildAt(config: unknown, where: string): Module {
  if (!isPlainObject(config)) throw new TypeError(`architecture at ${where}: expected { type, args, options?, modules? }, got ${describe(config)}`);
  const { type, args, options, modules } = config;
  if (typeof type !== 'string') throw new TypeError(`architecture at ${where}: type must be a string, got ${describe(type)}`);
  if (!Array.isArray(args)) throw new TypeError(`architecture at ${where}: ${type} args must be an array, got ${describe(args)}`);
  if (options !== undefined && !isPlainObject(options)) throw new TypeError(`architecture at ${where}: ${type} options must be an object, got ${describe(options)}`);
  if (modules !== undefined && !Array.isArray(modules)) throw new TypeError(`architecture at ${where}: ${type} modules must be an array, got ${describe(modules)}`);
  const factory = registry.get(type);
  if (!factory) {
    throw new TypeError(`architecture at ${where}: unknown module type '${type}' (known: ${[...registry.keys()].join(', ')}; ` +
      `register your own with registerModule('${type}', factory))`);
  }
  let i = 0;
  const child = (c: ModuleConfig): Module => buildAt(c, where === 'root' ? String(i++) : `${where}.${i++}`);
  try {
    return factory(config as unknown as ModuleConfig, child);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('architecture at ')) throw e;
    throw new TypeError(`architecture at ${where}: ${(e as Error).message}`);
  }
}

/** Options of {@link save}. */
export interface SaveOptions {
  /** Extra string metadata stored in the header (keys starting with `neurone.` are reserved). */
  metadata?: Record<string, string>;
}

/** The tensors and metadata of a model file for `net`. @internal */
export function modelContents(net: Module, extra: Record<string, string> = {}): { tensors: (StoredTensor & { name: string })[]; metadata: Record<string, string> } {
  for (const [k, v] of Object.entries(extra)) {
    if (k.startsWith('neurone.')) throw new RangeError(`save: metadata key '${k}' is reserved`);
    if (typeof v !== 'string') throw new TypeError(`save: metadata '${k}' must be a string, got ${describe(v)}`);
  }
  const metadata = { ...extra, 'neurone.format': FORMAT_VERSION, 'neurone.architecture': JSON.stringify(net.config()) };
  const tensors = net.parameters().map((p) => ({ name: p.name, dtype: 'F32' as const, shape: [...p.value.shape], data: p.value.data }));
  return { tensors, metadata };
}

/**
 * Saves `net` (architecture and weights) to `file` as safetensors, atomically: until the new file
 * is complete and on disk, `file` keeps its previous content.
 *
 * @example
 * save(net, 'digits.safetensors');
 * const again = load('digits.safetensors');   // same layers, same weights
 *
 * In Python: `safetensors.numpy.load_file('digits.safetensors')['0.weight']`.
 */
export function save(net: Module, file: string, options: SaveOptions = {}): void {
  if (!(net instanceof Module)) throw new TypeError(`save: net must be a Module, got ${describe(net)}`);
  if (typeof file !== 'string' || file === '') throw new TypeError(`save: path must be a non-empty string, got ${describe(file)}`);
  const { tensors, metadata } = modelContents(net, options.metadata ?? {});
  writeSafetensors(file, tensors, metadata);
}

/** Tensor names a checkpoint adds beside the parameters; `load` skips them. */
const RESERVED_PREFIXES = ['optimizer.', 'fit.'];

/**
 * Copies the parameter tensors of `stored` into `net`, after checking that every parameter is
 * there with dtype F32 and the parameter's shape, and that nothing else is.
 * @internal
 */
export function assignWeights(net: Module, stored: Map<string, StoredTensor>, file: string, who: string): void {
  const params = net.parameters();
  const names = new Set(params.map((p) => p.name));
  for (const name of stored.keys()) {
    if (!names.has(name) && !RESERVED_PREFIXES.some((r) => name.startsWith(r))) {
      throw new Error(`${who}: ${file}: tensor '${name}' matches no parameter of ${net.toString()} (parameters: ${[...names].join(', ') || 'none'})`);
    }
  }
  // Check everything before copying anything, so a bad file leaves the network untouched.
  for (const p of params) {
    const t = stored.get(p.name);
    if (!t) throw new Error(`${who}: ${file}: parameter ${p.name} of ${p.module.label()} is missing from the file`);
    if (t.dtype !== 'F32') throw new Error(`${who}: ${file}: tensor '${p.name}' has dtype ${t.dtype}, parameters are F32`);
    if (t.shape.length !== p.value.shape.length || t.shape.some((d, i) => d !== p.value.shape[i])) {
      throw new Error(`${who}: ${file}: tensor '${p.name}' has shape ${formatShape(t.shape)}, ${p.module.label()} expects ${formatShape(p.value.shape)}`);
    }
  }
  for (const p of params) p.value.data.set((stored.get(p.name) as StoredTensor).data);
}

/** Parses and checks the architecture stored in a file's metadata. @internal */
export function storedArchitecture(metadata: Record<string, string>, file: string, who: string): ModuleConfig {
  const version = metadata['neurone.format'];
  const arch = metadata['neurone.architecture'];
  if (arch === undefined) {
    throw new Error(`${who}: ${file}: no neurone.architecture in the metadata (weights only?); ` +
      'build the network yourself and use loadWeights(net, path)');
  }
  if (version !== FORMAT_VERSION) {
    throw new Error(`${who}: ${file}: format version ${JSON.stringify(version)}, this neurone reads version ${FORMAT_VERSION}`);
  }
  try {
    return JSON.parse(arch) as ModuleConfig;
  } catch (e) {
    throw new Error(`${who}: ${file}: corrupt metadata: neurone.architecture is not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Loads a network saved by {@link save} (or a checkpoint written by `fit`): rebuilds it from the
 * stored architecture, with no user code, and puts the weights in.
 *
 * @throws Error naming the file and the problem when it is truncated, corrupt, or its tensors
 * do not match the architecture (names, dtype, shapes, offsets, length).
 * @example
 * const net = load('digits.safetensors');
 * const scores = predict(net, xTest);
 */
export function load(file: string): Module {
  if (typeof file !== 'string' || file === '') throw new TypeError(`load: path must be a non-empty string, got ${describe(file)}`);
  const { tensors, metadata } = readSafetensors(file, 'load');
  const config = storedArchitecture(metadata, file, 'load');
  let net: Module;
  try {
    net = buildModule(config);
  } catch (e) {
    throw new Error(`load: ${file}: ${(e as Error).message}`);
  }
  assignWeights(net, tensors, file, 'load');
  return net;
}

/**
 * Loads the weights of a saved model (or any safetensors file whose tensors are named like
 * `net.parameters()` and stored as F32) into an existing network of the same shape.
 *
 * @example
 * const net = new Sequential(new Linear(256, 10));
 * loadWeights(net, 'linear.safetensors');
 */
export function loadWeights(net: Module, file: string): void {
  if (!(net instanceof Module)) throw new TypeError(`loadWeights: net must be a Module, got ${describe(net)}`);
  const { tensors } = readSafetensors(file, 'loadWeights');
  assignWeights(net, tensors, file, 'loadWeights');
}
