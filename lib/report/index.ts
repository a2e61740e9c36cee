/**
 * Report helpers (`neurone/report`): the figures and tables the experiments in `reports/` and the
 * `neurone` command write — PNG image grids, SVG line charts, confusion matrices, multi-panel
 * charts and scatter plots, Markdown and text tables, mean ± std. They are not needed to train a
 * network, so they live outside the root entry point.
 * @packageDocumentation
 */
// The declarations name Node's types (Buffer, streams): the reference brings them into a
// project that has @types/node, whatever its "types" setting says (TypeScript 6 and later list none by
// default); `preserve` keeps it in the emitted declarations.
/// <reference types="node" preserve="true" />
export {
  imageGridPng,
  columnsOf,
  rowsOf,
  confusionMatrixSvg,
  panelsSvg,
  scatterSvg,
  writeFigure,
  markdownTable,
  textTable,
  meanStd,
  meanBandSeries,
  CLASS_COLORS,
} from './figures';
export type { ImageGridOptions, ConfusionOptions, Panel, ScatterOptions } from './figures';
export { lineChartSvg, asciiChart } from '../plot';
export type { Series, ChartOptions, Marker } from '../plot';
