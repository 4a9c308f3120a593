/** One scalar tag as a uPlot line chart (canvas), step on the x axis, one line per run or experiment. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { html } from '../html.ts';
import { lineColor } from './colors.ts';
import type { ScalarPoint } from './events.ts';

export interface ChartLine {
  label: string;
  /** Palette index: the same run or experiment has the same color on every chart. */
  color: number;
  points: ScalarPoint[];
}

const HEIGHT = 220;

/** x = the union of the lines' steps; a line without a point at a step has a gap there, spanned by the line. */
function aligned(lines: ChartLine[]): uPlot.AlignedData {
  const tables = lines.map((l) => [l.points.map((p) => p.step), l.points.map((p) => p.value)] as uPlot.AlignedData);
  if (tables.length === 1) return tables[0] as uPlot.AlignedData;
  return uPlot.join(tables);
}

export function ScalarChart(props: { lines: ChartLine[] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const labels = props.lines.map((l) => `${l.color}:${l.label}`).join('\0');

  // A new chart when the lines change; new points of the same lines only replace its data.
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const u = new uPlot(
      {
        width: Math.max(240, el.clientWidth),
        height: HEIGHT,
        scales: { x: { time: false } },
        legend: { show: props.lines.length > 1 },
        cursor: { drag: { x: true, y: false } },
        axes: [{ label: 'step', labelSize: 20, size: 36 }, { size: 60 }],
        series: [
          { label: 'step' },
          ...props.lines.map((l) => ({
            label: l.label,
            stroke: lineColor(l.color),
            width: 1.5,
            spanGaps: true,
            points: { show: false },
          })),
        ],
      },
      aligned(props.lines),
      el,
    );
    plot.current = u;
    const resize = new ResizeObserver(() => {
      const w = Math.max(240, el.clientWidth);
      if (w !== u.width) u.setSize({ width: w, height: HEIGHT });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [labels]);
  useEffect(() => {
    plot.current?.setData(aligned(props.lines));
  }, [props.lines]);

  return html`<div class="chart" ref=${box} data-testid="chart"></div>`;
}
