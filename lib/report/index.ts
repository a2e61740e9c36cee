/**
 * Report helpers (`neurone/report`): the figures and tables the experiments in `reports/` and the
 * `neurone` command write — PNG image grids, SVG line charts, confusion matrices, multi-panel
 * charts and scatter plots, Markdown and text tables, mean ± std. They are not needed to train a
 * network, so they live outside the root entry point.
 * @packageDocumentation
 */
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
