import type { Schemas } from '@/api/client';

export type JourneyReport = Schemas['JourneyReportRead'];
export type ReportGroup = Schemas['ReportGroup'];
export type Uplift = Schemas['UpliftRead'];
export type CampaignRow = Schemas['CampaignKpiRow'];
export type ServiceRow = Schemas['KpiRow'];

/** A rate over nothing has no value: null, never 0 (shown as “—”). */
export function ratio(part: number, whole: number): number | null {
  return whole ? part / whole : null;
}

/** The funnel by node of treated and hold-out, each step as a share of the group's entries (the groups differ
 * in size, so counts alone would hide the hold-out): entered, each node in the journey's order, the goal. */
export interface NodeFunnel {
  steps: string[];
  treated: (number | null)[];
  holdout: (number | null)[];
  treatedCounts: number[];
  holdoutCounts: number[];
}

export const ENTERED = '__entered';
export const GOAL = '__goal';

export function nodeFunnel(report: JourneyReport): NodeFunnel {
  const treated = report.groups.treated;
  const holdout = report.groups.holdout;
  const nodes = Object.keys(treated?.nodes ?? holdout?.nodes ?? {});
  const steps = [ENTERED, ...nodes, GOAL];
  const counts = (g: ReportGroup | undefined) =>
    g ? steps.map((s) => (s === ENTERED ? g.entered : s === GOAL ? g.goal : (g.nodes[s] ?? 0))) : steps.map(() => 0);
  const treatedCounts = counts(treated);
  const holdoutCounts = counts(holdout);
  return {
    steps,
    treatedCounts,
    holdoutCounts,
    treated: treatedCounts.map((n) => ratio(n, treated?.entered ?? 0)),
    holdout: holdoutCounts.map((n) => ratio(n, holdout?.entered ?? 0)),
  };
}

/** Goal conversion per day of entry, treated and hold-out (null on a day nobody of the group entered). */
export function dailyConversion(days: Schemas['ReportDay'][]) {
  return {
    days: days.map((d) => d.day),
    treated: days.map((d) => ratio(d.treated_converted, d.treated_entered)),
    holdout: days.map((d) => ratio(d.holdout_converted, d.holdout_entered)),
  };
}

export type Verdict = 'up' | 'down' | 'flat' | 'none';

/** Whether the uplift is significant at 5 %: the p-value of the z-test when there is one, else whether the
 * 95 % interval excludes 0 (no p-value when everyone or no one converted); `none` without a hold-out. */
export function verdict(uplift: Uplift, alpha = 0.05): Verdict {
  if (uplift.absolute === null || uplift.absolute === undefined) return 'none';
  const low = uplift.ci_low ?? null;
  const high = uplift.ci_high ?? null;
  const significant =
    uplift.p_value !== null && uplift.p_value !== undefined
      ? uplift.p_value < alpha
      : low !== null && high !== null && (low > 0 || high < 0);
  if (!significant) return 'flat';
  return uplift.absolute > 0 ? 'up' : 'down';
}

/** One interval per item for an error-bar chart: the estimate and its bounds (null where unknown). */
export interface Intervals {
  labels: string[];
  estimate: (number | null)[];
  low: (number | null)[];
  high: (number | null)[];
}

/** The conversion uplift of each journey with its 95 % interval, in percentage points. */
export function upliftIntervals(rows: CampaignRow[]): Intervals {
  const points = (v: number | null | undefined) => (v === null || v === undefined ? null : v * 100);
  return {
    labels: rows.map((r) => r.title || r.name),
    estimate: rows.map((r) => points(r.uplift.absolute)),
    low: rows.map((r) => points(r.uplift.ci_low)),
    high: rows.map((r) => points(r.uplift.ci_high)),
  };
}

export type ServiceRate = 'coverage_rate' | 'completion_rate' | 'on_time_rate' | 'reach_rate' | 'conversion_rate';
export const SERVICE_RATES: ServiceRate[] = ['coverage_rate', 'completion_rate', 'on_time_rate', 'reach_rate', 'conversion_rate'];
export type ServiceCount = 'triggered' | 'covered' | 'dispatched' | 'completed' | 'on_time' | 'reached' | 'converted';
export const SERVICE_COUNTS: ServiceCount[] = ['triggered', 'covered', 'dispatched', 'completed', 'on_time', 'reached', 'converted'];

/** The API's group of tasks with no advisor or branch (the branch queue). */
export const UNASSIGNED = '-';

