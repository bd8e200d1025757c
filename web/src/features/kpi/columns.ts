import type { ColumnType } from 'antd/es/table';
import { formatCount, formatPercent } from '@/lib/format';
import type { MessageKey } from '@/locales/zh-CN';
import { SERVICE_COUNTS, SERVICE_RATES, type ServiceCount, type ServiceRate, type ServiceRow } from './series';

type T = (key: MessageKey, vars?: Record<string, string>) => string;

export const RATE_KEYS: Record<ServiceRate, MessageKey> = {
  coverage_rate: 'kpi.svc.coverage_rate',
  completion_rate: 'kpi.svc.completion_rate',
  on_time_rate: 'kpi.svc.on_time_rate',
  reach_rate: 'kpi.svc.reach_rate',
  conversion_rate: 'kpi.svc.conversion_rate',
};
export const COUNT_KEYS: Record<ServiceCount, MessageKey> = {
  triggered: 'kpi.svc.triggered',
  covered: 'kpi.svc.covered',
  dispatched: 'kpi.svc.dispatched',
  completed: 'kpi.svc.completed',
  on_time: 'kpi.svc.on_time',
  reached: 'kpi.svc.reached',
  converted: 'kpi.svc.converted',
};

/** The label of a group: an advisor or branch as it is coded, the branch queue, a MOT rule or a journey. */
export function groupLabel(t: T, group: string): string {
  if (group === '-') return t('kpi.svc.unassigned');
  if (group.startsWith('journey:')) return t('kpi.svc.journey', { name: group.slice('journey:'.length) });
  return group;
}

/** The KPI table's columns: the group, the counts, the rates (each sortable; a rate without a denominator “—”). */
export function serviceColumns(t: T, locale: 'zh-CN' | 'en-US', groupTitle: string): ColumnType<ServiceRow>[] {
  return [
    { title: groupTitle, dataIndex: 'group', fixed: 'left', sorter: (a, b) => a.group.localeCompare(b.group), render: (g: string) => groupLabel(t, g) },
    ...SERVICE_COUNTS.map((k) => ({
      title: t(COUNT_KEYS[k]),
      dataIndex: k,
      align: 'right' as const,
      sorter: (a: ServiceRow, b: ServiceRow) => a[k] - b[k],
      render: (v: number) => formatCount(v, locale),
    })),
    ...SERVICE_RATES.map((k) => ({
      title: t(RATE_KEYS[k]),
      dataIndex: k,
      align: 'right' as const,
      sorter: (a: ServiceRow, b: ServiceRow, order?: 'ascend' | 'descend' | null) => {
        const missing = order === 'descend' ? -Infinity : Infinity;
        return (a[k] ?? missing) - (b[k] ?? missing);
      },
      render: (v: number | null) => formatPercent(v),
    })),
  ];
}

