import type { Schemas } from '@/api/client';
import type { MessageKey } from '@/locales/zh-CN';

type Window = Schemas['Window'];
type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string;

/** An indicator's window in words (近 30 个交易日, 最新快照 …). */
export function windowText(window: Window | null | undefined, t: Translate): string {
  if (!window) return '—';
  const kind = t(`ind.window.${window.kind}` as MessageKey);
  return window.n ? kind.replace('N', String(window.n)) : kind;
}
