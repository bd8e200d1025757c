import { Progress, Table, Tooltip, Typography } from 'antd';
import { useI18n } from '@/app/i18n';
import { reasonBreakdown, type ReasonRow } from './reasons';

/** Held-back messages by kind (对照组, 未授权, 静默时段 …) with their counts and shares; each kind's own
 * reasons, as the channel policies word them, in its tooltip. */
export function ReasonBreakdown({ reasons, testId }: { reasons: Record<string, number> | undefined | null; testId?: string }) {
  const { t } = useI18n();
  const rows = reasonBreakdown(reasons);
  if (rows.length === 0) return <Typography.Text type="secondary">{t('journey.live.reasonsNone')}</Typography.Text>;
  return (
    <Table<ReasonRow>
      size="small"
      rowKey="kind"
      pagination={false}
      dataSource={rows}
      data-testid={testId}
      columns={[
        {
          title: t('journey.live.reasonKind'),
          dataIndex: 'kind',
          render: (kind: ReasonRow['kind'], row) => (
            <Tooltip title={row.reasons.map((r) => `${r.reason}: ${r.count.toLocaleString()}`).join('\n')}>
              <span data-testid={`reason-${kind}`}>{t(`journey.reason.${kind}`)}</span>
            </Tooltip>
          ),
        },
        { title: t('journey.live.count'), dataIndex: 'count', align: 'right', render: (n: number) => n.toLocaleString() },
        {
          title: t('journey.live.share'),
          dataIndex: 'share',
          width: 180,
          render: (share: number) => <Progress percent={Math.round(share * 1000) / 10} size="small" status="normal" />,
        },
      ]}
      expandable={{
        rowExpandable: (row) => row.reasons.length > 1 || row.reasons[0]?.reason !== 'hold-out',
        expandedRowRender: (row) => (
          <ul style={{ margin: 0, paddingInlineStart: 16 }}>
            {row.reasons.map((r) => (
              <li key={r.reason}>
                <Typography.Text code>{r.reason}</Typography.Text> {r.count.toLocaleString()}
              </li>
            ))}
          </ul>
        ),
      }}
    />
  );
}
