/**
 * `module.summary()`: a table of the layers, their output shapes and parameter counts, as
 * Keras's `model.summary()` and torchinfo print them.
 */
import { formatShape } from '../tensor';
import type { Module } from './base';

/** Thousands separated by commas, as the tables of Keras and torchinfo show them. */
function count(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * The input shape a module announces by itself: `(batch, inputSize)` for a layer whose first
 * child is a Linear. Convolutions accept any length, so they need the caller's shape.
 */
function inferredInput(first: Module | undefined): number[] | null {
  const inputSize = (first as { inputSize?: unknown } | undefined)?.inputSize;
  return typeof inputSize === 'number' && inputSize > 0 ? [1, inputSize] : null;
}

/**
 * The table of {@link Module.summary}: one row per child of a Sequential (the module itself
 * otherwise), with the output shape when the input's is known, and the totals.
 * @internal
 */
export function summarize(net: Module, inputShape?: readonly number[]): string {
  const children = (net as { modules?: Module[] }).modules;
  const layers = Array.isArray(children) ? children : [net];
  let shape: number[] | null = inputShape ? [1, ...inputShape] : inferredInput(layers[0]);
  const rows: string[][] = [['#', 'Layer', 'Output shape', 'Parameters']];
  if (shape) rows.push(['', 'input', formatShape(['batch', ...shape.slice(1)]), '']);
  layers.forEach((layer, i) => {
    if (shape) shape = layer.outputShape(shape);
    rows.push([
      String(i),
      layer.toString(),
      shape ? formatShape(['batch', ...shape.slice(1)]) : '?',
      layer.unsizedLayer() ? '?' : count(layer.parameterCount()),
    ]);
  });
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]): string =>
    r
      .map((cell, c) => (c === 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  const rule = '─'.repeat(widths.reduce((a, w) => a + w, 0) + 2 * (widths.length - 1));
  const parameters = net.parameters();
  // A lazily sized layer not sized yet: what is known, and which layer the rest waits for.
  const unsized = net.unsizedLayer();
  const total = parameters.reduce((n, p) => n + p.value.data.length, 0);
  const out = [`${net.constructor.name}: ${layers.length} layer${layers.length === 1 ? '' : 's'}`, rule, line(rows[0]), rule];
  for (const r of rows.slice(1)) out.push(line(r));
  out.push(rule);
  out.push(
    unsized
      ? `Parameters: ${count(total)} so far, and those of ${unsized.toString()}, sized by its first input`
      : `Parameters: ${count(total)} in ${parameters.length} tensor${parameters.length === 1 ? '' : 's'} (${count(total * 4)} bytes as float32)`,
  );
  if (!shape) out.push('Output shapes: pass the input shape without the batch, e.g. summary([256, 1])');
  return out.join('\n');
}
