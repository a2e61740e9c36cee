/**
 * `neurone export MODEL --onnx FILE [--input-shape L,C]` (and `--torch FILE`): a saved model as an
 * ONNX model, or its weights in PyTorch's layout.
 */
import * as path from 'path';
import { Module, leaves } from '../nn/module';
import { save } from '../serialize';
import { prepareFileWrite } from '../data/read';
import { toONNX, ONNX_OPSET } from '../export/onnx';
import { torchEntries } from '../export/torch';
import { FlagSpec, InputError, asInput, checkOutputFile, flagValue, helpText, parseArgs, runCommand } from './command';
import { loadModelAndShape } from './predict';
import { acceptedSampleShapes } from './model-io';

const FLAGS: readonly FlagSpec[] = [
  {
    name: '--onnx',
    arg: 'FILE',
    help: `write an ONNX model (opset ${ONNX_OPSET}; input "input", output "output", channels-last like neurone)`,
  },
  {
    name: '--torch',
    arg: 'FILE',
    help: "write the weights in PyTorch's layout (state_dict names and shapes of the equivalent nn.Sequential)",
  },
  {
    name: '--input-shape',
    arg: 'DIMS',
    help: "one sample's shape, e.g. 256,1 or 28,28,1 (default: the shape the file was saved for, or n for a Linear(n, …) first)",
  },
  {
    name: '--dynamic-size',
    help: 'ONNX: leave the length, or height and width, free (the default without --input-shape for a model that takes several sizes)',
  },
  { name: '--help', help: 'show this help' },
];

export function exportUsage(): string {
  return helpText('neurone export MODEL (--onnx FILE | --torch FILE) [--input-shape DIMS] [--dynamic-size]', FLAGS, [
    'An ONNX model needs the shape of one sample: a model file saved with it (train --save, a sweep, save()',
    'with inputShape) says it; a model opening with Linear(n, …) takes n features; a',
    'convolutional model whose Flatten feeds a Linear gets the shortest length or square image it takes (256',
    'for the USPS presets, 16,16,1 for a USPS Conv2D net); a model that takes many sizes (convolutions and',
    'pooling only, or a GlobalAvgPool2D head) gets them all: its length, or height and width, are left free,',
    "as torch.onnx.export's dynamic_axes would. Otherwise give --input-shape LENGTH,CHANNELS or",
    'HEIGHT,WIDTH,CHANNELS (e.g. 256,1 for USPS as a sequence, 28,28,1 for MNIST images). The batch',
    "dimension is always free. PyTorch's layout needs --input-shape only for a model whose Flatten takes the",
    'input with no convolution before it to say the channels (e.g. 32,32,3: nn.Flatten orders them first).',
    '',
    'Examples:',
    '  neurone export digits.safetensors --onnx digits.onnx --input-shape 256,1',
    '  neurone export mlp.safetensors --onnx mlp.onnx',
    '  neurone export digits.safetensors --torch digits-torch.safetensors',
  ]);
}

/**
 * A model's input shape when its layers fix it: `[n]` for a model opening with Linear(n, …);
 * for one whose Flatten feeds a Linear, the smallest sample it takes ({@link acceptedSampleShapes}:
 * `[length, chanIn]` after a 1-D convolution, a square image after a 2-D one; pooling rounds down,
 * so a few sizes may fit, and the smallest is the one the windows cover exactly). Undefined
 * otherwise.
 */
function impliedInputShape(net: Module): { shape: number[]; searched: boolean } | undefined {
  const all = [...leaves(net)];
  const first = all[0]?.config();
  if (first?.type === 'Linear') return { shape: [first.args[0] as number], searched: false };
  const flatten = all.findIndex((m) => m.config().type === 'Flatten');
  if (flatten < 0 || !all.slice(flatten + 1).some((m) => m.config().type === 'Linear')) return undefined;
  const [shape] = acceptedSampleShapes(net, 1);
  return shape === undefined ? undefined : { shape, searched: true };
}

/** The ONNX model of `net` with the size of its samples free, or undefined where its layers fix the size. */
function dynamicExport(net: Module, inputShape: readonly number[]): Uint8Array | undefined {
  try {
    return toONNX(net, { inputShape, dynamicSize: true });
  } catch (e) {
    if (e instanceof RangeError && /^toONNX: dynamicSize/.test(e.message)) return undefined;
    throw new InputError(`export: ${(e as Error).message}`);
  }
}

function parseShape(text: string): number[] {
  const dims = text.split(/[,x×]/).map((d) => d.trim());
  if (dims.some((d) => !/^\d+$/.test(d) || Number(d) < 1 || !Number.isSafeInteger(Number(d)))) {
    throw new InputError(`export: --input-shape must be positive integers separated by commas (e.g. 256,1), got '${text}'`);
  }
  return dims.map(Number);
}

