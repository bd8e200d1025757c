import { describe, expect, it } from 'vitest';
import { toCsv } from '@/lib/format';
import {
  byDayCsv, campaignsCsv, dailyConversion, ENTERED, GOAL, groupRows, groupsCsv, inNaturalOrder, nodeFunnel, nodesCsv, ranked, rankingCsv, rateSeries,
  serviceCsv, upliftIntervals, verdict, type CampaignRow, type JourneyReport, type ReportGroup, type ServiceRow, type Uplift,
} from './series';

const group = (over: Partial<ReportGroup>): ReportGroup => ({
  entered: 0, nodes: {}, targeted: 0, suppressed: 0, sent: 0, delivered: 0, opened: 0, clicked: 0, goal: 0, conversion_rate: null,
  reach_rate: null, suppression_rate: null, open_rate: null, click_rate: null, delivered_conversion_rate: null, aum_customers: 0,
  aum_change_per_customer: null, net_inflow_per_customer: null, ...over,
});
const NO_UPLIFT: Uplift = { treated_rate: null, holdout_rate: null, absolute: null, relative: null, ci_low: null, ci_high: null, p_value: null };

const REPORT: JourneyReport = {
  name: 'fund_nudge', start: null, end: null, window: '5d', goal_event: 'fund_subscribe',
  groups: {
    'ab:B': group({ entered: 40, nodes: { wait: 40, note: 30 }, goal: 8 }),
    holdout: group({ entered: 20, nodes: { wait: 20, note: 0 }, goal: 2 }),
    treated: group({ entered: 80, nodes: { wait: 80, note: 60 }, goal: 20, delivered: 50, reach_rate: 0.8 }),
    'ab:A': group({ entered: 40, nodes: { wait: 40, note: 30 }, goal: 12 }),
  },
  uplift: { ...NO_UPLIFT, absolute: 0.15, ci_low: 0.01, ci_high: 0.29, p_value: 0.04 },
  aum_uplift: null, net_inflow_uplift: 12.5,
  by_day: [
    { day: '2026-03-02', treated_entered: 50, treated_converted: 10, holdout_entered: 0, holdout_converted: 0 },
    { day: '2026-03-03', treated_entered: 30, treated_converted: 10, holdout_entered: 20, holdout_converted: 2 },
  ],
};

describe('the journey report as charts and tables', () => {
  it('draws each group as a share of its own entries, entered → nodes in order → goal', () => {
    const funnel = nodeFunnel(REPORT);
    expect(funnel.steps).toEqual([ENTERED, 'wait', 'note', GOAL]);
    expect(funnel.treatedCounts).toEqual([80, 80, 60, 20]);
    expect(funnel.treated).toEqual([1, 1, 0.75, 0.25]);
    expect(funnel.holdout).toEqual([1, 1, 0, 0.1]);
  });

  it('has no share, not 0 %, for a group nobody entered', () => {
    const funnel = nodeFunnel({ ...REPORT, groups: { treated: REPORT.groups.treated! } });
    expect(funnel.holdout).toEqual([null, null, null, null]);
  });

  it('gives a day without hold-out entries no hold-out rate (a gap in the line, not a zero)', () => {
    expect(dailyConversion(REPORT.by_day)).toEqual({ days: ['2026-03-02', '2026-03-03'], treated: [0.2, 1 / 3], holdout: [null, 0.1] });
  });

  it('lists treated and hold-out first, then the variants by name', () => {
    expect(groupRows(REPORT).map(([k]) => k)).toEqual(['treated', 'holdout', 'ab:A', 'ab:B']);
  });

  it('writes every table with one header line and one line per row, missing values empty', () => {
    const groups = groupsCsv(REPORT);
    expect(groups.columns[0]).toBe('group');
    expect(groups.rows).toHaveLength(4);
    const text = toCsv(groups.columns, groups.rows);
    expect(text.startsWith('\ufeffgroup,entered,')).toBe(true);
    expect(text.split('\r\n')[1]).toMatch(/^treated,80,/);
    expect(nodesCsv(nodeFunnel(REPORT)).rows.map((r) => r[0])).toEqual(['entered', 'wait', 'note', 'goal']);
    const days = byDayCsv(REPORT);
    expect(days.rows[0]).toEqual(['2026-03-02', 50, 10, 0.2, 0, 0, null]);
    expect(toCsv(days.columns, days.rows).split('\r\n')[1]).toBe('2026-03-02,50,10,0.2,0,0,');
  });
});

describe('whether an uplift is significant', () => {
  it('follows the p-value, with the sign of the difference', () => {
    expect(verdict({ ...NO_UPLIFT, absolute: 0.05, ci_low: 0.01, ci_high: 0.09, p_value: 0.01 })).toBe('up');
    expect(verdict({ ...NO_UPLIFT, absolute: -0.05, ci_low: -0.09, ci_high: -0.01, p_value: 0.01 })).toBe('down');
    expect(verdict({ ...NO_UPLIFT, absolute: 0.05, ci_low: -0.01, ci_high: 0.11, p_value: 0.2 })).toBe('flat');
  });

  it('falls back on the interval without a p-value, and says nothing without a hold-out', () => {
    expect(verdict({ ...NO_UPLIFT, absolute: 0.5, ci_low: 0.2, ci_high: 0.8 })).toBe('up');
    expect(verdict({ ...NO_UPLIFT, absolute: 0.1, ci_low: -0.2, ci_high: 0.4 })).toBe('flat');
    expect(verdict(NO_UPLIFT)).toBe('none');
  });
});

