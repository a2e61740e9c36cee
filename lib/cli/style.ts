/**
 * `neurone style --content a.png --style b.png --out c.png`: style transfer (lib/style.ts) on two
 * PNG files, with random or freshly trained features.
 *
 * Memory: each input is checked from its PNG header before it is decoded (at most MAX_PNG_PIXELS,
 * 16.7 million pixels, and MAX_PNG_SIDE on a side; its sides at --size at least MIN_STYLE_SIZE)
 * and shrunk at once to the working size; the working size (--size, the longest side) is at most
 * MAX_STYLE_SIZE. Measured peak resident memory of the whole process (2026-12-06, 20 steps): a
 * 1000×872 photograph, 460 MB at --size 512 and 115 MB at the default 128; two 4096×4096 16-bit
 * inputs at --size 512, 500-570 MB as RGB and 670-870 MB as RGBA in two measurements on different
 * images (the decoder's 16-bit rows, its 8-bit RGBA and the float32 RGB are alive together while
 * one decodes).
 */
import * as path from 'path';
import { fittedSides, pngFileSize, readImage, resizeImage, writeImage } from '../data/image';
import { Tensor } from '../tensor';
import { MAX_SEED } from '../random';
import { StyleFeatures, StyleOverflowError, driveSteps, randomStyleFeatures, styleTransferSteps, trainStyleFeatureSteps } from '../style';
import { TerminalProgress, drawsInPlace, formatLoss } from '../progress';
import {
  FlagSpec,
  InputError,
  ParsedArgs,
  asInput,
  checkOutputFile,
  decimalNumber,
  flagValue,
  helpText,
  intFlag,
  parseArgs,
  runCommand,
} from './command';

/** The largest working size (--size): the longest side of the image optimised. */
export const MAX_STYLE_SIZE = 512;
/** The smallest: the feature network pools three times and its last convolution is 5×5. */
export const MIN_STYLE_SIZE = 16;
/** Upper bound of --steps and --train-steps (a typo such as 300000 is refused, not run for hours). */
const MAX_STEPS = 100_000;

const FLAGS: readonly FlagSpec[] = [
  { name: '--content', arg: 'FILE', help: 'the content image (PNG): the layout of the result' },
  { name: '--style', arg: 'FILE', help: 'the style image (PNG): the textures and colours of the result' },
  { name: '--out', arg: 'FILE', help: 'the result (PNG), at the working size' },
  { name: '--size', arg: 'N', help: `longest side of the result, in pixels (default 128, ${MIN_STYLE_SIZE} to ${MAX_STYLE_SIZE})` },
  { name: '--steps', arg: 'N', help: 'optimisation steps (default 300)' },
  { name: '--content-weight', arg: 'X', help: 'weight of the content loss (default 1)' },
  { name: '--style-weight', arg: 'X', help: 'weight of the style loss (default 10; higher: more style, less content)' },
  { name: '--lr', arg: 'X', help: "Adam's learning rate on the pixels in [0, 1] (default 0.02)" },
  { name: '--features', arg: 'KIND', choices: ['random', 'trained'], help: 'random (default) or trained on the two images first' },
  { name: '--train-steps', arg: 'N', help: 'training steps of --features trained (default 500)' },
  { name: '--seed', arg: 'N', help: 'seed of the feature weights and of the training patches (default 0)' },
  { name: '--quiet', help: 'no progress bar nor summary lines' },
  { name: '--help', help: 'show this help' },
];

export function styleUsage(): string {
  return helpText('neurone style --content FILE --style FILE --out FILE [options]', FLAGS, [
    'The result starts as the content image and is optimised so that its features match the content',
    "image's and the Gram matrices of its features match the style image's (Gatys et al. 2016). The",
    'features come from networks neurone makes itself: random filters at four scales (the default; the',
    'better of the two in reports/README.md), or the same network trained for --train-steps on patches of',
    'the two images (self-supervised: which way a patch was turned).',
    '',
    `Inputs: PNG files of at most 16,777,216 pixels and 65,535 on a side, not so elongated that a side at`,
    `--size falls under ${MIN_STYLE_SIZE} (all checked from the header before decoding); each is shrunk to the working size`,
    `at once. With photographs the process peaks at about 460 MB at --size ${MAX_STYLE_SIZE}, 115 MB at 128; the largest`,
    'inputs taken (4096×4096, 16-bit) raise that to 500-870 MB (RGB to RGBA, depending on their content).',
    '',
    'Examples:',
    '  neurone style --content cat.png --style brick.png --out cat-brick.png',
    '  neurone style --content cat.png --style gravel.png --out out.png --size 256 --style-weight 30',
    '  neurone style --content cat.png --style brick.png --out out.png --features trained --train-steps 300',
  ]);
}

