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
 * Writes are atomic (`writeFileAtomic`, lib/data/read.ts): a temporary file in the same directory
 * is written, flushed to disk and renamed over the target, so a crash mid-save leaves the previous
 * file as it was.
 */
import * as fs from 'fs';
import * as os from 'os';
import { fileURLToPath } from 'url';
import { describe, formatShape, sizeOf } from './tensor';
import { globalRng } from './random';
import { Module, ModuleConfig, Sequential } from './nn/module';
import { unsizedText } from './nn/base';
import { ModuleFactory, checkConfigShape, moduleType, moduleTypes, registerModuleType } from './nn/registry';
import { ARGUMENT_LIMITS, ArgumentValues, checkArguments, checkDeclaredTensor } from './nn/schema';
import { torchEntries } from './export/torch';
import { checkSampleShapeFits } from './export/network';
import { followLayers } from './nn/shapes';
import { applyEvalPositions, evalPositions } from './nn/mode';
import { IO_PIECE, fileKind, fsReason, writeFileAtomic } from './data/read';
import { backend } from './backend';
import { checkKnownOptions, closest } from './options';

export type { ModuleFactory } from './nn/registry';

/** Version of the layout described above, stored as metadata `neurone.format`. */
export const FORMAT_VERSION = '1';

/**
 * Element types neurone reads and writes (safetensors names): F32 for weights, I32 in
 * checkpoints, I64 for the one integer PyTorch's state_dict holds (BatchNorm's
 * num_batches_tracked).
 */
export type DType = 'F32' | 'I32' | 'I64';

/** One tensor of a safetensors file. @internal */
export interface StoredTensor {
  dtype: DType;
  shape: number[];
  /**
   * The values; an I64 tensor's as two Int32 words per value, low then high: the little-endian
   * bytes of the int64s (see {@link int64Value}).
   */
  data: Float32Array | Int32Array;
}

/** An I64 scalar's words (low, high) for a count up to 2^53. */
function int64Words(n: number): Int32Array {
  return Int32Array.of((n % 2 ** 32) | 0, Math.floor(n / 2 ** 32));
}

/** The values of an I64 tensor's words (low, high), exact up to 2^53. @internal */
export function int64Value(words: Int32Array, i: number): number {
  return words[2 * i + 1] * 2 ** 32 + (words[2 * i] >>> 0);
}

/** Bytes per element of `dtype`. */
function elementBytes(dtype: DType): number {
  return dtype === 'I64' ? 8 : 4;
}

/** A safetensors file in memory: named tensors in file order, and the string metadata. @internal */
export interface SafetensorsFile {
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

/**
 * Policy limits, shared by {@link save} and {@link load} so that save refuses (before writing
 * anything) every file load would refuse. A file may be hostile: these keep a small file from
 * making load allocate or compute much more than the file's own size.
 *
 * - `maxFileBytes` (16 GiB): the largest file save writes and load reads. Load checks the size
 *   with fstat before reading anything, and refuses what is not a regular file (a device such
 *   as /dev/zero, a FIFO, a directory). Files are read in pieces, so files over 2 GiB load.
 * - `maxHeaderBytes` (100 MB, the reference reader's limit): the JSON header.
 * - `maxParameters` (2^30 values, 4 GiB of F32): the parameter values an architecture may
 *   declare. Besides, before anything is allocated, every parameter the architecture declares
 *   must be stored in the file with its shape, so a file of N bytes cannot make load build more
 *   than N / 4 parameter values.
 * - `maxNesting` (64): Sequentials inside Sequentials.
 * - `maxDimension` (2^24): any size argument of a built-in layer (sizes, channels, kernel,
 *   stride, padding). A Conv1D's `padding` must be below its `kSize` (`kSize − 1` is the "full"
 *   convolution; more only adds outputs that see nothing but zeros, and memory in `predict`);
 *   an Upsample1D's `scale` is at most `maxUpsample` (4096). Built-in layers take no more
 *   arguments than their `config()` writes. The constructors refuse the same values (the
 *   ranges are stated once, in each type's schema in the module registry), so a network that
 *   constructs can be saved.
 */
export const LIMITS = Object.freeze({
  maxFileBytes: 16 * 2 ** 30,
  // safetensors' own reader refuses headers above 100 MB; a larger length means a corrupt file.
  maxHeaderBytes: 100_000_000,
  maxParameters: 2 ** 30,
  maxNesting: 64,
  maxDimension: ARGUMENT_LIMITS.maxDimension,
  maxUpsample: ARGUMENT_LIMITS.maxUpsample,
});
const MAX_HEADER = LIMITS.maxHeaderBytes;
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

/** Big-endian hosts: the bytes read into `data` are little-endian; swap them in place. */
function fixEndianness(data: Float32Array | Int32Array): void {
  if (LITTLE_ENDIAN) return;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) data[i] = view.getFloat32(4 * i, true);
    else data[i] = view.getInt32(4 * i, true);
  }
}

/** Fills `into` from the file at `position`, in pieces; false when the file ends first. */
function readAll(fd: number, into: Uint8Array, position: number, piece: number): boolean {
  for (let at = 0; at < into.length;) {
    const got = fs.readSync(fd, into, at, Math.min(piece, into.length - at), position + at);
    if (got === 0) return false;
    at += got;
  }
  return true;
}

