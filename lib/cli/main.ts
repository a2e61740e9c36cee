#!/usr/bin/env node
/**
 * The `neurone` command.
 *
 *   neurone train [options]     train a network (default: the headline CNN on the embedded USPS digits)
 *   neurone presets             list the model presets
 *   neurone sweep | worker | style | predict | evaluate | export | data   (see usage())
 *   neurone --help | --version
 *
 * Errors in the arguments, the files or the data print one line on stderr and exit with code 2;
 * every place the run writes (--out, --save) is checked before training. A failure during or after
 * training (the loss became NaN, the model or a figure could not be written) exits with code 1;
 * the model is saved before the figures, so a full disk while writing them keeps it. Ctrl-C exits
 * 130 (SIGTERM 143) with the terminal's cursor shown again; a closed stdout (`| head`) exits 141
 * quietly. Never a stack trace.
 */
import * as fs from 'fs';
import { PRESETS } from './presets';
import { RECIPES } from './recipes';
import { UsageError, isTrainOption, parseTrainArgs, trainOptionLines } from './train-args';
import { train } from './train';
import { sweepCommand } from './sweep';
import { workerCommand } from './worker';
import { styleCommand } from './style';
import { MODEL_COMMANDS, MODEL_COMMAND_HELP, didYouMean, unknownCommand, version } from './commands';
import { firstLine } from '../messages';
import { stdoutEndsCommand } from './command';

/** The help text. */
export function usage(): string {
  return [
    'Usage: neurone <command> [options]',
    '',
    'Commands:',
    "  train      train a network; with no options, the README's headline: its CNN and recipe on the embedded USPS digits",
    '  presets    list the model presets',
    '  sweep      run many trainings side by side from a JSON spec (neurone sweep --help)',
    '  worker     take the runs of `neurone sweep --queue` from Redis and train them (neurone worker --help)',
    ...MODEL_COMMAND_HELP,
    '  style      an image with the content of one PNG and the style of another (neurone style --help)',
    '  help CMD   the options of a command (neurone CMD --help)',
    '  --version  print the version',
    '',
    'Options of train:',
    ...trainOptionLines(),
    '',
    'A JSON model file holds { "layers": [{ "type": "Linear", "args": [256, 10] }, { "type": "ReLU" }, ...] },',
    "each layer as its module's toJSON() writes it. The images reach it as its first layers take them: one",
    'flat row each for a Linear, a sequence of pixels for a Conv1D, the image (n, height, width, 1) for a Conv2D.',
    '',
    'Recipes (the flags above override them):',
    ...Object.values(RECIPES).map((r) => `  ${r.name.padEnd(10)} ${r.summary}; ${r.result}`),
    '',
    'Examples:',
    "  neurone train                   # the README's headline recipe (95.02 % over 10 seeds)",
    '  neurone train --recipe quick    # early stopping, about a fifth of the time (about 94 %)',
    '  neurone train --dataset mnist --model lenet --epochs 5   # a 2-D CNN on the images',
    '  neurone train --dataset fashion --model mlp --epochs 10 --out runs/fashion',
    '  neurone train --dataset xor --epochs 200 --optimizer adam --lr 0.01',
    '',
    'Exit status (every command):',
    '  0    success',
    '  1    a failure during the work: the loss became NaN, a file could not be written, a sweep with failed runs',
    '  2    bad input (an argument, a file, the data), said in one line before anything is written',
    '  130  stopped by Ctrl-C (143 by SIGTERM); a train after an epoch, or a sweep, then says how to go on with --resume',
    '  141  standard output closed early (`| head`), quietly',
  ].join('\n');
}

/**
 * What the command does on its way out, installed only when run as a program (not when imported):
 * - (the progress bar, lib/progress.ts, gives the terminal back on exit and on SIGINT / SIGTERM
 *   while it draws, then lets the signal end the process: the shell reports 130 / 143);
 * - EPIPE on stdout or stderr (`neurone train | head -1`): the reader is gone, so exit at once and
 *   quietly with 141 (128 + SIGPIPE, what a shell reports for a writer the pipe closed on), unless
 *   the command's results go to a file too (predict --out), which it then finishes; other errors
 *   on stdout get one line on stderr and exit 1, never a stack trace.
 */
