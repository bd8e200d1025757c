// A tag rule's conditions (the backend's Compare / AllOf / AnyOf / NotOf): their kinds, their text, and the
// blank node the editor starts each kind from. Pure functions, tested in conditions.test.ts.

export type Operator = '=' | '!=' | '>' | '>=' | '<' | '<=' | 'in' | 'not_in' | 'between' | 'exists';
export type ParamRef = { param: string };
export type CompareValue = unknown;

export interface Compare {
  indicator?: string | null;
  attribute?: string | null;
  op: Operator;
  value?: CompareValue;
}
export interface AllOf {
  all: Condition[];
}
export interface AnyOf {
  any: Condition[];
}
export interface NotOf {
  not: Condition;
}
export type Condition = Compare | AllOf | AnyOf | NotOf;
export type ConditionKind = 'compare' | 'all' | 'any' | 'not';

export const OPERATORS: Operator[] = ['=', '!=', '>', '>=', '<', '<=', 'in', 'not_in', 'between', 'exists'];

/** Which kind of node a condition is, from its distinguishing key. */
export function kindOf(condition: Condition | undefined | null): ConditionKind {
  if (condition && 'all' in condition) return 'all';
  if (condition && 'any' in condition) return 'any';
  if (condition && 'not' in condition) return 'not';
  return 'compare';
}

/** The blank node of a kind (switching a node's kind starts from this). */
export function blank(kind: ConditionKind): Condition {
  switch (kind) {
    case 'all':
      return { all: [blank('compare')] };
    case 'any':
      return { any: [blank('compare')] };
    case 'not':
      return { not: blank('compare') };
    default:
      return { indicator: undefined, op: '>=', value: undefined };
  }
}

/** Whether a value names a parameter (`{param: name}`). */
export function isParam(value: unknown): value is ParamRef {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'param' in value;
}

function valueText(value: CompareValue): string {
  if (isParam(value)) return `{${value.param}}`;
  if (Array.isArray(value)) return `[${value.map(String).join(', ')}]`;
  return value === null || value === undefined ? '?' : String(value);
}

/** A one-line text of a condition, e.g. `age_years >= {elderly_age} AND NOT (risk_level in [C1])`. */
export function describeCondition(condition: Condition | undefined | null): string {
  if (!condition) return '?';
  switch (kindOf(condition)) {
    case 'all':
      return (condition as AllOf).all.map((c) => wrap(c)).join(' AND ');
    case 'any':
      return (condition as AnyOf).any.map((c) => wrap(c)).join(' OR ');
    case 'not':
      return `NOT ${wrap((condition as NotOf).not)}`;
    default: {
      const compare = condition as Compare;
      const field = compare.indicator ?? compare.attribute ?? '?';
      return compare.op === 'exists' ? `${field} exists` : `${field} ${compare.op} ${valueText(compare.value)}`;
    }
  }
}

function wrap(condition: Condition): string {
  const text = describeCondition(condition);
  return kindOf(condition) === 'compare' ? text : `(${text})`;
}

/** A condition as the API takes it: a compare names exactly one of indicator / attribute (no empty keys). */
export function toApi(condition: Condition): Condition {
  switch (kindOf(condition)) {
    case 'all':
      return { all: (condition as AllOf).all.map(toApi) };
    case 'any':
      return { any: (condition as AnyOf).any.map(toApi) };
    case 'not':
      return { not: toApi((condition as NotOf).not) };
    default: {
      const { indicator, attribute, op, value } = condition as Compare;
      const named = indicator ? { indicator } : { attribute: attribute ?? '' };
      return op === 'exists' ? { ...named, op } : { ...named, op, value: value ?? null };
    }
  }
}
