import { type MessageKey, zhCN } from '@/locales/zh-CN';

/** The kinds of coded values the console translates: `<kind>.<value>` keys in the locale files. */
export type ValueKind =
  | 'val.message'
  | 'val.run'
  | 'val.side'
  | 'val.tradeChannel'
  | 'val.channel'
  | 'val.taskStatus'
  | 'val.priority'
  | 'val.outcome'
  | 'val.taskSource'
  | 'val.templateStatus'
  | 'val.classification'
  | 'val.policyOutcome';

/** A coded value (a status, a trade side…) in the user's language: its `<kind>.<value>` message when the
 * locale files know it, else the value as it came (a new status shows raw rather than not at all). */
export function valueLabel(t: (key: MessageKey) => string, kind: ValueKind, value: unknown): string {
  if (value === null || value === undefined || value === '') return '—';
  const key = `${kind}.${String(value)}`;
  return Object.hasOwn(zhCN, key) ? t(key as MessageKey) : String(value);
}