function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${n} bytes`;
}

/**
 * Encodes named tensors and metadata as safetensors and writes them atomically to `file`.
 * Refuses, before writing anything, a file load would refuse: a header over the limit or a file
 * over {@link LIMITS}.maxFileBytes.
 * @internal
 */
export function writeSafetensors(
  file: string,
  tensors: readonly (StoredTensor & { name: string })[],
  metadata: Record<string, string>,
  options: { who?: string; replace?: boolean } = {},
): void {
  const { who = 'save', replace = true } = options;
  const header: Record<string, unknown> = { __metadata__: metadata };
  const seen = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (seen.has(t.name) || t.name === '__metadata__') throw new Error(`${who}: ${file}: tensor name '${t.name}' is used twice`);
    seen.add(t.name);
    const bytes = elementBytes(t.dtype) * sizeOf(t.shape, `${who}: tensor ${t.name}`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces (as the reference writer does) so the data starts 8-byte aligned.
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  if (headerBytes.length > MAX_HEADER) {
    throw new RangeError(
      `${who}: ${file}: the header would take ${headerBytes.length} bytes, over the ${MAX_HEADER}-byte limit load accepts (too much metadata or too many tensors)`,
    );
  }
  const total = 8 + headerBytes.length + offset;
  if (total > LIMITS.maxFileBytes) {
    throw new RangeError(
      `${who}: ${file}: the file would take ${formatBytes(total)}, over the ${formatBytes(LIMITS.maxFileBytes)} limit load accepts`,
    );
  }
  for (const t of tensors) {
    if (t.data.byteLength !== elementBytes(t.dtype) * sizeOf(t.shape)) {
      throw new RangeError(`${who}: ${file}: tensor ${t.name} has shape ${formatShape(t.shape)} but ${t.data.length} values`);
    }
  }
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  writeFileAtomic(file, [prefix, headerBytes, ...tensors.map((t) => bytesOf(t.data))], { who, replace });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A tensor's place in an open file. */
interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/** A safetensors file whose header has been read and checked against the file's size; the data not yet read. */
interface OpenFile {
  fd: number;
  file: string;
  who: string;
  metadata: Record<string, string>;
  entries: Map<string, Entry>;
  dataStart: number;
  dataLength: number;
  fail: (what: string) => Error;
}

/** What the first bytes of a model file of another format say it is, or undefined. */
function otherModelFormat(prefix: Uint8Array): string | undefined {
  const b = Buffer.from(prefix);
  if (b.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'))) return "a zip archive (torch.save's .pt/.pth format)";
  if (b[0] === 0x80 && b[1] >= 2 && b[1] <= 5) return 'a Python pickle (an older torch.save file)';
  if (b.subarray(0, 4).equals(Buffer.from('\x89HDF', 'latin1'))) return 'an HDF5 file (a Keras .h5 model?)';
  // ONNX: a protobuf ModelProto opens with ir_version, field 1 as a varint.
  if (b[0] === 0x08 && b[1] > 0 && b[1] < 0x20) return 'a protobuf message (an ONNX model?)';
  return undefined;
}

/**
 * Opens `file`, checks it is a regular file within the size limit (fstat, before reading), reads
 * and validates the header: dtypes, shapes, offsets that tile the data exactly, and the file
 * length. Nothing of the data is read. The caller closes `fd`.
 */
function openSafetensors(file: string, who: string): OpenFile {
  const fail = (what: string): Error => new Error(`${who}: ${file}: ${what}`);
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
    fd = fs.openSync(file, fs.constants.O_RDONLY | (process.platform === 'win32' ? 0 : fs.constants.O_NONBLOCK));
  } catch (e) {
    // The system's code kept: the file may be fine (see isSystemError).
    throw Object.assign(fail(`cannot read the file (${fsReason(e)})`), { code: (e as NodeJS.ErrnoException).code });
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw fail(`${fileKind(st)}, not a regular file; neurone reads model files only`);
    const size = st.size;
    if (size > LIMITS.maxFileBytes) throw fail(`${formatBytes(size)}, over the ${formatBytes(LIMITS.maxFileBytes)} limit on model files`);
    const prefix = new Uint8Array(8);
    const got = size >= 8 && readAll(fd, prefix, 0, 8);
    if (!got) throw fail(`truncated or not a safetensors file: ${size} bytes, fewer than the 8-byte header length`);
    const declared = Buffer.from(prefix).readBigUInt64LE(0);
    if (declared > BigInt(MAX_HEADER)) {
      const kind = otherModelFormat(prefix);
      throw fail(
        kind
          ? `not a safetensors file: it begins as ${kind}; neurone reads the .safetensors files save() writes, or a state_dict saved with safetensors.torch.save_file (load with { layout: 'torch' })`
          : `not a safetensors file: header length ${declared} is implausible (over ${MAX_HEADER} bytes)`,
      );
    }
    const headerLength = Number(declared);
    if (8 + headerLength > size) {
      throw fail(`truncated or not a safetensors file: the header needs ${headerLength} bytes, the file has ${size - 8} after the length`);
    }
    const headerBytes = Buffer.alloc(headerLength);
    if (!readAll(fd, headerBytes, 8, IO_PIECE)) throw fail('truncated while reading the header (the file shrank)');
    let header: unknown;
    try {
      header = JSON.parse(headerBytes.toString('utf8'));
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
        // Defined, not assigned: a key "__proto__" (JSON.parse makes it an own key) would set the
        // object's prototype to nothing and be lost.
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
    }

    const dataLength = size - 8 - headerLength;
    const entries = new Map<string, Entry>();
    for (const [name, raw] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      if (!isPlainObject(raw)) throw fail(`corrupt header: entry '${name}' must be an object`);
      const { dtype, shape, data_offsets: offsets } = raw;
      if (dtype !== 'F32' && dtype !== 'I32' && dtype !== 'I64') {
        throw fail(
          `tensor '${name}' has dtype ${JSON.stringify(dtype)}; neurone reads F32 (I32 in checkpoints, I64 for PyTorch's num_batches_tracked)`,
        );
      }
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw fail(`corrupt header: tensor '${name}' has shape ${JSON.stringify(shape)}, expected an array of non-negative integers`);
      }
      if (
        !Array.isArray(offsets) ||
        offsets.length !== 2 ||
        !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
        offsets[1] < offsets[0]
      ) {
        throw fail(
          `corrupt header: tensor '${name}' has data_offsets ${JSON.stringify(offsets)}, expected [begin, end] with 0 <= begin <= end`,
        );
      }
      const bytes = elementBytes(dtype) * shape.reduce((a: number, b: number) => a * b, 1);
      if (offsets[1] - offsets[0] !== bytes) {
        throw fail(
          `corrupt header: tensor '${name}' of shape ${formatShape(shape)} needs ${bytes} bytes, its data_offsets [${offsets.join(', ')}] span ${offsets[1] - offsets[0]}`,
        );
      }
      entries.set(name, { name, dtype, shape, begin: offsets[0], end: offsets[1] });
    }

    // As the reference reader requires: the tensors tile the data from 0 to its end, no gap, no
    // overlap. Checked against the file's size before any data is read or allocated.
    const sorted = [...entries.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
    let expected = 0;
    for (const e of sorted) {
      if (e.begin !== expected) {
        throw fail(`corrupt header: tensor '${e.name}' starts at byte ${e.begin} of the data, expected ${expected} (gap or overlap)`);
      }
      expected = e.end;
    }
    if (expected > dataLength) throw fail(`truncated: the tensors need ${expected} bytes of data, the file has ${dataLength}`);
    if (expected < dataLength) throw fail(`corrupt file: ${dataLength - expected} bytes after the last tensor`);
    return { fd, file, who, metadata, entries, dataStart: 8 + headerLength, dataLength, fail };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** Reads the data of every tensor of an open file, each straight into its own array, in pieces. */
function readTensors(f: OpenFile, piece = IO_PIECE): Map<string, StoredTensor> {
  const tensors = new Map<string, StoredTensor>();
  for (const e of f.entries.values()) {
    const n = (e.end - e.begin) / 4;
    const data = e.dtype === 'F32' ? new Float32Array(n) : new Int32Array(n);
    if (!readAll(f.fd, new Uint8Array(data.buffer), f.dataStart + e.begin, piece)) {
      throw f.fail(`truncated while reading tensor '${e.name}' (the file shrank)`);
    }
    fixEndianness(data);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return tensors;
}

/**
 * Reads and validates a safetensors file: a regular file within {@link LIMITS}.maxFileBytes,
 * header length and JSON, dtypes, shapes, offsets that tile the data exactly, and the file
 * length. Errors name the file and what is wrong. `pieceBytes` (tests) sets the read size.
 * @internal
 */
export function readSafetensors(file: string, who = 'load', pieceBytes = IO_PIECE): SafetensorsFile {
  const f = openSafetensors(file, who);
  try {
    return { tensors: readTensors(f, pieceBytes), metadata: f.metadata };
  } finally {
    fs.closeSync(f.fd);
  }
}

/**
 * The metadata of a safetensors file, its header validated as {@link readSafetensors} validates
 * it, without reading the tensors' data. @internal
 */
export function readSafetensorsMetadata(file: string, who = 'load'): Record<string, string> {
  const f = openSafetensors(file, who);
  fs.closeSync(f.fd);
  return f.metadata;
}

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
 * @param type The name `config()` writes in `type`; not a built-in type's.
 * @param factory Builds a module from its stored config (`args`, `options`; `modules` for a container).
 */
export function registerModule(type: string, factory: ModuleFactory): void {
  registerModuleType(type, factory);
}

/** The unknown-type error of load and buildModule. */
function unknownType(where: string, type: string): TypeError {
  const known = moduleTypes().map((t) => t.type);
  // PyTorch's spellings of neurone's types differ in case (Tanh, Softplus) or a letter.
  const near = closest(type, known);
  return new TypeError(
    `architecture at ${where}: unknown module type '${type}'${near ? ` (did you mean '${near}'?)` : ''} (known: ${known.join(', ')}; ` +
      `register your own with registerModule('${type}', factory))`,
  );
}

/**
 * Builds a network from its architecture (`net.config()`, or `JSON.parse(JSON.stringify(net))`),
 * with freshly initialised weights. The global random generator is left as it was.
 *
 * @example
 * const copy = buildModule(net.config());   // same layers, new weights
 * @param config The architecture, as `config()` or `toJSON()` wrote it.
 * @returns A new network of that architecture, its weights freshly initialised.
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
  if (!isPlainObject(config))
    throw new TypeError(`architecture at ${where}: expected { type, args, options?, modules? }, got ${describe(config)}`);
  const { type, args, options, modules } = config;
  if (typeof type !== 'string') throw new TypeError(`architecture at ${where}: type must be a string, got ${describe(type)}`);
  if (!Array.isArray(args)) throw new TypeError(`architecture at ${where}: ${type} args must be an array, got ${describe(args)}`);
  if (options !== undefined && !isPlainObject(options))
    throw new TypeError(`architecture at ${where}: ${type} options must be an object, got ${describe(options)}`);
  if (modules !== undefined && !Array.isArray(modules))
    throw new TypeError(`architecture at ${where}: ${type} modules must be an array, got ${describe(modules)}`);
  const entry = moduleType(type);
  if (!entry) throw unknownType(where, type);
  let i = 0;
  const child = (c: ModuleConfig): Module => buildAt(c, where === 'root' ? String(i++) : `${where}.${i++}`);
  try {
    return entry.create(config as unknown as ModuleConfig, child);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('architecture at ')) throw e;
    throw new TypeError(`architecture at ${where}: ${(e as Error).message}`);
  }
}

/** A position in a network: '' for the root, `3`, `1.2` inside Sequentials. */
function join(pos: string, name: string): string {
  return pos === '' ? name : `${pos}.${name}`;
}

function whereOf(pos: string): string {
  return pos === '' ? 'root' : pos;
}

/** What an architecture declares, found without building it. */
interface ArchitecturePlan {
  /** Parameter name → shape, for the built-in layers. */
  shapes: Map<string, { shape: number[]; label: string }>;
  /** Positions of module types of the user's own (registered), whose parameters only building tells. */
  opaque: string[];
  /** Position → its config, for the checks on shared modules. */
  configs: Map<string, unknown>;
  /** Parameter values declared by the built-in layers. */
  total: number;
}

/**
 * Checks an architecture against {@link LIMITS} without building anything: nesting, argument
 * counts and ranges of the built-in types, total parameters; lists the parameters' shapes.
 * `unknownIsError`: load refuses a type that is not registered; save lets it pass (the loading
 * program may register it).
 */
function planArchitecture(config: unknown, unknownIsError: boolean): ArchitecturePlan {
  const plan: ArchitecturePlan = { shapes: new Map(), opaque: [], configs: new Map(), total: 0 };
  const visit = (c: unknown, pos: string, depth: number, insideOpaque: boolean): void => {
    const where = whereOf(pos);
    if (depth > LIMITS.maxNesting)
      throw new RangeError(`architecture at ${where}: nested more than ${LIMITS.maxNesting} levels deep (the limit)`);
    if (!isPlainObject(c)) throw new TypeError(`architecture at ${where}: expected { type, args, options?, modules? }, got ${describe(c)}`);
    const { type, args, options, modules } = c;
    if (typeof type !== 'string') throw new TypeError(`architecture at ${where}: type must be a string, got ${describe(type)}`);
    if (!Array.isArray(args)) throw new TypeError(`architecture at ${where}: ${type} args must be an array, got ${describe(args)}`);
    if (options !== undefined && !isPlainObject(options))
      throw new TypeError(`architecture at ${where}: ${type} options must be an object, got ${describe(options)}`);
    if (modules !== undefined && !Array.isArray(modules))
      throw new TypeError(`architecture at ${where}: ${type} modules must be an array, got ${describe(modules)}`);
    for (const key of Object.keys(c)) {
      if (!['type', 'args', 'options', 'modules'].includes(key))
        throw new TypeError(`architecture at ${where}: ${type} has an unknown field '${key}' (expected type, args, options, modules)`);
    }
    plan.configs.set(pos, c);
    if (type === 'Sequential') {
      if (args.length > 0 || options !== undefined) {
        throw new TypeError(
          `architecture at ${where}: Sequential takes no args or options (its layers go in modules), got ${args.length} args${options !== undefined ? ' and options' : ''}`,
        );
      }
      (modules ?? []).forEach((m: unknown, i: number) => visit(m, join(pos, String(i)), depth + 1, insideOpaque));
      return;
    }
    const entry = moduleType(type);
    const schema = entry?.schema;
    if (!schema) {
      if (unknownIsError && !entry) throw unknownType(where, type);
      // A type of the user's own: its factory decides what it accepts and holds.
      plan.opaque.push(pos);
      (modules ?? []).forEach((m: unknown, i: number) => visit(m, join(pos, String(i)), depth + 1, true));
      return;
    }
    let values: ArgumentValues;
    try {
      checkConfigShape(type, schema, c as unknown as ModuleConfig);
      // The constructor's own checks: what builds here also constructs, and the reverse.
      values = checkArguments(type, schema, args, options ?? {});
    } catch (e) {
      const E = e instanceof RangeError ? RangeError : TypeError;
      throw new E(`architecture at ${where}: ${(e as Error).message}`);
    }
    const label = `${type}(${args.map((a) => String(a)).join(', ')})${pos === '' ? '' : ` at position ${pos}`}`;
    // Buffers (BatchNorm's running estimates) are stored as the parameters are.
    const stored = [...(schema.parameters?.(values, options ?? {}) ?? []), ...(schema.buffers?.(values, options ?? {}) ?? [])];
    for (const [name, shape] of stored) {
      const size = shape.reduce((a, b) => a * b, 1);
      plan.total += size;
      if (plan.total > LIMITS.maxParameters) {
        throw new RangeError(`architecture at ${where}: ${label} brings the parameters to over ${LIMITS.maxParameters} values (the limit)`);
      }
      if (!insideOpaque) plan.shapes.set(join(pos, name), { shape, label });
    }
  };
  visit(config, '', 0, false);
  return plan;
}

/** Parameters shared between positions, stored in the metadata under `neurone.ties`. */
interface Ties {
  /** Position → earlier position holding the same module instance (`{ "2": "0" }`). */
  modules: Record<string, string>;
  /** Parameter → earlier parameter whose tensor it shares; `grad`: the gradient tensor too. */
  parameters: Record<string, { to: string; grad: boolean }>;
}

const TIES_KEY = 'neurone.ties';
/**
 * The positions of the modules in evaluation mode (`net.eval()`), as a JSON list ('' for the
 * root); absent when every module is in training mode, the default. {@link load} restores them.
 */
const EVAL_KEY = 'neurone.eval';

/** Puts the modules the file lists under {@link EVAL_KEY} in evaluation mode. */
function applyStoredModes(net: Module, metadata: Record<string, string>, fail: (what: string) => Error): void {
  const raw = metadata[EVAL_KEY];
  if (raw === undefined) return;
  try {
    applyEvalPositions(net, JSON.parse(raw), `${EVAL_KEY}`);
  } catch (e) {
    throw fail(`corrupt metadata: ${(e as Error).message}`);
  }
}

/** One parameter at its place in the network. */
interface Slot {
  name: string;
  module: Module;
  value: { shape: readonly number[]; data: Float32Array };
  grad: { shape: readonly number[]; data: Float32Array };
}

/**
 * The network's parameters by position, each shared tensor once (`slots`, in `parameters()`
 * order), and what is shared: a module instance at several positions, or a tensor (same data)
 * in several modules. Sequentials are walked here, not through `parameters()`, so that the
 * positions a shared parameter has besides its first are known.
 */
function layout(net: Module, who: string): { slots: Slot[]; aliases: Slot[]; ties: Ties } {
  const ties: Ties = { modules: {}, parameters: {} };
  const slots: Slot[] = [];
  const aliases: Slot[] = [];
  const seenModules = new Map<Module, string>([[net, '']]);
  const byData = new Map<Float32Array, Slot>();
  const visit = (m: Module, pos: string, depth: number): void => {
    if (depth > LIMITS.maxNesting)
      throw new RangeError(`${who}: the network is nested more than ${LIMITS.maxNesting} levels deep (the limit load accepts)`);
    if (m instanceof Sequential) {
      m.modules.forEach((c, i) => {
        const cp = join(pos, String(i));
        const prev = seenModules.get(c);
        if (prev !== undefined) {
          if (prev === '' || cp.startsWith(`${prev}.`)) throw new RangeError(`${who}: the module at ${cp} contains itself`);
          ties.modules[cp] = prev;
          return;
        }
        seenModules.set(c, cp);
        visit(c, cp, depth + 1);
      });
      return;
    }
    for (const p of m.parameters()) {
      const slot: Slot = { name: join(pos, p.name), module: p.module, value: p.value, grad: p.grad };
      const prev = byData.get(p.value.data);
      if (!prev) {
        byData.set(p.value.data, slot);
        slots.push(slot);
        continue;
      }
      if (prev.value.shape.length !== p.value.shape.length || prev.value.shape.some((d, i) => d !== p.value.shape[i])) {
        throw new RangeError(
          `${who}: parameters ${prev.name} ${formatShape(prev.value.shape)} and ${slot.name} ${formatShape(p.value.shape)} share their data with different shapes; neurone saves a shared parameter with one shape`,
        );
      }
      ties.parameters[slot.name] = { to: prev.name, grad: prev.grad.data === p.grad.data };
      aliases.push(slot);
    }
    // Buffers after the parameters, stored the same way; a module's own, so never tied apart
    // from the module (a module at several places is tied above as a whole). No gradient: the
    // slot's grad is the value itself, which nothing reads for a buffer.
    for (const b of m.buffers()) slots.push({ name: join(pos, b.name), module: b.module, value: b.value, grad: b.value });
  };
  visit(net, '', 0);
  return { slots, aliases, ties };
}

function hasTies(t: Ties): boolean {
  return Object.keys(t.modules).length > 0 || Object.keys(t.parameters).length > 0;
}

/** Parses and checks `neurone.ties` (absent: nothing shared). @internal */
export function storedTies(metadata: Record<string, string>, file: string, who: string): Ties {
  const fail = (what: string): Error => new Error(`${who}: ${file}: corrupt metadata: ${TIES_KEY}${what}`);
  const raw = metadata[TIES_KEY];
  const ties: Ties = { modules: {}, parameters: {} };
  if (raw === undefined) return ties;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw fail(` is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(parsed)) throw fail(` must be an object { modules, parameters }, got ${describe(parsed)}`);
  const { modules = {}, parameters = {} } = parsed;
  if (!isPlainObject(modules)) throw fail(`.modules must be an object, got ${describe(modules)}`);
  if (!isPlainObject(parameters)) throw fail(`.parameters must be an object, got ${describe(parameters)}`);
  for (const [k, v] of Object.entries(modules)) {
    if (typeof v !== 'string' || !/^\d+(\.\d+)*$/.test(k) || !/^(\d+(\.\d+)*)?$/.test(v))
      throw fail(`.modules['${k}'] must map a position to a position, got ${describe(v)}`);
    ties.modules[k] = v;
  }
  for (const [k, v] of Object.entries(parameters)) {
    if (!isPlainObject(v) || typeof v.to !== 'string' || typeof v.grad !== 'boolean' || v.to === k) {
      throw fail(`.parameters['${k}'] must be { to: another parameter, grad: boolean }, got ${describe(v)}`);
    }
    ties.parameters[k] = { to: v.to, grad: v.grad };
  }
  return ties;
}

/** The position of a module alias that `name` lies under, if any. */
function underModuleAlias(ties: Ties, name: string): string | undefined {
  return Object.keys(ties.modules).find((a) => name.startsWith(`${a}.`));
}

/**
 * Before anything is built or read: the architecture within the limits, every parameter it
 * declares stored in the file with its shape (so a small file cannot make load allocate a large
 * network), the ties consistent, and no tensor that matches nothing.
 */
function checkFileAgainstArchitecture(config: unknown, ties: Ties, f: OpenFile): void {
  let plan: ArchitecturePlan;
  try {
    plan = planArchitecture(config, true);
  } catch (e) {
    throw f.fail((e as Error).message);
  }
  for (const [alias, to] of Object.entries(ties.modules)) {
    const a = plan.configs.get(alias);
    if (a === undefined || !/\.?\d+$/.test(alias))
      throw f.fail(`corrupt metadata: ${TIES_KEY} shares the module at ${alias}, which the architecture does not have`);
    // Stringified only here, once the nesting is known to be within the limit.
    if (
      JSON.stringify(plan.configs.get(to)) !== JSON.stringify(a) ||
      to === alias ||
      alias.startsWith(`${to}.`) ||
      to.startsWith(`${alias}.`) ||
      underModuleAlias(ties, to) !== undefined ||
      ties.modules[to] !== undefined
    ) {
      throw f.fail(
        `corrupt metadata: ${TIES_KEY} shares the module at ${alias} with ${whereOf(to)}, which is not an identical module elsewhere`,
      );
    }
  }
  for (const [alias, { to }] of Object.entries(ties.parameters)) {
    const a = plan.shapes.get(alias);
    const t = plan.shapes.get(to);
    const opaque = (n: string): boolean => plan.opaque.some((o) => o === '' || n.startsWith(`${o}.`));
    if (opaque(alias) || opaque(to)) continue;
    if (
      !a ||
      !t ||
      ties.parameters[to] !== undefined ||
      underModuleAlias(ties, alias) !== undefined ||
      underModuleAlias(ties, to) !== undefined
    ) {
      throw f.fail(`corrupt metadata: ${TIES_KEY} ties parameter ${alias} to ${to}, which the architecture does not both have`);
    }
    if (formatShape(a.shape) !== formatShape(t.shape)) {
      throw f.fail(
        `corrupt metadata: ${TIES_KEY} ties ${alias} ${formatShape(a.shape)} to ${to} ${formatShape(t.shape)}: the shapes differ`,
      );
    }
  }
  const expected = new Map<string, { shape: number[]; label: string }>();
  for (const [name, s] of plan.shapes) {
    if (ties.parameters[name] === undefined && underModuleAlias(ties, name) === undefined) expected.set(name, s);
  }
  for (const name of f.entries.keys()) {
    if (expected.has(name) || RESERVED_PREFIXES.some((r) => name.startsWith(r))) continue;
    if (plan.opaque.some((o) => o === '' || name.startsWith(`${o}.`))) continue;
    throw f.fail(`tensor '${name}' matches no parameter of the architecture (parameters: ${[...expected.keys()].join(', ') || 'none'})`);
  }
  for (const [name, s] of expected) {
    const e = f.entries.get(name);
    if (!e) throw f.fail(`parameter ${name} of ${s.label} is missing from the file`);
    if (e.dtype !== 'F32') throw f.fail(`tensor '${name}' has dtype ${e.dtype}, parameters are F32`);
    if (formatShape(e.shape) !== formatShape(s.shape))
      throw f.fail(`tensor '${name}' has shape ${formatShape(e.shape)}, ${s.label} expects ${formatShape(s.shape)}`);
  }
  // Implied by the checks above and the tiling, kept as the statement of the bound: a file of N
  // bytes of data cannot make load build more than N / 4 parameter values.
  const needed = [...expected.values()].reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
  if (4 * needed > f.dataLength) {
    throw f.fail(
      `the architecture declares ${needed} stored parameter values (${formatBytes(4 * needed)}), ` +
        `the file holds ${formatBytes(f.dataLength)} of tensor data: the weights are missing`,
    );
  }
}

/** Puts the shares of `ties` into a freshly built `net`: the same module instance, the same tensors. */
function applyTies(net: Module, ties: Ties, fail: (what: string) => Error): void {
  if (!hasTies(ties)) return;
  const moduleAt = (pos: string): Module => {
    let m: Module = net;
    for (const part of pos === '' ? [] : pos.split('.')) {
      const child = m instanceof Sequential ? m.modules[Number(part)] : undefined;
      if (!child) throw fail(`corrupt metadata: ${TIES_KEY} names the position ${pos}, which the network does not have`);
      m = child;
    }
    return m;
  };
  for (const [alias, to] of Object.entries(ties.modules)) {
    const cut = alias.lastIndexOf('.');
    const parent = moduleAt(cut < 0 ? '' : alias.slice(0, cut));
    if (!(parent instanceof Sequential))
      throw fail(`corrupt metadata: ${TIES_KEY} shares the module at ${alias}, whose parent is not a Sequential`);
    (parent.modules as Module[])[Number(alias.slice(cut + 1))] = moduleAt(to);
  }
  const bySlot = new Map(layout(net, 'load').slots.map((s) => [s.name, s]));
  // Replaces the field of `module` holding `old` (Linear's weight, ...) by `tensor`.
  const replace = (s: Slot, old: object, tensor: object, what: string): void => {
    const m = s.module as unknown as Record<string, unknown>;
    const key = Object.keys(m).find((k) => m[k] === old);
    if (key === undefined) throw fail(`cannot restore the shared ${what} of ${s.name}: ${s.module.label()} does not keep it in a field`);
    m[key] = tensor;
  };
  for (const [alias, { to, grad }] of Object.entries(ties.parameters)) {
    const a = bySlot.get(alias);
    const t = bySlot.get(to);
    if (!a || !t) throw fail(`corrupt metadata: ${TIES_KEY} ties ${alias} to ${to}, which the network does not both have`);
    replace(a, a.value, t.value, 'weights');
    if (grad) replace(a, a.grad, t.grad, 'gradient');
  }
  // The network must now share exactly what the file says.
  const now = layout(net, 'load').ties;
  if (JSON.stringify(sortedTies(now)) !== JSON.stringify(sortedTies(ties))) {
    throw fail(`cannot restore the shared parameters ${JSON.stringify(ties)}: the rebuilt network shares ${JSON.stringify(now)}`);
  }
}

function sortedTies(t: Ties): Ties {
  const sort = <T>(o: Record<string, T>): Record<string, T> =>
    Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { modules: sort(t.modules), parameters: sort(t.parameters) };
}

/**
 * How the parameters of a model file are laid out:
 *
 * - `'neurone'` (the default): neurone's names and shapes (Linear `(in, out)`, Conv1D
 *   `(kSize, chanIn, chanOut)`), each shared parameter once.
 * - `'torch'`: the names and shapes of the equivalent PyTorch model's `state_dict()`, so
 *   `torch.nn.Sequential.load_state_dict` takes the file as it is: the same modules at the same
 *   positions, channels first (`nn.Conv1d` on `(batch, chan, length)`), Linear `(out, in)`, Conv1d
 *   `(chanOut, chanIn, kSize)`, ConvTranspose1d `(chanIn, chanOut, kSize)`, and a Linear after a
 *   Flatten of channels with its input columns in PyTorch's channel-major order. The README
 *   lists the PyTorch module of each neurone module. A network whose Flatten takes its input
 *   directly (no convolution or batch norm before it to say the channels) needs `inputShape`.
 */
export type WeightLayout = 'neurone' | 'torch';

/** Options of {@link save}. */
export interface SaveOptions {
  /** Extra string metadata stored in the header (keys starting with `neurone.` are reserved). */
  metadata?: Record<string, string>;
  /** The layout of the stored parameters (default `'neurone'`); see {@link WeightLayout}. */
  layout?: WeightLayout;
  /**
   * The shape of one input sample without the batch (`[28, 28, 3]`, `[784]`), checked against the
   * network and stored in the file, where `neurone export` reads it for the ONNX input. With layout
   * `'torch'` it is needed when a Flatten takes the input with no layer before it saying its channels.
   */
  inputShape?: readonly number[];
  /**
   * Replace a file already at the path (default true). With false, an existing file, even one
   * another process creates while this one writes, is left as it is and save throws an error
   * with code `EEXIST` (Keras's `overwrite=False`).
   */
  overwrite?: boolean;
}

/** Options of {@link load}. */
export interface LoadOptions {
  /**
   * The layout of a file without neurone's metadata, required for one: `'torch'` for a
   * `state_dict()` PyTorch saved with `safetensors.torch.save_file`, `'neurone'` for tensors
   * named and shaped as `net.parameters()`. A file neurone wrote says its layout itself, and a
   * contradicting option is an error.
   */
  layout?: WeightLayout;
  /** With layout `'torch'`: the shape of one input sample, as {@link SaveOptions.inputShape}. */
  inputShape?: readonly number[];
  /** Load the weights into this network (checked against it first) instead of building one from the file's architecture; returned. */
  into?: Module;
  /**
   * Accept weights that hold NaN or ±Infinity (default false: such a file is refused, naming the
   * parameter, the index and the value), as `fit`'s option of the same name accepts them in training.
   */
  allowNonFinite?: boolean;
}

/** `options.allowNonFinite`, checked: undefined or a boolean. */
function allowNonFiniteOption(options: { allowNonFinite?: unknown }, who: string): boolean {
  const v = options.allowNonFinite;
  if (v !== undefined && typeof v !== 'boolean') throw new TypeError(`${who}: allowNonFinite must be a boolean, got ${describe(v)}`);
  return v === true;
}

/** Metadata key naming the layout of a file saved with `layout: 'torch'`. */
const LAYOUT_KEY = 'neurone.layout';

/** Metadata key of the sample shape a file was saved for (see {@link SaveOptions.inputShape}). */
const INPUT_SHAPE_KEY = 'neurone.inputShape';

/**
 * The sample shape to convert a file in PyTorch's layout with: the one given, the one the file
 * was saved for, or none; the two must agree (the Linear after a Flatten of channels depends on it).
 */
function torchInputShape(
  metadata: Record<string, string>,
  given: readonly number[] | undefined,
  file: string,
  who: string,
): readonly number[] | undefined {
  const raw = metadata[INPUT_SHAPE_KEY];
  if (raw === undefined) return given;
  let stored: unknown;
  try {
    stored = JSON.parse(raw);
  } catch {
    stored = undefined;
  }
  if (!Array.isArray(stored) || stored.length === 0 || stored.length > 8 || !stored.every((d) => Number.isSafeInteger(d) && d > 0))
    throw new Error(
      `${who}: ${file}: corrupt metadata: ${INPUT_SHAPE_KEY} is ${JSON.stringify(raw.slice(0, 64))}, expected a list of positive integers`,
    );
  if (given !== undefined && (given.length !== stored.length || given.some((d, i) => d !== stored[i])))
    throw new Error(
      `${who}: ${file} was saved for inputShape [${stored.join(', ')}], not [${Array.from(given).join(', ')}]: the Linear after a Flatten of channels reads its columns by that shape`,
    );
  return stored as number[];
}

function checkLayout(layout: unknown, who: string): WeightLayout {
  if (layout === undefined) return 'neurone';
  if (layout !== 'neurone' && layout !== 'torch')
    throw new TypeError(`${who}: layout must be 'neurone' or 'torch', got ${describe(layout)}`);
  return layout;
}

/**
 * The layout a file's metadata declares, reconciled with the one asked for. A file neurone did
 * not write must be given one: a square Linear's weight has the same name and shape in both
 * layouts, so a PyTorch file read as neurone's would load transposed without a word. An
 * `inputShape` is for PyTorch's layout only.
 */
function fileLayout(
  metadata: Record<string, string>,
  asked: WeightLayout | undefined,
  inputShape: readonly number[] | undefined,
  file: string,
  who: string,
): WeightLayout {
  const stored = metadata[LAYOUT_KEY];
  if (stored !== undefined && stored !== 'torch')
    throw new Error(`${who}: ${file}: corrupt metadata: ${LAYOUT_KEY} is ${JSON.stringify(stored)}, expected "torch"`);
  if (stored === 'torch' && asked === 'neurone')
    throw new Error(`${who}: ${file}: the file is in PyTorch's layout (saved with layout 'torch'), not neurone's`);
  if (stored === undefined && asked === 'torch' && metadata['neurone.format'] !== undefined)
    throw new Error(`${who}: ${file}: the file is in neurone's layout (saved without layout 'torch'), not PyTorch's`);
  if (stored === undefined && asked === undefined && metadata['neurone.format'] === undefined)
    throw new Error(
      `${who}: ${file} was not written by neurone (no neurone.format in its metadata); say its layout: ` +
        `{ layout: 'torch' } for a PyTorch state_dict (safetensors.torch.save_file), { layout: 'neurone' } for tensors named and shaped as net.parameters()`,
    );
  const layout = stored === 'torch' ? 'torch' : (asked ?? 'neurone');
  if (inputShape !== undefined && layout !== 'torch')
    throw new TypeError(`${who}: inputShape applies to files in layout 'torch' only; ${file} is in neurone's`);
  return layout;
}

/**
 * Copies the tensors of a file in PyTorch's layout into `net`, after checking all of them: every
 * `state_dict()` name of the equivalent model present, F32, with PyTorch's shape, nothing else
 * (as a strict `load_state_dict`). The sample shape is the file's or the one `given`, which must
 * agree ({@link torchInputShape}). A bad file leaves the network untouched.
 */
function assignTorchWeights(
  net: Module,
  stored: Map<string, StoredTensor>,
  metadata: Record<string, string>,
  given: readonly number[] | undefined,
  file: string,
  who: string,
  allowNonFinite: boolean,
): void {
  const entries = torchEntries(net, `${who}: ${file}`, torchInputShape(metadata, given, file, who));
  const names = new Set(entries.map((e) => e.name));
  for (const name of stored.keys()) {
    if (!names.has(name)) {
      throw new Error(
        `${who}: ${file}: tensor '${name}' matches no parameter of ${net.toString()} in PyTorch's layout (expected: ${[...names].join(', ') || 'none'})`,
      );
    }
  }
  const converted = new Map<Float32Array, Float32Array>();
  const writes: [Float32Array, Float32Array][] = [];
  const counts: [(n: number) => void, number][] = [];
  for (const e of entries) {
    const t = stored.get(e.name);
    const label = `${e.module.label()}`;
    if (e.count) {
      // An int64 scalar (num_batches_tracked): PyTorch writes it, a file without it keeps the count.
      if (!t) continue;
      if (t.dtype !== 'I64' || t.shape.length !== 0) {
        throw new Error(
          `${who}: ${file}: tensor '${e.name}' must be an I64 scalar as PyTorch writes it, got ${t.dtype} of shape ${formatShape(t.shape)}`,
        );
      }
      const n = int64Value(t.data as Int32Array, 0);
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${who}: ${file}: tensor '${e.name}' holds ${n}, expected a count of batches`);
      counts.push([e.count.set, n]);
      continue;
    }
    if (!t)
      throw new Error(`${who}: ${file}: parameter ${e.name} of ${label} is missing from the file (PyTorch shape ${formatShape(e.shape)})`);
    if (t.dtype !== 'F32') throw new Error(`${who}: ${file}: tensor '${e.name}' has dtype ${t.dtype}, parameters are F32`);
    if (formatShape(t.shape) !== formatShape(e.shape)) {
      throw new Error(
        `${who}: ${file}: tensor '${e.name}' has shape ${formatShape(t.shape)}, ${label} expects ${formatShape(e.shape)} in PyTorch's layout`,
      );
    }
    if (!allowNonFinite) refuseNonFinite(t.data as Float32Array, `tensor '${e.name}' of ${label} (PyTorch's layout)`, file, who);
    const values = e.fromTorch(t.data as Float32Array);
    const earlier = converted.get(e.value.data);
    if (earlier && earlier.some((v, i) => !Object.is(v, values[i]))) {
      throw new Error(`${who}: ${file}: tensor '${e.name}' differs from the other copy of the parameter it shares`);
    }
    converted.set(e.value.data, values);
    writes.push([e.value.data, values]);
  }
  for (const [into, values] of writes) into.set(values);
  for (const [set, n] of counts) set(n);
}

/**
 * The tensors and metadata of a model file for `net`: each shared parameter once, the sharing in
 * `neurone.ties`. Refuses what load would refuse (architecture limits, nesting). `who` prefixes
 * errors (`save: path`). @internal
 */
export function modelContents(
  net: Module,
  extra: Record<string, string> = {},
  who = 'save',
): { tensors: (StoredTensor & { name: string })[]; metadata: Record<string, string> } {
  for (const [k, v] of Object.entries(extra)) {
    if (k.startsWith('neurone.')) throw new RangeError(`${who}: metadata key '${k}' is reserved`);
    if (typeof v !== 'string') throw new TypeError(`${who}: metadata '${k}' must be a string, got ${describe(v)}`);
  }
  // The layout walk first: it refuses nesting and cycles that config() would recurse into.
  const { slots, ties } = layout(net, who);
  const config = net.config();
  let plan: ArchitecturePlan;
  try {
    plan = planArchitecture(config, false);
  } catch (e) {
    throw new RangeError(`${who}: ${(e as Error).message}; load would refuse it`);
  }
  for (const slot of slots) {
    const kind = slot.grad === slot.value ? 'buffer' : 'parameter';
    checkDeclaredTensor(who, `${kind} ${slot.name} of ${slot.module.label()}`, slot.value, plan.shapes.get(slot.name)?.shape);
  }
  const total = slots.reduce((a, s) => a + s.value.data.length, 0);
  if (total > LIMITS.maxParameters)
    throw new RangeError(`${who}: the network has ${total} parameter values, over the ${LIMITS.maxParameters} load accepts`);
  const metadata: Record<string, string> = { ...extra, 'neurone.format': FORMAT_VERSION, 'neurone.architecture': JSON.stringify(config) };
  if (hasTies(ties)) metadata[TIES_KEY] = JSON.stringify(ties);
  const evaluating = evalPositions(net);
  if (evaluating.length > 0) metadata[EVAL_KEY] = JSON.stringify(evaluating);
  const tensors = slots.map((s) => ({ name: s.name, dtype: 'F32' as const, shape: [...s.value.shape], data: s.value.data }));
  return { tensors, metadata };
}

/**
 * Checks a path given to save, load or loadWeights: a non-empty string, and not a URL (TF.js's
 * `file://…`, `indexeddb://…`), which would otherwise name a folder "file:" in the working
 * directory; a file URL gets the path it stands for.
 */
function checkPath(who: string, file: unknown): asserts file is string {
  if (typeof file !== 'string' || file === '') throw new TypeError(`${who}: path must be a non-empty string, got ${describe(file)}`);
  // Two letters at least: C://dir is a Windows drive, not a scheme.
  const scheme = /^([a-z][a-z0-9+.-]+):\/\//i.exec(file);
  if (!scheme) return;
  let fix = 'give a file path';
  if (scheme[1].toLowerCase() === 'file') {
    try {
      fix = `write ${JSON.stringify(fileURLToPath(file))}`;
    } catch {
      // Not a file URL Node can read: the general advice stands.
    }
  }
  throw new TypeError(
    `${who}: path must be a file path, got the URL ${JSON.stringify(file)} (TF.js's URL schemes are not read here): ${fix}`,
  );
}

/**
 * Saves `net` (architecture and weights) to `file` as safetensors, atomically: until the new file
 * is complete and on disk, `file` keeps its previous content (and its permissions). A parameter
 * shared by several modules (or a module at several positions) is stored once and shared again
 * by {@link load}. Refuses, before writing anything, what load would refuse (see {@link LIMITS}),
 * and a parameter whose shape or data was changed by hand (not the shape its layer declares, or
 * data of another length than its shape holds), naming it with the expected and found shape.
 *
 * In Python: `safetensors.numpy.load_file('digits.safetensors')['0.weight']`; with
 * `{ layout: 'torch' }`, `model.load_state_dict(safetensors.torch.load_file(path))` for the
 * equivalent PyTorch model (see {@link WeightLayout}).
 *
 * @param net The network to save (architecture and weights).
 * @param file The path of the `.safetensors` file, replaced atomically.
 * @param options `metadata` (extra strings in the header), `layout` (`'neurone'` or `'torch'`), `inputShape`, `overwrite`.
 * @example
 * save(net, 'digits.safetensors');
 * const again = load('digits.safetensors');   // same layers, same weights
 */
export function save(net: Module, file: string, options: SaveOptions = {}): void {
  if (!(net instanceof Module)) throw new TypeError(`save: net must be a Module, got ${describe(net)}`);
  checkPath('save', file);
  if (options === null || typeof options !== 'object') throw new TypeError(`save: options must be an object, got ${describe(options)}`);
  checkKnownOptions('save', options, ['metadata', 'layout', 'inputShape', 'overwrite']);
  const { overwrite = true } = options;
  if (typeof overwrite !== 'boolean') throw new TypeError(`save: options.overwrite must be a boolean, got ${describe(overwrite)}`);
  const layoutName = checkLayout(options.layout, 'save');
  const { tensors, metadata } = modelContents(net, options.metadata ?? {}, `save: ${file}`);
  const { inputShape } = options;
  const shapeMetadata: Record<string, string> = inputShape ? { [INPUT_SHAPE_KEY]: JSON.stringify(Array.from(inputShape)) } : {};
  if (layoutName === 'neurone') {
    // Shapes only, without drawing a lazily sized layer's weights (torchEntries checks its own way).
    if (inputShape !== undefined) checkSampleShapeFits(`save: ${file}`, inputShape, (shape) => followLayers(net, shape, () => {}));
    writeSafetensors(file, tensors, { ...metadata, ...shapeMetadata }, { replace: overwrite });
    return;
  }
  const entries = torchEntries(net, `save: ${file}`, inputShape);
  writeSafetensors(
    file,
    entries.map((e) =>
      e.count
        ? { name: e.name, dtype: 'I64' as const, shape: [], data: int64Words(e.count.get()) }
        : { name: e.name, dtype: 'F32' as const, shape: e.shape, data: e.toTorch() },
    ),
    { ...metadata, [LAYOUT_KEY]: 'torch', ...shapeMetadata },
    { replace: overwrite },
  );
}

/**
 * Throws when `data`, the stored values of `what` (`0.weight of Linear(4, 3) at position 0`),
 * holds a NaN or ±Infinity: such weights would predict NaN, or one class for every input,
 * without a word. The native scan reads each value once (a fraction of the time the file took
 * to read).
 */
function refuseNonFinite(data: Float32Array, what: string, file: string, who: string): void {
  const i = backend().nonFiniteIndex(data, data.length);
  if (i < 0) return;
  throw new Error(
    `${who}: ${file}: ${what} holds ${data[i]} at index ${i}; expected finite weights ` +
      `(a damaged file or a diverged training; in code, pass { allowNonFinite: true } to ${who} to read it anyway)`,
  );
}

/** Tensor names a checkpoint adds beside the parameters; `load` skips them. */
const RESERVED_PREFIXES = ['optimizer.', 'fit.'];

/**
 * Checks that the parameter tensors of `stored` fit `net` (every parameter there with dtype F32
 * and the parameter's shape, nothing else; a parameter the file shares, per `ties`, read from the
 * tensor it shares) and, unless `allowNonFinite`, hold no NaN or ±Infinity; returns the function
 * that copies them in. Nothing is changed until then.
 * @internal
 */
export function checkWeights(
  net: Module,
  stored: Map<string, StoredTensor>,
  file: string,
  who: string,
  ties: Ties = { modules: {}, parameters: {} },
  allowNonFinite = true,
): () => void {
  const { slots, aliases, ties: netTies } = layout(net, who);
  const used = new Set<string>();
  const resolve = (name: string, hops = 0): StoredTensor | undefined => {
    const t = stored.get(name);
    if (t || hops > 8) {
      if (t) used.add(name);
      return t;
    }
    const p = ties.parameters[name];
    if (p) return resolve(p.to, hops + 1);
    const a = underModuleAlias(ties, name);
    return a === undefined ? undefined : resolve(join(ties.modules[a], name.slice(a.length + 1)), hops + 1);
  };
  const pairs = slots.map((s): [Slot, StoredTensor | undefined] => [s, resolve(s.name)]);
  const aliasNames = new Map(aliases.map((s) => [s.name, netTies.parameters[s.name]?.to]));
  for (const name of stored.keys()) {
    if (used.has(name) || RESERVED_PREFIXES.some((r) => name.startsWith(r))) continue;
    const sharedWith = aliasNames.get(name) ?? (underModuleAlias(netTies, name) !== undefined ? 'another position' : undefined);
    if (sharedWith !== undefined) {
      throw new Error(`${who}: ${file}: tensor '${name}' is stored on its own, but the network shares ${name} with ${sharedWith}`);
    }
    throw new Error(
      `${who}: ${file}: tensor '${name}' matches no parameter of ${net.toString()} (parameters: ${slots.map((s) => s.name).join(', ') || 'none'})`,
    );
  }
  for (const [s, t] of pairs) {
    if (!t) throw new Error(`${who}: ${file}: parameter ${s.name} of ${s.module.label()} is missing from the file`);
    if (t.dtype !== 'F32') throw new Error(`${who}: ${file}: tensor '${s.name}' has dtype ${t.dtype}, parameters are F32`);
    if (t.shape.length !== s.value.shape.length || t.shape.some((d, i) => d !== s.value.shape[i])) {
      throw new Error(
        `${who}: ${file}: tensor '${s.name}' has shape ${formatShape(t.shape)}, ${s.module.label()} expects ${formatShape(s.value.shape)}`,
      );
    }
  }
  if (!allowNonFinite) for (const [s, t] of pairs) refuseNonFinite(t?.data as Float32Array, `${s.name} of ${s.module.label()}`, file, who);
  return () => {
    for (const [s, t] of pairs) s.value.data.set((t as StoredTensor).data);
  };
}

/**
 * Copies the parameter tensors of `stored` into `net` after {@link checkWeights}: a bad file
 * leaves the network untouched.
 * @internal
 */
export function assignWeights(
  net: Module,
  stored: Map<string, StoredTensor>,
  file: string,
  who: string,
  ties?: Ties,
  allowNonFinite = true,
): void {
  checkWeights(net, stored, file, who, ties, allowNonFinite)();
}

/** The sharing of `net`'s parameters, as stored in `neurone.ties` (for checkpoints' comparisons). @internal */
export function tiesOf(net: Module, who: string): string {
  return JSON.stringify(sortedTies(layout(net, who).ties));
}

/** {@link tiesOf} for a file's metadata. @internal */
export function storedTiesKey(metadata: Record<string, string>, file: string, who: string): string {
  return JSON.stringify(sortedTies(storedTies(metadata, file, who)));
}

/** Parses the architecture stored in a file's metadata. @internal */
export function storedArchitecture(metadata: Record<string, string>, file: string, who: string): ModuleConfig {
  const version = metadata['neurone.format'];
  const arch = metadata['neurone.architecture'];
  if (arch === undefined) {
    throw new Error(
      `${who}: ${file}: no neurone.architecture in the metadata (weights only?); ` +
        "build the network yourself and pass it: load(path, { into: net }) or loadWeights(net, path), with { layout: 'torch' } for a file PyTorch wrote",
    );
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
 * Loads the weights of a file into a network of the caller's (see the other signature for the
 * checks and layouts), returned with its own type (`Sequential` stays `Sequential`).
 *
 * @param file The path of a `.safetensors` file written by {@link save}, `fit`'s checkpoints, or PyTorch.
 * @param options `into`, the network to fill; `layout`, `allowNonFinite` and `inputShape` as without it.
 * @returns `into`, filled.
 * @example
 * const net = load('torch.safetensors', { layout: 'torch', into: new Sequential(new Linear(256, 10)) });
 * net.add(new LogSoftmax());   // a Sequential, without a cast
 */
export function load<T extends Module>(file: string, options: LoadOptions & { into: T }): T;
/**
 * Loads a network saved by {@link save} (or a checkpoint written by `fit`): rebuilds it from the
 * stored architecture, with no user code, and puts the weights in.
 *
 * Before building or reading any weights it checks the file (a regular file within
 * {@link LIMITS}), the architecture (nesting, argument counts and ranges, total parameters) and
 * that every parameter the architecture declares is stored with its shape: a small or hostile
 * file cannot make it allocate more than the file holds. Weights holding NaN or ±Infinity (a
 * training that diverged with `allowNonFinite`, a damaged file) are refused, naming the
 * parameter, its module, the index and the value, unless `allowNonFinite`: they would predict
 * NaN or one class for every input without a word.
 *
 * A file in PyTorch's layout (saved with `layout: 'torch'`, or written by PyTorch and read with
 * `{ layout: 'torch', into: net }`) is converted to neurone's layout on the way in. With `into`,
 * the weights go into that network (after every check) and it is returned.
 *
 * @param file The path of a `.safetensors` file written by {@link save}, `fit`'s checkpoints, or PyTorch.
 * @param options `layout` of a file without neurone's metadata; `into`, a network to fill instead
 * of building one; `allowNonFinite`, accept NaN and ±Infinity in the weights.
 * @returns The network rebuilt from the file (or `into`, filled).
 * @throws Error naming the file and the problem when it is truncated, corrupt, over a limit, its
 * tensors do not match the architecture (names, dtype, shapes, offsets, length), or its weights
 * are not finite.
 * @example
 * const net = load('digits.safetensors');
 * const scores = predict(net, xTest);
 * // weights PyTorch saved (safetensors.torch.save_file(model.state_dict(), 'torch.safetensors')):
 * load('torch.safetensors', { layout: 'torch', into: new Sequential(new Linear(256, 10)) });
 */
export function load(file: string, options?: LoadOptions): Module;
export function load(file: string, options: LoadOptions = {}): Module {
  checkPath('load', file);
  if (options === null || typeof options !== 'object') throw new TypeError(`load: options must be an object, got ${describe(options)}`);
  checkKnownOptions('load', options, ['layout', 'into', 'allowNonFinite', 'inputShape']);
  const asked = options.layout === undefined ? undefined : checkLayout(options.layout, 'load');
  const into = options.into;
  if (into !== undefined && !(into instanceof Module)) throw new TypeError(`load: into must be a Module, got ${describe(into)}`);
  const allowNonFinite = allowNonFiniteOption(options, 'load');
  return loadOnce(file, asked, into, allowNonFinite, options.inputShape, false).net;
}

/**
 * A whole model and the sample shape its file stores (undefined if none, or when not `wantShape`:
 * a shape given instead, which a corrupt stored one must not stop), from one open of the file: a
 * command that needs both reads them from the same file even if it is replaced meanwhile.
 * @internal
 */
export function loadWithSampleShape(file: string, wantShape = true): { net: Module; sampleShape: readonly number[] | undefined } {
  checkPath('load', file);
  return loadOnce(file, undefined, undefined, false, undefined, wantShape);
}

/** {@link load}'s work on its checked options, and with `wantShape` the stored sample shape. */
function loadOnce(
  file: string,
  asked: WeightLayout | undefined,
  into: Module | undefined,
  allowNonFinite: boolean,
  inputShape: readonly number[] | undefined,
  wantShape: boolean,
): { net: Module; sampleShape: readonly number[] | undefined } {
  const f = openSafetensors(file, 'load');
  let config: ModuleConfig;
  let ties: Ties;
  let tensors: Map<string, StoredTensor>;
  let sampleShape: readonly number[] | undefined;
  try {
    const layoutName = fileLayout(f.metadata, asked, inputShape, file, 'load');
    if (wantShape) sampleShape = torchInputShape(f.metadata, undefined, file, 'load');
    if (into !== undefined) {
      refuseUnsized(into, 'load', file, f.metadata);
      tensors = readTensors(f);
      if (layoutName === 'torch') assignTorchWeights(into, tensors, f.metadata, inputShape, file, 'load', allowNonFinite);
      else assignWeights(into, tensors, file, 'load', storedTies(f.metadata, file, 'load'), allowNonFinite);
      return { net: into, sampleShape };
    }
    if (layoutName === 'torch') return { net: loadTorchFile(f, allowNonFinite, inputShape), sampleShape };
    config = storedArchitecture(f.metadata, file, 'load');
    ties = storedTies(f.metadata, file, 'load');
    checkFileAgainstArchitecture(config, ties, f);
    tensors = readTensors(f);
  } finally {
    fs.closeSync(f.fd);
  }
  let net: Module;
  try {
    net = buildModule(config);
  } catch (e) {
    throw new Error(`load: ${file}: ${(e as Error).message}`);
  }
  applyTies(net, ties, f.fail);
  assignWeights(net, tensors, file, 'load', ties, allowNonFinite);
  applyStoredModes(net, f.metadata, f.fail);
  return { net, sampleShape };
}

/**
 * {@link load} of a file in PyTorch's layout with neurone's architecture in its metadata: the
 * architecture checked against the limits and against the data the file holds before anything
 * is built, then built, its sharing restored, and the weights converted in.
 */
function loadTorchFile(f: OpenFile, allowNonFinite: boolean, inputShape: readonly number[] | undefined): Module {
  const who = 'load';
  const config = storedArchitecture(f.metadata, f.file, who);
  const ties = storedTies(f.metadata, f.file, who);
  let plan: ArchitecturePlan;
  try {
    plan = planArchitecture(config, true);
  } catch (e) {
    throw f.fail((e as Error).message);
  }
  // Every parameter is stored at least once: a file cannot make load build more than it holds.
  if (4 * plan.total > f.dataLength) {
    throw f.fail(
      `the architecture declares ${plan.total} parameter values, the file holds ${formatBytes(f.dataLength)} of tensor data: the weights are missing`,
    );
  }
  const tensors = readTensors(f);
  let net: Module;
  try {
    net = buildModule(config);
  } catch (e) {
    throw f.fail((e as Error).message);
  }
  applyTies(net, ties, f.fail);
  assignTorchWeights(net, tensors, f.metadata, inputShape, f.file, who, allowNonFinite);
  applyStoredModes(net, f.metadata, f.fail);
  return net;
}

/**
 * Loads the weights of a saved model (or any safetensors file whose tensors are named like
 * `net.parameters()` and stored as F32) into an existing network of the same shape. A file saved
 * with `layout: 'torch'` is converted back (for one PyTorch wrote, see {@link load}'s `into`).
 *
 * Weights that hold NaN or ±Infinity are refused unless `allowNonFinite` (see {@link load}).
 *
 * @param net The network to fill; unchanged when the file does not fit it.
 * @param file The path of the `.safetensors` file.
 * @param options `layout` of a file without neurone's metadata (`'torch'` for one PyTorch wrote);
 * `inputShape` with it, as {@link SaveOptions.inputShape}; `allowNonFinite`: accept NaN and
 * ±Infinity in the weights.
 * @example
 * const net = new Sequential(new Linear(256, 10));
 * loadWeights(net, 'linear.safetensors');
 * loadWeights(net, 'from-torch.safetensors', { layout: 'torch' });
 */
export function loadWeights(net: Module, file: string, options: Pick<LoadOptions, 'allowNonFinite' | 'layout' | 'inputShape'> = {}): void {
  if (!(net instanceof Module)) throw new TypeError(`loadWeights: net must be a Module, got ${describe(net)}`);
  checkPath('loadWeights', file);
  if (options === null || typeof options !== 'object')
    throw new TypeError(`loadWeights: options must be an object, got ${describe(options)}`);
  checkKnownOptions('loadWeights', options, ['layout', 'allowNonFinite', 'inputShape']);
  const asked = options.layout === undefined ? undefined : checkLayout(options.layout, 'loadWeights');
  const allowNonFinite = allowNonFiniteOption(options, 'loadWeights');
  const f = openSafetensors(file, 'loadWeights');
  try {
    refuseUnsized(net, 'loadWeights', file, f.metadata);
    const tensors = readTensors(f);
    const layoutName = fileLayout(f.metadata, asked, options.inputShape, file, 'loadWeights');
    if (layoutName === 'torch') assignTorchWeights(net, tensors, f.metadata, options.inputShape, file, 'loadWeights', allowNonFinite);
    else assignWeights(net, tensors, file, 'loadWeights', storedTies(f.metadata, file, 'loadWeights'), allowNonFinite);
  } finally {
    fs.closeSync(f.fd);
  }
}

/**
 * Refuses to fill a network with a lazily sized layer (`Linear(null, n)`): it has no weights yet,
 * and its tensors would match no parameter. Says how to size it; a file that stores its
 * architecture can also be loaded whole (`load(file)`).
 */
function refuseUnsized(net: Module, who: string, file: string, metadata: Record<string, string>): void {
  const unsized = net.unsizedLayer();
  if (!unsized) return;
  const whole =
    metadata['neurone.architecture'] !== undefined ? ', or load(file) without `into`, which builds the network the file describes' : '';
  throw new RangeError(
    `${who}: ${file}: ${unsizedText(unsized)}, so it has no weights to load into; call net.build(inputShape) first${whole}`,
  );
}
