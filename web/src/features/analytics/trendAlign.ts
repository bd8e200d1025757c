/** The events trend against its comparison period, lined up for drawing and downloading. The backend lists
 * only the periods (and groups) that had events, each period by its first day; here every period of the
 * range gets its place on the x axis (zero when nothing happened) and the comparison period's n-th period is
 * set beside the range's n-th — for days, the same offset in days from each period's start — per group. */

export interface Figures {
  count: number;
  customers: number;
  per_customer: number;
}

export interface TrendRow extends Figures {
  date?: string | null;
  group?: string | null;
}

export interface TrendLike {
  from: string;
  to: string;
  unit: string;
  series: TrendRow[];
  comparison?: { from: string; to: string; series: TrendRow[] } | null;
}

export interface AlignedPoint {
  date: string;
  current: Figures;
  /** The comparison period's day (week, month) at the same offset; null beyond its end or with none. */
  previousDate: string | null;
  previous: Figures | null;
}

export interface AlignedSeries {
  /** null: the whole, ungrouped. */
  group: string | null;
  points: AlignedPoint[];
}

export interface AlignedTrend {
  axis: string[];
  series: AlignedSeries[];
  compared: boolean;
}

const ZERO: Figures = { count: 0, customers: 0, per_customer: 0 };
const DAY = 86_400_000;

function parse(day: string): number {
  const [y, m, d] = day.split('-').map(Number);
  return Date.UTC(y!, m! - 1, d!);
}

function iso(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The first day of the period (day, ISO week from Monday, month) holding `day`. */
export function periodStart(day: string, unit: string): string {
  if (unit === 'week') {
    const ms = parse(day);
    const weekday = (new Date(ms).getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
    return iso(ms - weekday * DAY);
  }
  if (unit === 'month') return `${day.slice(0, 7)}-01`;
  return day;
}

/** Every period of [from, to] by its first day, in order; null for a unit counted otherwise (trading days),
 * whose periods are then the ones the data names. */
export function periodBuckets(from: string, to: string, unit: string): string[] | null {
  if (unit !== 'day' && unit !== 'week' && unit !== 'month') return null;
  const buckets: string[] = [];
  for (let ms = parse(from); ms <= parse(to); ms += DAY) {
    const start = periodStart(iso(ms), unit);
    if (buckets[buckets.length - 1] !== start) buckets.push(start);
  }
  return buckets;
}

function figures(row: TrendRow | undefined): Figures {
  return row ? { count: row.count, customers: row.customers, per_customer: row.per_customer } : ZERO;
}

function keyOf(date: string | null | undefined, group: string | null | undefined): string {
  return `${date ?? ''}\u0000${group ?? ''}`;
}

/** The range's periods on one axis, each group's figures in every period, and the comparison period's at the
 * same offset (one previous series per group, including groups seen only in the comparison period). */
export function alignTrend(trend: TrendLike): AlignedTrend {
  const dataDates = (rows: TrendRow[]) => [...new Set(rows.map((r) => r.date ?? ''))].sort();
  const axis = periodBuckets(trend.from, trend.to, trend.unit) ?? dataDates(trend.series);
  const comparison = trend.comparison ?? null;
  const previousAxis = comparison
    ? (periodBuckets(comparison.from, comparison.to, trend.unit) ?? dataDates(comparison.series))
    : [];
  const groups: (string | null)[] = [];
  for (const row of [...trend.series, ...(comparison?.series ?? [])]) {
    const group = row.group ?? null;
    if (!groups.includes(group)) groups.push(group);
  }
  if (groups.length === 0) groups.push(null);
  const now = new Map(trend.series.map((r) => [keyOf(r.date, r.group), r]));
  const before = new Map((comparison?.series ?? []).map((r) => [keyOf(r.date, r.group), r]));
  return {
    axis,
    compared: comparison !== null,
    series: groups.map((group) => ({
      group,
      points: axis.map((date, i) => {
        const previousDate = comparison ? (previousAxis[i] ?? null) : null;
        return {
          date,
          current: figures(now.get(keyOf(date, group))),
          previousDate,
          previous: previousDate === null ? null : figures(before.get(keyOf(previousDate, group))),
        };
      }),
    })),
  };
}

/** The relative change from `before` to `now` (null when `before` had nothing), as the backend rounds it. */
export function relativeChange(now: number, before: number | null | undefined): number | null {
  if (before === null || before === undefined || before === 0) return null;
  return Math.round(((now - before) / before) * 10_000) / 10_000;
}

const MEASURES = ['count', 'customers', 'per_customer'] as const;

export interface Totals {
  /** `from~to` of the range, and of the comparison period. */
  span: string;
  current: Figures;
  previousSpan: string | null;
  previous: Figures | null;
}

/** The aligned figures as CSV columns and rows: each period and group, then with a comparison the previous
 * period's date and figures at the same offset and the relative change of each figure; the totals last. */
export function trendTable(
  aligned: AlignedTrend,
  totalLabel: string,
  totals?: Totals,
): { columns: string[]; rows: unknown[][] } {
  const columns = ['date', 'group', ...MEASURES];
  if (aligned.compared) {
    columns.push('previous_date', ...MEASURES.map((m) => `previous_${m}`), ...MEASURES.map((m) => `change_${m}`));
  }
  const rows = aligned.series.flatMap((s) =>
    s.points.map((p) => {
      const row: unknown[] = [p.date, s.group ?? totalLabel, ...MEASURES.map((m) => p.current[m])];
      if (aligned.compared) {
        row.push(
          p.previousDate,
          ...MEASURES.map((m) => p.previous?.[m] ?? null),
          ...MEASURES.map((m) => relativeChange(p.current[m], p.previous?.[m])),
        );
      }
      return row;
    }),
  );
  if (totals) {
    const row: unknown[] = [totals.span, totalLabel, ...MEASURES.map((m) => totals.current[m])];
    if (aligned.compared) {
      row.push(
        totals.previousSpan,
        ...MEASURES.map((m) => totals.previous?.[m] ?? null),
        ...MEASURES.map((m) => relativeChange(totals.current[m], totals.previous?.[m])),
      );
    }
    rows.push(row);
  }
  return { columns, rows };
}
