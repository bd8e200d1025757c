import { Select, Table, Typography } from 'antd';
import { useState } from 'react';
import { useI18n } from '@/app/i18n';
import { PageHeader } from '@/components/PageHeader';
import { formatTime } from '@/lib/format';
import { useFirings, useRules } from './queries';

/** 触发记录: firings newest first — the rule, the customer (masked per rights), the occurrence, what caused it
 * and the task it made. */
export default function FiringsPage() {
  const { t } = useI18n();
  const rules = useRules();
  const [rule, setRule] = useState<string | undefined>();
  const firings = useFirings(rule);
  const titles = new Map((rules.data ?? []).map((r) => [r.name, r.title]));
  return (
    <div data-testid="mot-firings-page">
      <PageHeader
        title={t('menu.mot.firings')}
        extra={
          <Select
            allowClear
            showSearch
            placeholder={t('mot.allRules')}
            style={{ width: 240 }}
            value={rule}
            options={(rules.data ?? []).map((r) => ({ value: r.name, label: r.title }))}
            onChange={(v?: string) => setRule(v)}
          />
        }
      />
      <Table
        rowKey="id"
        loading={firings.isPending}
        dataSource={firings.data ?? []}
        pagination={{ pageSize: 50 }}
        columns={[
          { title: t('mot.firedAt'), dataIndex: 'fired_at', width: 170, render: (v: string) => formatTime(v) },
          { title: t('mot.rule'), dataIndex: 'rule', render: (v: string) => titles.get(v) ?? v },
          { title: t('journey.runs.customer'), dataIndex: 'customer_no', width: 130 },
          { title: t('mot.occurrence'), dataIndex: 'occurrence', width: 140 },
          {
            title: t('mot.facts'),
            dataIndex: 'facts',
            render: (v: Record<string, unknown>) => (
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {Object.entries(v).map(([k, x]) => `${k}=${typeof x === 'object' ? JSON.stringify(x) : String(x)}`).join(' · ')}
              </Typography.Text>
            ),
          },
          { title: t('mot.due'), dataIndex: 'due_at', width: 170, render: (v?: string | null) => formatTime(v) },
          { title: t('mot.taskCol'), dataIndex: 'task_id', width: 110, render: (v?: string | null) => (v ? '✓' : '—') },
        ]}
      />
    </div>
  );
}
