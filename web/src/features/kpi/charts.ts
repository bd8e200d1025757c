import type { ChartOption } from '@/components/Chart';
import type { Intervals } from './series';

interface RenderApi {
  value: (dimension: number) => number;
  coord: (point: [number, number]) => number[];
  size: (value: [number, number]) => number[] | number;
}

const WHISKER = '#595959';

/** Error bars drawn by an ECharts custom series: each datum `[category index, low, high]` becomes a line from
 * low to high with caps. `horizontal`: categories on the y axis and values on the x axis. */
export function errorBarSeries(intervals: Intervals, name: string, horizontal = false) {
  const data = intervals.labels
    .map((_, i) => [i, intervals.low[i], intervals.high[i]] as const)
    .filter(([, low, high]) => low !== null && high !== null);
  return {
    type: 'custom',
    name,
    data,
    z: 3,
    itemStyle: { color: WHISKER }, // the legend's colour
    encode: horizontal ? { y: 0, x: [1, 2] } : { x: 0, y: [1, 2] },
    renderItem: (_: unknown, api: RenderApi) => {
      const at = api.value(0);
      const point = (v: number) => api.coord(horizontal ? [v, at] : [at, v]);
      const low = point(api.value(1));
      const high = point(api.value(2));
      const band = api.size(horizontal ? [0, 1] : [1, 0]);
      const cap = (Array.isArray(band) ? (horizontal ? band[1] : band[0]) : band) ?? 20;
      const half = Math.min(cap * 0.2, 14);
      const line = (x1: number, y1: number, x2: number, y2: number) => ({
        type: 'line',
        shape: { x1, y1, x2, y2 },
        style: { stroke: WHISKER, lineWidth: 1.5 },
      });
      const [lx = 0, ly = 0] = low;
      const [hx = 0, hy = 0] = high;
      return {
        type: 'group',
        children: horizontal
          ? [line(lx, ly, hx, hy), line(lx, ly - half, lx, ly + half), line(hx, hy - half, hx, hy + half)]
          : [line(lx, ly, hx, hy), line(lx - half, ly, lx + half, ly), line(hx - half, hy, hx + half, hy)],
      };
    },
  };
}

/** A dashed line at zero: an interval that crosses it is not significant. */
export const ZERO_LINE = {
  silent: true,
  symbol: 'none',
  lineStyle: { type: 'dashed', color: '#cf1322' },
  label: { show: false },
};

/** Uplift per journey in percentage points: a bar for the estimate and its 95 % interval as an error bar. */
export function upliftChart(intervals: Intervals, names: { uplift: string; interval: string; unit: string }): ChartOption {
  return {
    tooltip: {
      trigger: 'axis',
      axisPointer: { type: 'shadow' },
      formatter: (items: { dataIndex: number }[]) => {
        const i = items[0]?.dataIndex ?? 0;
        const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${v.toFixed(2)} ${names.unit}`);
        return `${intervals.labels[i] ?? ''}<br/>${names.uplift}: ${fmt(intervals.estimate[i])}<br/>${names.interval}: [${fmt(intervals.low[i])}, ${fmt(intervals.high[i])}]`;
      },
    },
    legend: { top: 0, data: [names.uplift, names.interval] },
    grid: { left: 64, right: 24, top: 40, bottom: 72 },
    xAxis: { type: 'category', data: intervals.labels, axisLabel: { interval: 0, rotate: intervals.labels.length > 4 ? 30 : 0, width: 120, overflow: 'truncate' } },
    yAxis: { type: 'value', name: names.unit, axisLabel: { formatter: (v: number) => `${v}` } },
    series: [
      {
        type: 'bar',
        name: names.uplift,
        barMaxWidth: 36,
        data: intervals.estimate.map((v) => (v === null ? null : { value: v, itemStyle: { color: v >= 0 ? '#1f5fbf' : '#d4380d' } })),
        markLine: { ...ZERO_LINE, data: [{ yAxis: 0 }] },
      },
      errorBarSeries(intervals, names.interval),
    ],
  };
}