/** Codes in natural order: A2-1 before A10-1, B2 before B10. */
export function naturally(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** Groups in natural order of their codes, the unassigned group first (as the API lists it). */
export function inNaturalOrder(rows: ServiceRow[]): ServiceRow[] {
  return [...rows].sort((a, b) => Number(b.group === UNASSIGNED) - Number(a.group === UNASSIGNED) || naturally(a.group, b.group));
}

/** Rates of each group as percentages for a bar chart (null stays null: no bar, not a zero bar). */
export function rateSeries(rows: ServiceRow[], rates: ServiceRate[]): { groups: string[]; series: Record<string, (number | null)[]> } {
  return {
    groups: rows.map((r) => r.group),
    series: Object.fromEntries(rates.map((k) => [k, rows.map((r) => (r[k] === null || r[k] === undefined ? null : r[k] * 100))])),
  };
}

/** Groups ranked by a KPI, best first; groups without a value last (a branch with no tasks is not last with
 * 0 %, it has no rate), ties by name. Each with its rank (null without a value). */
export function ranked(rows: ServiceRow[], by: ServiceRate | ServiceCount): (ServiceRow & { rank: number | null })[] {
  // The tasks of no branch (`-`, the API's unassigned group) are shown but not ranked: they are no branch.
  const value = (r: ServiceRow) => (r.group === UNASSIGNED || r[by] === null || r[by] === undefined ? null : Number(r[by]));
  const sorted = [...rows].sort((a, b) => {
    const va = value(a);
    const vb = value(b);
    if (va === null && vb === null) return naturally(a.group, b.group);
    if (va === null) return 1;
    if (vb === null) return -1;
    return vb - va || naturally(a.group, b.group);
  });
  let rank = 0;
  let previous: number | null = null;
  return sorted.map((r, i) => {
    const v = value(r);
    if (v === null) return { ...r, rank: null };
    if (v !== previous) rank = i + 1; // equal values share a rank (1, 2, 2, 4)
    previous = v;
    return { ...r, rank };
  });
}

/** A table as CSV input: column names and rows of cells (null for a missing value, never 0). */
export interface CsvTable {
  columns: string[];
  rows: unknown[][];
}

const GROUP_KEYS = [
  'entered', 'targeted', 'suppressed', 'sent', 'delivered', 'opened', 'clicked', 'goal', 'conversion_rate', 'reach_rate',
  'suppression_rate', 'open_rate', 'click_rate', 'delivered_conversion_rate', 'aum_change_per_customer', 'net_inflow_per_customer',
] as const;

/** The report's groups, treated and hold-out first, then each A/B variant (`node:variant`). */
export function groupRows(report: JourneyReport): [string, ReportGroup][] {
  const order = (key: string) => (key === 'treated' ? 0 : key === 'holdout' ? 1 : 2);
  return Object.entries(report.groups).sort(([a], [b]) => order(a) - order(b) || a.localeCompare(b));
}

export function groupsCsv(report: JourneyReport): CsvTable {
  return {
    columns: ['group', ...GROUP_KEYS],
    rows: groupRows(report).map(([key, g]) => [key, ...GROUP_KEYS.map((k) => g[k] ?? null)]),
  };
}

export function nodesCsv(funnel: NodeFunnel): CsvTable {
  return {
    columns: ['step', 'treated', 'treated_share', 'holdout', 'holdout_share'],
    rows: funnel.steps.map((s, i) => [
      s === ENTERED ? 'entered' : s === GOAL ? 'goal' : s,
      funnel.treatedCounts[i],
      funnel.treated[i],
      funnel.holdoutCounts[i],
      funnel.holdout[i],
    ]),
  };
}

export function byDayCsv(report: JourneyReport): CsvTable {
  const conversion = dailyConversion(report.by_day);
  return {
    columns: ['day', 'treated_entered', 'treated_converted', 'treated_rate', 'holdout_entered', 'holdout_converted', 'holdout_rate'],
    rows: report.by_day.map((d, i) => [
      d.day, d.treated_entered, d.treated_converted, conversion.treated[i], d.holdout_entered, d.holdout_converted, conversion.holdout[i],
    ]),
  };
}

const CAMPAIGN_KEYS = [
  'name', 'title', 'status', 'goal_event', 'window', 'entered', 'holdout_entered', 'targeted', 'suppressed', 'suppression_rate',
  'sent', 'delivered', 'reach_rate', 'opened', 'open_rate', 'clicked', 'click_rate', 'goal', 'conversion_rate', 'delivered_conversion_rate',
] as const;
const UPLIFT_KEYS = ['treated_rate', 'holdout_rate', 'absolute', 'relative', 'ci_low', 'ci_high', 'p_value'] as const;

export function campaignsCsv(rows: CampaignRow[]): CsvTable {
  return {
    columns: [...CAMPAIGN_KEYS, ...UPLIFT_KEYS.map((k) => `uplift_${k}`), 'aum_uplift', 'net_inflow_uplift'],
    rows: rows.map((r) => [
      ...CAMPAIGN_KEYS.map((k) => r[k] ?? null),
      ...UPLIFT_KEYS.map((k) => r.uplift[k] ?? null),
      r.aum_uplift ?? null,
      r.net_inflow_uplift ?? null,
    ]),
  };
}

/** Service KPIs per group, with the total as the last line. */
export function serviceCsv(rows: ServiceRow[], total: ServiceRow | null, groupBy: string): CsvTable {
  const line = (r: ServiceRow) => [r.group, ...SERVICE_COUNTS.map((k) => r[k]), ...SERVICE_RATES.map((k) => r[k] ?? null)];
  return {
    columns: [groupBy, ...SERVICE_COUNTS, ...SERVICE_RATES],
    rows: [...rows.map(line), ...(total ? [line(total)] : [])],
  };
}

/** Branch ranking as CSV: rank first, then the branch's KPIs. */
export function rankingCsv(rows: (ServiceRow & { rank: number | null })[]): CsvTable {
  const table = serviceCsv(rows, null, 'branch');
  return { columns: ['rank', ...table.columns], rows: table.rows.map((cells, i) => [rows[i]?.rank ?? null, ...cells]) };
}
