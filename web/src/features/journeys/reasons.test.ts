import { describe, expect, it } from 'vitest';
import { mergeReasons, reasonBreakdown, reasonKind } from './reasons';

describe('reasonKind', () => {
  it.each([
    ['hold-out', 'holdout'],
    ['consent: opted out of marketing on sms', 'consent'],
    ['do-not-disturb: complaint', 'dnd'],
    ['quiet hours until 08:00', 'quiet'],
    ['frequency cap: 2 marketing message(s) per day on all channels', 'frequency'],
    ['suitability: C2 admits up to R2', 'suitability'],
    ['no mobile on the profile for sms', 'address'],
    ['rate limit of the sms provider', 'rate'],
    ['the gateway refused the template', 'other'],
  ])('%s is %s', (reason, kind) => {
    expect(reasonKind(reason)).toBe(kind);
  });
});

describe('reasonBreakdown', () => {
  it('groups by kind, largest first, with shares of the whole', () => {
    const rows = reasonBreakdown({
      'quiet hours until 08:00': 3,
      'consent: no marketing consent': 5,
      'consent: opted out of marketing on sms': 2,
      'hold-out': 3,
    });
    expect(rows.map((r) => [r.kind, r.count])).toEqual([
      ['consent', 7],
      ['holdout', 3],
      ['quiet', 3],
    ]);
    expect(rows[0]?.share).toBeCloseTo(7 / 13);
    expect(rows[0]?.reasons.map((r) => r.count)).toEqual([5, 2]);
  });

  it('is empty for no reasons', () => {
    expect(reasonBreakdown(undefined)).toEqual([]);
    expect(reasonBreakdown({ x: 0 })).toEqual([]);
  });

  it('keeps every message: counts add up and shares sum to one (200 random inputs)', () => {
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const starts = ['hold-out', 'consent: x', 'quiet hours', 'no phone', 'frequency cap', 'gateway', 'rate limit'];
    for (let round = 0; round < 200; round += 1) {
      const reasons: Record<string, number> = {};
      for (let i = next(8); i > 0; i -= 1) reasons[`${starts[next(starts.length)]} ${next(5)}`] = 1 + next(1000);
      const rows = reasonBreakdown(reasons);
      const total = Object.values(reasons).reduce((a, b) => a + b, 0);
      expect(rows.reduce((a, r) => a + r.count, 0)).toBe(total);
      if (rows.length) expect(rows.reduce((a, r) => a + r.share, 0)).toBeCloseTo(1);
      for (const row of rows) expect(row.reasons.reduce((a, r) => a + r.count, 0)).toBe(row.count);
      expect(rows.map((r) => r.count)).toEqual([...rows.map((r) => r.count)].sort((a, b) => b - a));
    }
  });
});

describe('mergeReasons', () => {
  it('adds the same reason across nodes', () => {
    expect(mergeReasons([{ a: 1, b: 2 }, undefined, { a: 4 }])).toEqual({ a: 5, b: 2 });
  });
});
