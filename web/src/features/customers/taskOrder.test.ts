import { describe, expect, it } from 'vitest';
import { historyOrder } from './taskOrder';
import { valueLabel } from '@/lib/labels';
import { format } from '@/app/i18n';
import { enUS } from '@/locales/en-US';
import { type MessageKey, zhCN } from '@/locales/zh-CN';

describe('historyOrder', () => {
  it('lists open tasks first, due soonest first, then closed ones most recently due first', () => {
    const tasks = [
      { id: 'a', status: 'done', due_at: '2026-03-01T02:00:00Z' },
      { id: 'b', status: 'open', due_at: '2026-03-30T02:00:00Z' },
      { id: 'c', status: 'cancelled', due_at: '2026-03-20T02:00:00Z' },
      { id: 'd', status: 'open', due_at: '2026-03-10T02:00:00Z' },
      { id: 'e', status: 'open', due_at: '2026-03-10T02:00:00Z' },
    ];
    expect(historyOrder(tasks).map((t) => t.id)).toEqual(['d', 'e', 'b', 'c', 'a']);
    expect(tasks[0]!.id).toBe('a'); // not sorted in place
  });
});

describe('valueLabel', () => {
  const zh = (key: MessageKey) => format(zhCN[key]);
  const en = (key: MessageKey) => format(enUS[key]);

  it('translates known coded values and shows unknown ones as they came', () => {
    expect(valueLabel(zh, 'val.message', 'skipped')).toBe('已跳过');
    expect(valueLabel(en, 'val.message', 'skipped')).toBe('Skipped');
    expect(valueLabel(zh, 'val.run', 'waiting_event')).toBe('等待事件');
    expect(valueLabel(zh, 'val.side', 'buy')).toBe('买入');
    expect(valueLabel(zh, 'val.message', 'bounced')).toBe('bounced');
    expect(valueLabel(zh, 'val.run', 'toString')).toBe('toString');
    expect(valueLabel(zh, 'val.outcome', null)).toBe('—');
  });
});
