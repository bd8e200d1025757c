import { describe, expect, it } from 'vitest';
import { format } from '@/app/i18n';
import { formatAmount, formatCount, formatPercent, formatPoints, formatTime, toCsv } from './format';
import { enUS } from '@/locales/en-US';
import { zhCN } from '@/locales/zh-CN';

describe('formatAmount', () => {
  it('uses 万 and 亿 in Chinese and K/M/B in English', () => {
    expect(formatAmount(128_474_488.44, 'zh-CN')).toBe('1.28 亿');
    expect(formatAmount(3_662_435.7, 'zh-CN')).toBe('366.24 万');
    expect(formatAmount(-100_721.89, 'zh-CN')).toBe('-10.07 万');
    expect(formatAmount(9_999.5, 'zh-CN')).toBe('9999.50');
    expect(formatAmount(128_474_488.44, 'en-US')).toBe('128.47M');
    expect(formatAmount(2_500_000_000, 'en-US')).toBe('2.50B');
  });

  it('shows a missing value as a dash, never as zero', () => {
    expect(formatAmount(null, 'zh-CN')).toBe('—');
    expect(formatCount(undefined, 'en-US')).toBe('—');
    expect(formatCount(0, 'en-US')).toBe('0');
  });
});

describe('formatTime', () => {
  it('shows instants in Beijing time', () => {
    expect(formatTime('2026-12-03T05:35:39.654830+00:00')).toBe('2026-12-03 13:35:39');
    expect(formatTime('2026-12-31T16:00:00Z')).toBe('2027-01-01 00:00:00');
    expect(formatTime(null)).toBe('—');
  });
});

describe('formatPercent and formatPoints', () => {
  it('shows a rate over nothing as a dash, never 0 %', () => {
    expect(formatPercent(0.1234)).toBe('12.3%');
    expect(formatPercent(0)).toBe('0.0%');
    expect(formatPercent(null)).toBe('—');
    expect(formatPoints(0.0234, 'pp')).toBe('+2.34 pp');
    expect(formatPoints(-0.01, 'pp')).toBe('-1.00 pp');
    expect(formatPoints(undefined, 'pp')).toBe('—');
  });
});

describe('toCsv', () => {
  it('keeps Chinese text and a line break inside a quoted cell', () => {
    expect(toCsv(['营业部'], [['上海\n浦东']])).toBe('\ufeff营业部\r\n"上海\n浦东"\r\n');
  });

  it('quotes commas, quotes and line breaks and starts with a BOM for Excel', () => {
    const text = toCsv(['a', 'b'], [['x,y', 'say "hi"'], [null, 2]]);
    expect(text).toBe('\ufeffa,b\r\n"x,y","say ""hi"""\r\n,2\r\n');
  });
});

describe('messages', () => {
  it('has the same keys and placeholders in both languages', () => {
    const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const key of Object.keys(zhCN) as (keyof typeof zhCN)[]) {
      expect(enUS[key], key).toBeTruthy();
      expect(placeholders(enUS[key]), key).toEqual(placeholders(zhCN[key]));
    }
    expect(format('剩余 {days} 天', { days: 28 })).toBe('剩余 28 天');
  });
});
