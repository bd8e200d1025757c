import { Badge } from 'antd';
import { useI18n } from '@/app/i18n';
import type { MessageKey } from '@/locales/zh-CN';

const BADGES: Record<string, 'default' | 'processing' | 'success' | 'warning' | 'error'> = {
  draft: 'default',
  pending: 'processing',
  live: 'success',
  paused: 'warning',
  stopped: 'default',
  archived: 'default',
};

/** A journey's lifecycle status as its badge (CONSOLE.md §4: 草稿, 审批中, 运行中, 已暂停, 已下线, 已归档). */
export function StatusBadge({ status }: { status: string }) {
  const { t } = useI18n();
  const known = status in BADGES;
  return <Badge status={BADGES[status] ?? 'default'} text={known ? t(`journey.status.${status}` as MessageKey) : status} data-testid="journey-status" />;
}
