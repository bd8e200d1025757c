import type { EChartsCoreOption, ECElementEvent } from 'echarts/core';
import { lazy, Suspense } from 'react';

// ECharts (some 600 kB) loads on its own, after the page around a chart has drawn: the home page's figures
// show before its charts do (CONSOLE.md §6, time to first render).
const EChart = lazy(() => import('./EChart'));

export type ChartOption = EChartsCoreOption;

export interface ChartProps {
  option: ChartOption;
  height?: number;
  testId?: string;
  onClick?: (params: ECElementEvent) => void;
}

/** A chart, drawn once the charting library has loaded (a blank box of the same height until then). */
export function Chart(props: ChartProps) {
  return (
    <Suspense fallback={<div className="chart" style={{ height: props.height ?? 300 }} />}>
      <EChart {...props} />
    </Suspense>
  );
}
