import { describe, expect, it } from 'vitest';
import { blank, describeCondition, kindOf, toApi, type Condition } from './conditions';

describe('conditions', () => {
  it('knows each kind from its key', () => {
    expect(kindOf({ all: [] })).toBe('all');
    expect(kindOf({ any: [] })).toBe('any');
    expect(kindOf({ not: blank('compare') })).toBe('not');
    expect(kindOf({ indicator: 'a', op: '>', value: 1 })).toBe('compare');
  });

  it('describes nested conditions with parameters', () => {
    const rule: Condition = {
      all: [
        { indicator: 'age_years', op: '>=', value: { param: 'elderly_age' } },
        { not: { attribute: 'risk_level', op: 'in', value: ['C1', 'C2'] } },
        { any: [{ indicator: 'aum', op: 'between', value: [1, 5] }, { attribute: 'phone', op: 'exists' }] },
      ],
    };
    expect(describeCondition(rule)).toBe(
      'age_years >= {elderly_age} AND (NOT risk_level in [C1, C2]) AND (aum between [1, 5] OR phone exists)',
    );
  });

  it('sends a compare with exactly one field name and no value for exists', () => {
    expect(toApi({ indicator: 'x', attribute: undefined, op: '>', value: 3 })).toEqual({ indicator: 'x', op: '>', value: 3 });
    expect(toApi({ indicator: undefined, attribute: 'phone', op: 'exists', value: 9 })).toEqual({
      attribute: 'phone',
      op: 'exists',
    });
    const nested = toApi({ not: { all: [{ indicator: 'a', attribute: null, op: '=', value: 1 }] } });
    expect(nested).toEqual({ not: { all: [{ indicator: 'a', op: '=', value: 1 }] } });
  });
});
