/**
 * The training/evaluation mode of a whole network: what `fit`, `predict` and `evaluate` take
 * note of before they set it and put back afterwards, and what a model file stores. @internal
 */
import { describe } from '../tensor';
import { Module, Sequential } from './module';

/** Every module of `net` once (a module at several places is one instance, with one mode). */
function eachModule(net: Module, visit: (m: Module, position: string) => void): void {
  const seen = new Set<Module>();
  const walk = (m: Module, position: string): void => {
    if (seen.has(m)) return;
    seen.add(m);
    visit(m, position);
    if (m instanceof Sequential) m.modules.forEach((c, i) => walk(c, position === '' ? String(i) : `${position}.${i}`));
  };
  walk(net, '');
}

/**
 * Notes the mode of every module of `net` and returns the function that puts them back, module by
 * module: a network whose parts were in different modes (a frozen BatchNorm in evaluation mode
 * inside a network in training mode) finds them so again. @internal
 */
export function keepModes(net: Module): () => void {
  const modes: [Module, boolean][] = [];
  eachModule(net, (m) => modes.push([m, m.training]));
  return () => {
    // Leaves first, so that a container's own train() does not overwrite its children's modes.
    for (let i = modes.length - 1; i >= 0; i--) {
      const [m, training] = modes[i];
      if (m.training !== training) setOwnMode(m, training);
    }
  };
}

/** Sets the mode of `m` alone (a Sequential's train() would set its children's too). */
function setOwnMode(m: Module, training: boolean): void {
  if (m instanceof Sequential) {
    const children = m.modules.map((c) => c.training);
    m.train(training);
    m.modules.forEach((c, i) => {
      if (c.training !== children[i]) setOwnMode(c, children[i]);
    });
  } else {
    m.train(training);
  }
}

/** The positions ('' for the root, `3`, `1.2`) of the modules of `net` in evaluation mode, for a model file. @internal */
export function evalPositions(net: Module): string[] {
  const positions: string[] = [];
  eachModule(net, (m, position) => {
    if (!m.training) positions.push(position);
  });
  return positions;
}

/**
 * Puts the modules at `positions` (as {@link evalPositions} lists them) in evaluation mode and the
 * others in training mode. Throws an Error starting with `what` for a list that is not one, or
 * that names a position `net` does not have. @internal
 */
export function applyEvalPositions(net: Module, positions: unknown, what: string): void {
  if (!Array.isArray(positions) || !positions.every((p) => typeof p === 'string')) {
    throw new Error(`${what} must be a list of module positions, got ${describe(positions)}`);
  }
  const modules = new Map<string, Module>();
  eachModule(net, (m, position) => modules.set(position, m));
  for (const p of positions as string[]) {
    if (!modules.has(p)) throw new Error(`${what} names the module at ${p === '' ? 'root' : p}, which the network does not have`);
  }
  const evaluating = new Set(positions as string[]);
  // Parents before children (the walk's order), so a Sequential's train() is then refined below it.
  for (const [position, m] of modules) setOwnMode(m, !evaluating.has(position));
}