/** A finite non-negative number flag (positive when `positive`), or its default. */
function numberFlag(args: ParsedArgs, name: string, fallback: number, positive: boolean): number {
  const raw = flagValue(args, name);
  if (raw === undefined) return fallback;
  const v = decimalNumber(raw.trim());
  // The kernels take it as a float32: 1e39 would be Infinity there, 1e-46 zero.
  const f = v === undefined ? NaN : Math.fround(v);
  if (v === undefined || !Number.isFinite(f) || v < 0 || (positive && f === 0)) {
    throw new InputError(`style: ${name} must be a finite float32 number ${positive ? '> 0' : '>= 0'}, got '${raw}'`);
  }
  return v; // checked in float32 above; kept as typed, as the defaults are (and printed as typed)
}

function requiredFile(args: ParsedArgs, name: string): string {
  const file = flagValue(args, name);
  if (file === undefined) throw new InputError(`style: ${name} FILE is required (see neurone style --help)`);
  return file;
}

/** Runs the transfer; weights that overflow it are the flags' fault (exit 2, nothing written). */
async function withWeightFlags<T>(args: ParsedArgs, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (!(e instanceof StyleOverflowError)) throw e;
    const given = (flag: string, fallback: number): string => flagValue(args, flag) ?? `${fallback} (the default)`;
    throw new InputError(
      `style: --content-weight ${given('--content-weight', e.contentWeight)} and --style-weight ${given('--style-weight', e.styleWeight)} ` +
        `make the loss's gradient overflow float32${e.detail ? ` (${e.detail})` : ''}; use smaller weights (their ratio is what matters)`,
    );
  }
}

/**
 * Refuses an image whose sides at --size, read from its header, would be too short: before
 * either image is decoded (a thin one decodes slowly, row by row). A file whose header cannot be
 * read passes: reading it says why.
 */
function checkSidesAt(flag: string, file: string, size: number): void {
  let header: { width: number; height: number } | undefined;
  try {
    header = pngFileSize(file);
  } catch {
    header = undefined; // readImage says why, in full
  }
  if (header) {
    const [h, w] = fittedSides(header.height, header.width, size);
    if (Math.min(h, w) < MIN_STYLE_SIZE) {
      throw new InputError(
        `style: ${flag}: at --size ${size} the image is ${w}×${h}; both sides must be at least ${MIN_STYLE_SIZE} (a larger --size, or a less elongated image)`,
      );
    }
  }
}

/** Reads a PNG as an RGB image, shrunk (or enlarged) to longest side `size`; any problem is bad input. */
function readAt(flag: string, file: string, size: number): Tensor {
  return asInput(`style: ${flag}: `, () => resizeImage(readImage(file), size));
}

