import type { Locale } from '@/app/i18n';

const TIME_ZONE = 'Asia/Shanghai';

/** A count with separators (12,345). Null is “—”: a missing value is never shown as 0. */
export function formatCount(value: number | null | undefined, locale: Locale): string {
  if (value === null || value === undefined) return '—';
  return new Intl.NumberFormat(locale).format(value);
}

/** An amount in 元 for a KPI card: 万 and 亿 in Chinese, K / M / B in English. */
export function formatAmount(value: number | null | undefined, locale: Locale): string {
  if (value === null || value === undefined) return '—';
  const abs = Math.abs(value);
  if (locale === 'zh-CN') {
    if (abs >= 1e8) return `${(value / 1e8).toFixed(2)} 亿`;
    if (abs >= 1e4) return `${(value / 1e4).toFixed(2)} 万`;
    return value.toFixed(2);
  }
  if (abs >= 1e9) return `${(value / 1e9).toFixed(2)}B`;
  if (abs >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (abs >= 1e3) return `${(value / 1e3).toFixed(2)}K`;
  return value.toFixed(2);
}

/** An amount with separators and two decimals (tables). */
export function formatMoney(value: number | null | undefined, locale: Locale): string {
  if (value === null || value === undefined) return '—';
  return new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(value);
}

/** A rate as a percentage with one decimal (0.1234 → 12.3%). Null — a rate over nothing — is “—”, never 0 %. */
export function formatPercent(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return `${(value * 100).toFixed(digits)}%`;
}

/** A difference of two rates in percentage points, signed (0.0234 → +2.34 pp); null is “—”. */
export function formatPoints(value: number | null | undefined, unit: string, digits = 2): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const text = (value * 100).toFixed(digits);
  return `${value > 0 ? '+' : ''}${text} ${unit}`;
}

/** An instant in Beijing time (the brokerage's business time), e.g. 2026-12-03 09:30:05. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: TIME_ZONE,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(date);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}:${get('second')}`;
}

/** Any cell value as text (objects as JSON), null as “—”. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Rows as CSV text (RFC 4180 quoting), with a BOM so that Excel reads Chinese right. */
export function toCsv(columns: string[], rows: unknown[][]): string {
  const cell = (v: unknown) => {
    const text = formatValue(v === null || v === undefined ? '' : v);
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = [columns, ...rows].map((r) => r.map(cell).join(','));
  return `\ufeff${lines.join('\r\n')}\r\n`;
}

/** Offer text as a downloaded file. */
export function download(filename: string, text: string, type = 'text/csv;charset=utf-8'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.click();
  URL.revokeObjectURL(url);
}
