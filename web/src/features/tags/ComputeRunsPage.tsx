import { PlayCircleOutlined } from '@ant-design/icons';
import { App, Badge, Button, Card, Table } from 'antd';
import type { Schemas } from '@/api/client';
import { can, useMe } from '@/app/auth';
import { useI18n } from '@/app/i18n';
import { ErrorText } from '@/components/ErrorText';
import { PageHeader } from '@/components/PageHeader';
import { formatTime, formatValue } from '@/lib/format';
import type { MessageKey } from '@/locales/zh-CN';
import { useComputeNow, useComputeRuns } from './queries';

type Run = Schemas['ComputeRunRead'];

/** 计算任务: the indicator and tag computations with their state and error; compute today now. */
export default function ComputeRunsPage() {
  const { t } = useI18n();
  const me = useMe();
  const { message } = App.useApp();
  const runs = useComputeRuns();
  const now = useComputeNow();
  return (
    <div data-testid="compute-runs-page">
      <PageHeader
        title={t('runs.title')}
        extra={
          can(me, 'compute:run') && (
            <Button
              type="primary"
              icon={<PlayCircleOutlined />}
              loading={now.isPending}
              onClick={() => now.mutateAsync().then((r) => message.success(t('runs.started', { date: r.business_date }))).catch(() => undefined)}
            >
              {t('runs.now')}
            </Button>
          )
        }
      />
      <Card size="small">
        <Table<Run>
          rowKey="id"
          size="middle"
          loading={runs.isPending}
          dataSource={runs.data ?? []}
          pagination={false}
          columns={[
            { title: t('runs.date'), dataIndex: 'business_date' },
            {
              title: t('common.status'),
              dataIndex: 'status',
              render: (s: string) => (
                <Badge
                  status={s === 'failed' ? 'error' : s === 'running' ? 'processing' : 'success'}
                  text={['failed', 'running', 'succeeded'].includes(s) ? t(`overview.status.${s}` as MessageKey) : s}
                />
              ),
            },
            { title: t('runs.started_at'), dataIndex: 'started_at', render: (v: string) => formatTime(v) },
            { title: t('runs.finished_at'), dataIndex: 'finished_at', render: (v: string | null) => formatTime(v) },
            {
              title: t('runs.stats'),
              dataIndex: 'stats',
              render: (stats: Record<string, unknown> | null) =>
                stats
                  ? Object.entries(stats)
                      .filter(([, v]) => typeof v !== 'object')
                      .map(([k, v]) => `${k}: ${formatValue(v)}`)
                      .join(' · ')
                  : '—',
            },
            { title: t('common.error'), dataIndex: 'error', render: (e: string | null) => <ErrorText error={e} width={320} /> },
          ]}
        />
      </Card>
    </div>
  );
}
