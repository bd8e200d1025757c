import { describe, expect, it } from 'vitest';
import { alignTrend, periodBuckets, periodStart, relativeChange, trendTable } from './trendAlign';

const row = (date: string, count: number, group?: string) => ({
  date,
  group: group ?? null,
  count,
  customers: count,
  per_customer: count ? 1 : 0,
});

describe('periodBuckets', () => {
  it('lists every day, ISO week (from Monday) and month of a range', () => {
    expect(periodBuckets('2026-03-30', '2026-04-02', 'day')).toEqual(['2026-03-30', '2026-03-31', '2026-04-01', '2026-04-02']);
    // 2026-03-04 is a Wednesday: its week starts on Monday 2026-03-02.
    expect(periodBuckets('2026-03-04', '2026-03-16', 'week')).toEqual(['2026-03-02', '2026-03-09', '2026-03-16']);
    expect(periodBuckets('2026-01-31', '2026-03-01', 'month')).toEqual(['2026-01-01', '2026-02-01', '2026-03-01']);
    expect(periodBuckets('2026-03-01', '2026-03-05', 'trading_day')).toBeNull();
    expect(periodStart('2026-03-08', 'week')).toBe('2026-03-02'); // a Sunday
    expect(periodStart('2026-03-09', 'week')).toBe('2026-03-09');
  });
});

describe('alignTrend', () => {
  it('sets the previous period beside the range by the offset from each start, zero-filling missing days', () => {
    const aligned = alignTrend({
      from: '2026-03-04',
      to: '2026-03-06',
      unit: 'day',
      series: [row('2026-03-04', 5), row('2026-03-06', 7)],
      comparison: { from: '2026-03-01', to: '2026-03-03', series: [row('2026-03-02', 4), row('2026-03-03', 9)] },
    });
    expect(aligned.axis).toEqual(['2026-03-04', '2026-03-05', '2026-03-06']);
    expect(aligned.series).toHaveLength(1);
    const [total] = aligned.series;
    expect(total!.group).toBeNull();
    expect(total!.points.map((p) => [p.date, p.current.count, p.previousDate, p.previous?.count])).toEqual([
      ['2026-03-04', 5, '2026-03-01', 0],
      ['2026-03-05', 0, '2026-03-02', 4],
      ['2026-03-06', 7, '2026-03-03', 9],
    ]);
  });

  it('draws one previous series per group, each matched to its own group', () => {
    const aligned = alignTrend({
      from: '2026-03-04',
      to: '2026-03-05',
      unit: 'day',
      series: [row('2026-03-04', 1, 'ios'), row('2026-03-04', 2, 'android'), row('2026-03-05', 3, 'ios')],
      comparison: {
        from: '2026-03-02',
        to: '2026-03-03',
        series: [row('2026-03-03', 8, 'android'), row('2026-03-02', 6, 'web')],
      },
    });
    const byGroup = Object.fromEntries(
      aligned.series.map((s) => [s.group, s.points.map((p) => [p.current.count, p.previous?.count])]),
    );
    expect(byGroup).toEqual({
      ios: [[1, 0], [3, 0]],
      android: [[2, 0], [0, 8]],
      web: [[0, 6], [0, 0]],
    });
  });

  it('aligns weeks and months by their order and leaves the places past a shorter comparison empty', () => {
    const aligned = alignTrend({
      from: '2026-03-04',
      to: '2026-03-16',
      unit: 'week',
      series: [row('2026-03-02', 3), row('2026-03-16', 1)],
      comparison: { from: '2026-02-20', to: '2026-03-03', series: [row('2026-02-16', 2), row('2026-03-02', 9)] },
    });
    expect(aligned.series[0]!.points.map((p) => [p.date, p.previousDate, p.previous?.count ?? null])).toEqual([
      ['2026-03-02', '2026-02-16', 2],
      ['2026-03-09', '2026-02-23', 0],
      ['2026-03-16', '2026-03-02', 9],
    ]);
    const shorter = alignTrend({
      from: '2026-01-31',
      to: '2026-03-01',
      unit: 'month',
      series: [],
      comparison: { from: '2026-01-01', to: '2026-01-30', series: [row('2026-01-01', 4)] },
    });
    expect(shorter.series[0]!.points.map((p) => p.previous?.count ?? null)).toEqual([4, null, null]);
  });

  it('has no previous figures without a comparison, and takes a trading-day axis from the data', () => {
    const aligned = alignTrend({
      from: '2026-03-02',
      to: '2026-03-10',
      unit: 'trading_day',
      series: [row('2026-03-03', 2), row('2026-03-02', 1)],
    });
    expect(aligned.compared).toBe(false);
    expect(aligned.axis).toEqual(['2026-03-02', '2026-03-03']);
    expect(aligned.series[0]!.points.every((p) => p.previous === null && p.previousDate === null)).toBe(true);
  });
});

describe('trendTable', () => {
  it('writes each period with the previous one beside it, the change, and the totals', () => {
    const aligned = alignTrend({
      from: '2026-03-03',
      to: '2026-03-04',
      unit: 'day',
      series: [row('2026-03-03', 6), row('2026-03-04', 2)],
      comparison: { from: '2026-03-01', to: '2026-03-02', series: [row('2026-03-01', 4)] },
    });
    const table = trendTable(aligned, 'total', {
      span: '2026-03-03~2026-03-04',
      current: { count: 8, customers: 8, per_customer: 1 },
      previousSpan: '2026-03-01~2026-03-02',
      previous: { count: 4, customers: 4, per_customer: 1 },
    });
    expect(table.columns).toEqual([
      'date', 'group', 'count', 'customers', 'per_customer', 'previous_date', 'previous_count',
      'previous_customers', 'previous_per_customer', 'change_count', 'change_customers', 'change_per_customer',
    ]);
    expect(table.rows).toEqual([
      ['2026-03-03', 'total', 6, 6, 1, '2026-03-01', 4, 4, 1, 0.5, 0.5, 0],
      ['2026-03-04', 'total', 2, 2, 1, '2026-03-02', 0, 0, 0, null, null, null],
      ['2026-03-03~2026-03-04', 'total', 8, 8, 1, '2026-03-01~2026-03-02', 4, 4, 1, 1, 1, 0],
    ]);
    const plain = trendTable(alignTrend({ from: '2026-03-03', to: '2026-03-03', unit: 'day', series: [] }), 'total');
    expect(plain).toEqual({ columns: ['date', 'group', 'count', 'customers', 'per_customer'], rows: [['2026-03-03', 'total', 0, 0, 0]] });
  });

  it('computes the relative change as the backend does', () => {
    expect(relativeChange(3, 2)).toBe(0.5);
    expect(relativeChange(1, 3)).toBe(-0.6667);
    expect(relativeChange(1, 0)).toBeNull();
    expect(relativeChange(1, null)).toBeNull();
  });
});