/** The `export` command; returns the exit code. */
export function exportCommand(argv: readonly string[], write: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  return runCommand(() => {
    const args = parseArgs('export', argv, FLAGS);
    if (args.flags.has('--help')) {
      write(`${exportUsage()}\n`);
      return 0;
    }
    if (args.positional.length !== 1) {
      throw new InputError(
        `export: expected one model file, got ${args.positional.length === 0 ? 'none' : args.positional.join(' ')} (see neurone export --help)`,
      );
    }
    const [modelFile] = args.positional;
    const onnx = flagValue(args, '--onnx');
    const torch = flagValue(args, '--torch');
    if (onnx === undefined && torch === undefined) throw new InputError('export: say what to write: --onnx FILE or --torch FILE');
    for (const [flag, file] of [
      ['--onnx', onnx],
      ['--torch', torch],
    ] as const) {
      if (file !== undefined) checkOutputFile('export', flag, file, [modelFile]);
    }
    if (onnx !== undefined && torch !== undefined && path.resolve(onnx) === path.resolve(torch))
      throw new InputError('export: --onnx and --torch name the same file');
    const shapeText = flagValue(args, '--input-shape');
    const { net, sampleShape: saved } = loadModelAndShape('export', modelFile, shapeText === undefined);
    // A file saved with its sample shape (train --save, save's inputShape) says it: --input-shape need not.
    const given = shapeText === undefined ? saved : parseShape(shapeText);
    const dynamicSize = args.flags.has('--dynamic-size');
    let bytes: Uint8Array | undefined;
    if (onnx !== undefined) {
      const implied = given === undefined ? impliedInputShape(net) : undefined;
      // Without a shape: what the model's Linear fixes, else the smallest sample it takes.
      const found = given ?? implied?.shape ?? acceptedSampleShapes(net, 1)[0];
      const sizeUnknown = (): InputError =>
        new InputError(`export: ${net.toString().slice(0, 80)} does not say its input size; give --input-shape (e.g. 256,1)`);
      if (shapeText !== undefined || dynamicSize) {
        if (!found) throw sizeUnknown();
        bytes = asInput('export: ', () => toONNX(net, { inputShape: found, dynamicSize }));
      } else {
        // No shape given: a model that takes several sizes is exported for all of them, as PyTorch's dynamic_axes.
        bytes = found === undefined || found.length < 2 ? undefined : dynamicExport(net, found);
        const from = saved ? 'the shape it was saved for' : undefined;
        if (found !== undefined && bytes !== undefined) {
          const axes = found.length === 2 ? 'length' : found.length === 3 ? 'height, width' : 'free axes';
          write(
            `input shape (batch, ${axes}, ${found[found.length - 1]}): any size the model takes, from ${found.slice(0, -1).join('×')}${from ? ` (${from})` : ''} (--input-shape to fix one)\n`,
          );
        } else {
          const inputShape = saved ?? implied?.shape;
          if (!inputShape) throw sizeUnknown();
          if (saved) write(`input shape (batch, ${inputShape.join(', ')}): ${from} (--input-shape to choose)\n`);
          else if (implied?.searched)
            write(`input shape (batch, ${inputShape.join(', ')}): the shortest the model takes (--input-shape to choose)\n`);
          bytes = asInput('export: ', () => toONNX(net, { inputShape }));
        }
      }
    }
    // Both outputs are checked (ONNX built, weights convertible) before either is written. The
    // torch layout takes only a shape the user gave or the file was saved with: a searched one is
    // a flat row first, which would take a Flatten of images for one channel.
    if (torch !== undefined)
      asInput('', () =>
        torchEntries(net, 'export', given, 'give the shape of one sample with --input-shape (e.g. 28,28,3 for images, 784 for rows)'),
      );
    // The ONNX file is written beside its target first and put in place only once the weights
    // are saved too: a disk that fills up leaves both files as they were, not one old, one new.
    // (The ONNX rename failing after the weights' would still leave them new: a rename in the
    // folder just written to, which the checks before have found usable.)
    const onnxWrite = onnx !== undefined && bytes ? prepareFileWrite(onnx, bytes, { who: 'export' }) : undefined;
    try {
      if (torch !== undefined) save(net, torch, { layout: 'torch', inputShape: given });
    } catch (e) {
      onnxWrite?.abort();
      throw e;
    }
    if (onnxWrite && onnx !== undefined && bytes) {
      onnxWrite.commit();
      write(`ONNX model (opset ${ONNX_OPSET}, ${bytes.length.toLocaleString('en-US')} bytes) written to ${onnx}\n`);
    }
    if (torch !== undefined) write(`weights in PyTorch's layout written to ${torch}\n`);
    return 0;
  });
}