const campaign = (name: string, uplift: Partial<Uplift>): CampaignRow => ({
  name, title: `活动 ${name}`, status: 'live', goal_event: 'fund_subscribe', window: '7d', entered: 10, targeted: 8, suppressed: 1, sent: 7,
  delivered: 6, opened: 3, clicked: 1, goal: 2, holdout_entered: 3, holdout_goal: 0, reach_rate: 0.75, suppression_rate: 0.125,
  open_rate: 0.5, click_rate: 1 / 6, conversion_rate: 0.2, delivered_conversion_rate: null, uplift: { ...NO_UPLIFT, ...uplift },
  aum_uplift: null, net_inflow_uplift: 3.5,
});

describe('campaign KPIs', () => {
  it('gives each journey its uplift and interval in percentage points, none where there is no hold-out', () => {
    const intervals = upliftIntervals([campaign('a', { absolute: 0.05, ci_low: -0.01, ci_high: 0.11 }), campaign('b', {})]);
    expect(intervals.labels).toEqual(['活动 a', '活动 b']);
    expect(intervals.estimate[0]).toBeCloseTo(5);
    expect(intervals.low[0]).toBeCloseTo(-1);
    expect(intervals.high[0]).toBeCloseTo(11);
    expect([intervals.estimate[1], intervals.low[1], intervals.high[1]]).toEqual([null, null, null]);
  });

  it('writes one CSV line per journey with the uplift columns', () => {
    const table = campaignsCsv([campaign('a', { absolute: 0.05 })]);
    expect(table.columns).toContain('uplift_ci_low');
    expect(table.rows[0]?.[table.columns.indexOf('delivered_conversion_rate')]).toBeNull();
    expect(table.rows[0]?.[table.columns.indexOf('uplift_absolute')]).toBe(0.05);
    expect(table.rows[0]?.[table.columns.indexOf('title')]).toBe('活动 a');
  });
});

const service = (group: string, rates: Partial<ServiceRow>): ServiceRow => ({
  group, triggered: 0, covered: 0, dispatched: 0, completed: 0, on_time: 0, reached: 0, converted: 0, coverage_rate: null,
  completion_rate: null, on_time_rate: null, reach_rate: null, conversion_rate: null, ...rates,
});

describe('service KPIs and the branch ranking', () => {
  const rows = [
    service('B3', { dispatched: 4, completion_rate: 0.5 }),
    service('B1', { dispatched: 10, completion_rate: 0.9 }),
    service('B4', {}),
    service('B2', { dispatched: 2, completion_rate: 0.5 }),
    service('-', { dispatched: 1, completion_rate: 1 }),
  ];

  it('ranks best first, ties share a rank, branches without a value last and unranked', () => {
    const found = ranked(rows, 'completion_rate');
    expect(found.map((r) => [r.group, r.rank])).toEqual([['B1', 1], ['B2', 2], ['B3', 2], ['-', null], ['B4', null]]);
    expect(ranked(rows, 'dispatched').map((r) => r.group)).toEqual(['B1', 'B3', 'B2', 'B4', '-']); // a count of 0 is a value; the queue is no branch
  });

  it('ranks tied branches in natural order of their codes', () => {
    const tied = ['B10', 'B2', 'B1'].map((g) => service(g, { completion_rate: 1 }));
    expect(ranked(tied, 'completion_rate').map((r) => [r.group, r.rank])).toEqual([['B1', 1], ['B2', 1], ['B10', 1]]);
    expect(inNaturalOrder([service('A10-1', {}), service('-', {}), service('A2-1', {})]).map((r) => r.group)).toEqual(['-', 'A2-1', 'A10-1']);
  });

  it('charts rates as percentages and leaves a missing rate out, not at zero', () => {
    expect(rateSeries(rows.slice(0, 4), ['completion_rate'])).toEqual({ groups: ['B3', 'B1', 'B4', 'B2'], series: { completion_rate: [50, 90, null, 50] } });
  });

  it('writes the rows and the total as CSV, and the ranking with its rank first', () => {
    const table = serviceCsv(rows, service('total', { dispatched: 16 }), 'branch');
    expect(table.columns.slice(0, 2)).toEqual(['branch', 'triggered']);
    expect(table.rows).toHaveLength(6);
    expect(table.rows[5]?.[0]).toBe('total');
    const ranking = rankingCsv(ranked(rows, 'completion_rate'));
    expect(ranking.columns.slice(0, 2)).toEqual(['rank', 'branch']);
    expect(ranking.rows.map((r) => [r[0], r[1]])).toEqual([[1, 'B1'], [2, 'B2'], [2, 'B3'], [null, '-'], [null, 'B4']]);
  });
});
