/**
 * What the scalars views load on first use, as one chunk of its own (uPlot, protobufjs's reader, CRC32C): the first
 * page of the app does not carry it (docs/ui.md, the 150 KB budget).
 */
export { ScalarChart } from './chart.ts';
export { loadScalars } from './load.ts';
