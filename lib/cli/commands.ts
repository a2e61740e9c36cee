/**
 * The commands that work on a saved model or on data (predict, evaluate, export, data), and what
 * the top level of the `neurone` command takes from them: their names for dispatch and for "did
 * you mean", and the version.
 */
import { predictCommand } from './predict';
import { evaluateCommand } from './evaluate';
import { exportCommand } from './export';
import { dataCommand } from './data';
import { didYouMean } from './command';
import { packageManifest } from '../data/paths';

export { didYouMean } from './command';

/** Each command's entry point: the arguments after its name → the exit code. */
export const MODEL_COMMANDS: Readonly<Record<string, (argv: readonly string[]) => Promise<number>>> = {
  predict: predictCommand,
  evaluate: evaluateCommand,
  export: exportCommand,
  data: dataCommand,
};

/** The lines of the top-level help that list these commands. */
export const MODEL_COMMAND_HELP: readonly string[] = [
  '  predict    classes and probabilities of a saved model for PNG, IDX, CSV or JSON input (neurone predict --help)',
  '  evaluate   accuracy, loss and confusion matrix of a saved model on a dataset (neurone evaluate --help)',
  "  export     a saved model as ONNX, or its weights in PyTorch's layout (neurone export --help)",
  '  data       data download mnist|fashion: fetch and verify a dataset (neurone data --help)',
];

/** neurone's version, from its package.json. */
export function version(): string {
  return packageManifest().version;
}

/** `unknown command 'x' (did you mean train?)`: the message for a command nobody has. */
export function unknownCommand(command: string, known: readonly string[]): string {
  return `unknown command '${command}'${didYouMean(command, known)} (commands: ${known.join(', ')}; see neurone --help)`;
}