function installProcessGuards(): void {
  const onStreamError =
    (which: 'stdout' | 'stderr') =>
    (e: NodeJS.ErrnoException): void => {
      // A command that writes its results to a file too finishes it; its printing stops (the stream is destroyed).
      if (e.code === 'EPIPE' && which === 'stdout' && !stdoutEndsCommand()) return;
      if (e.code !== 'EPIPE' && which === 'stdout') {
        try {
          fs.writeSync(2, `neurone: cannot write to standard output (${e.code ?? e.message})\n`);
        } catch {
          // stderr is gone too
        }
        process.exit(1);
      }
      process.exit(e.code === 'EPIPE' ? 141 : 1);
    };
  process.stdout.on('error', onStreamError('stdout'));
  process.stderr.on('error', onStreamError('stderr'));
}

/**
 * Refuses to run in a folder that was removed (the shell still stands in it): every relative path
 * would fail later with the system's "ENOENT: uv_cwd" and exit 1.
 */
function checkWorkingFolder(): void {
  try {
    process.cwd();
  } catch (e) {
    throw new UsageError(
      `the current folder no longer exists (${(e as NodeJS.ErrnoException).code ?? firstLine(e)}); cd to another folder and run the command again`,
    );
  }
}

/** Runs the command line `argv` (without node and the script); returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    const [command, ...rest] = argv;
    const commands = ['train', 'presets', 'sweep', 'worker', 'style', ...Object.keys(MODEL_COMMANDS)];
    const asksForHelp = (a: string | undefined): boolean => a === '--help' || a === '-h';
    if (command === undefined || command === 'help' || asksForHelp(command)) {
      // `neurone help predict` is `neurone predict --help`, as git and npm read it; `help help`,
      // `help --help` and `help version` are the usage, which says both.
      const usageAgain = rest.length === 1 && (rest[0] === 'help' || rest[0] === 'version' || asksForHelp(rest[0]));
      if (command === 'help' && rest.length > 0 && !usageAgain) {
        if (rest.length > 1 || !commands.includes(rest[0]))
          throw new UsageError(
            rest.length > 1
              ? `help takes one command, got ${rest.length} arguments: neurone help ${rest[0]}`
              : unknownCommand(rest[0], commands),
          );
        return await main([rest[0], '--help']);
      }
      process.stdout.write(`${usage()}\n`);
      return 0;
    }
    // The preset list and the version take no argument but a request for help.
    const helpOnly = (name: string): boolean => {
      const extra = rest.find((a, i) => !(i === 0 && asksForHelp(a)));
      if (extra !== undefined) throw new UsageError(`${name} takes no arguments, got '${extra}' (see neurone ${name} --help)`);
      return rest.length > 0;
    };
    if (command === 'presets') {
      if (helpOnly('presets'))
        process.stdout.write("Usage: neurone presets\n\nThe model presets, for train --model and a sweep spec's model:\n\n");
      for (const p of PRESETS) process.stdout.write(`${p.name.padEnd(16)}${p.summary}\n`);
      return 0;
    }
    if (command === '--version' || command === '-V' || command === '-v' || command === 'version') {
      if (helpOnly(command)) process.stdout.write('Usage: neurone --version (or -v, -V, version)\n\nPrints the version of neurone.\n');
      else process.stdout.write(`neurone ${version()}\n`);
      return 0;
    }
    // A command's --help needs no folder.
    if (!rest.some(asksForHelp)) checkWorkingFolder();
    if (command === 'sweep') return await sweepCommand(rest);
    if (command === 'worker') return await workerCommand(rest);
    if (command === 'style') return await styleCommand(rest);
    const modelCommand = Object.prototype.hasOwnProperty.call(MODEL_COMMANDS, command) ? MODEL_COMMANDS[command] : undefined;
    if (modelCommand) return await modelCommand(rest);
    if (command.startsWith('-')) {
      // The top level takes --help and --version; a training option goes after `train`.
      throw new UsageError(
        isTrainOption(command)
          ? `${command} is an option of train: neurone train ${argv.join(' ')}`
          : `unknown option '${command}'${didYouMean(command, ['--help', '--version'])} (see neurone --help)`,
      );
    }
    if (command !== 'train') {
      throw new UsageError(unknownCommand(command, commands));
    }
    const opts = parseTrainArgs(rest);
    if (!opts) {
      process.stdout.write(`${usage()}\n`);
      return 0;
    }
    return await train(opts);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    // Library errors may already name the program ("neurone: NEURONE_BACKEND must be…"): one prefix.
    process.stderr.write(`neurone: ${msg.replace(/^(neurone:\s*)+/, '')}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}

if (require.main === module) {
  installProcessGuards();
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