/** The `style` command; returns the exit code. */
export function styleCommand(argv: readonly string[], write: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  return runCommand(async () => {
    const args = parseArgs('style', argv, FLAGS);
    if (args.flags.has('--help')) {
      write(`${styleUsage()}\n`);
      return 0;
    }
    if (args.positional.length > 0) {
      throw new InputError(`style: unexpected argument '${args.positional[0]}' (files go after --content, --style, --out)`);
    }
    const contentFile = requiredFile(args, '--content');
    const styleFile = requiredFile(args, '--style');
    const out = requiredFile(args, '--out');
    const size = intFlag(args, 'style', '--size', 128, MIN_STYLE_SIZE);
    if (size > MAX_STYLE_SIZE) {
      throw new InputError(
        `style: --size must be an integer in [${MIN_STYLE_SIZE}, ${MAX_STYLE_SIZE}], got '${flagValue(args, '--size')}'`,
      );
    }
    const steps = intFlag(args, 'style', '--steps', 300, 0);
    const trainSteps = intFlag(args, 'style', '--train-steps', 500);
    for (const [flag, n] of [
      ['--steps', steps],
      ['--train-steps', trainSteps],
    ] as const) {
      if (n > MAX_STEPS) throw new InputError(`style: ${flag} must be at most ${MAX_STEPS}, got ${n}`);
    }
    const contentWeight = numberFlag(args, '--content-weight', 1, false);
    const styleWeight = numberFlag(args, '--style-weight', 10, false);
    const lr = numberFlag(args, '--lr', 0.02, true);
    const seed = intFlag(args, 'style', '--seed', 0, 0);
    if (seed > MAX_SEED) throw new InputError(`style: --seed must be at most ${MAX_SEED}, got ${seed}`);
    const kind = flagValue(args, '--features') ?? 'random';
    if (kind !== 'trained' && flagValue(args, '--train-steps') !== undefined) {
      throw new InputError('style: --train-steps applies only to --features trained');
    }
    const quiet = args.flags.has('--quiet');
    checkOutputFile('style', '--out', out, [contentFile, styleFile]);
    const ext = path.extname(out);
    if (ext !== '' && ext.toLowerCase() !== '.png')
      throw new InputError(`style: --out ${out}: the result is written as a PNG; name it .png (got ${ext})`);

    checkSidesAt('--content', contentFile, size);
    checkSidesAt('--style', styleFile, size);
    const content = readAt('--content', contentFile, size);
    const style = readAt('--style', styleFile, size);
    const say = (line: string): void => {
      if (!quiet) write(`${line}\n`);
    };
    say(
      `content ${contentFile} at ${content.shape[1]}×${content.shape[0]}, style ${styleFile} at ${style.shape[1]}×${style.shape[0]}; ` +
        `${kind} features (seed ${seed}), ${steps} steps, content weight ${contentWeight}, style weight ${styleWeight}`,
    );
    // Stage 1/2 trains the features (--features trained), the last stage makes the image.
    const bar = quiet ? null : new TerminalProgress({ unit: 'steps', stage: 'stage' });
    const phases = kind === 'trained' ? 2 : 1;
    // Where no bar draws (a log, a pipe), a line at every tenth of a stage: minutes of silence
    // read as a hang in a CI log.
    const lines = !quiet && !drawsInPlace(process.stdout);
    const progress =
      (stage: number, total: number) =>
      (s: number, loss: number): void => {
        bar?.update(s, loss);
        if (lines && (s % Math.ceil(total / 10) === 0 || s === total))
          say(`stage ${stage}/${phases}  step ${s}/${total}  loss ${formatLoss(loss)}`);
      };
    const started = performance.now();
    let features: StyleFeatures;
    try {
      if (kind === 'trained') {
        bar?.start(trainSteps, 0, 1, phases);
        // Patches of 32 pixels, or the whole of the smallest side when that is shorter (at least MIN_STYLE_SIZE).
        const patch = Math.min(32, ...content.shape.slice(0, 2), ...style.shape.slice(0, 2));
        features = await driveSteps(
          trainStyleFeatureSteps([content, style], {
            seed,
            steps: trainSteps,
            patch,
            onStep: progress(1, trainSteps),
          }),
        );
      } else {
        features = randomStyleFeatures({ seed });
      }
      bar?.start(steps, 0, phases, phases);
      const imageStep = progress(phases, steps);
      // Stepped with the event loop turning: Ctrl-C reaches the bar's handler, which gives the
      // terminal back and ends the process, nothing written.
      const result = await withWeightFlags(args, () =>
        driveSteps(
          styleTransferSteps(content, style, {
            features,
            steps,
            lr,
            contentWeight,
            styleWeight,
            onStep: (s, loss) => imageStep(s, loss.total),
          }),
        ),
      );
      bar?.stop();
      writeImage(out, result.image);
      const first = result.history[0];
      say(
        `loss ${formatLoss(first)} → ${formatLoss(result.loss.total)} (content ${formatLoss(result.loss.content)}, style ${formatLoss(result.loss.style)}); ` +
          `${out} written (${content.shape[1]}×${content.shape[0]}) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    } finally {
      bar?.stop();
    }
    return 0;
  });
}
