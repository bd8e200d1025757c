import { DownloadOutlined } from '@ant-design/icons';
import { useMutation } from '@tanstack/react-query';
import { Button, Card, Empty, InputNumber, Space, Typography } from 'antd';
import { useMemo, useState } from 'react';
import { api, unwrap, type Schemas } from '@/api/client';
import { useI18n } from '@/app/i18n';
import { Chart, type ChartOption } from '@/components/Chart';
import { PageHeader } from '@/components/PageHeader';
import { download, toCsv } from '@/lib/format';
import { EventSelect, RangeInput, useEventCatalog, useRange } from './shared';

type Paths = Schemas['PathsRead'];

/** 路径分析: the sessions' paths from (or to) an event as a Sankey chart, with the links as CSV. */
export default function PathsPage() {
  const { t } = useI18n();
  const catalog = useEventCatalog();
  const [range, setRange, dates] = useRange(14);
  const [from, setFrom] = useState<string | null>('$AppStart');
  const [to, setTo] = useState<string | null>(null);
  const [steps, setSteps] = useState(4);
  const run = useMutation({
    mutationFn: () =>
      unwrap(api.POST('/api/v1/analytics/paths', { body: { ...dates, from_event: from, to_event: to, steps, limit: 50 } })),
  });
  return (
    <div data-testid="paths-page">
      <PageHeader title={t('menu.analytics.paths')} />
      <Card size="small" style={{ marginBottom: 16 }}>
        <Space wrap>
          <RangeInput value={range} onChange={setRange} />
          <Typography.Text>{t('an.fromEvent')}</Typography.Text>
          <EventSelect value={from} onChange={(v) => setFrom(v ?? null)} events={catalog.events} allowClear />
          <Typography.Text>{t('an.toEvent')}</Typography.Text>
          <EventSelect value={to} onChange={(v) => setTo(v ?? null)} events={catalog.events} allowClear />
          <Typography.Text>{t('an.pathSteps')}</Typography.Text>
          <InputNumber min={2} max={10} value={steps} onChange={(v) => setSteps(v ?? 4)} />
          <Button type="primary" onClick={() => run.mutate()} loading={run.isPending} data-testid="paths-run">
            {t('an.run')}
          </Button>
        </Space>
      </Card>
      {run.data ? <Sankey data={run.data} /> : <Empty />}
    </div>
  );
}

function Sankey({ data }: { data: Paths }) {
  const { t } = useI18n();
  const option = useMemo<ChartOption>(
    () => ({
      tooltip: { trigger: 'item' },
      series: [
        {
          type: 'sankey',
          left: 24,
          right: 160,
          top: 16,
          bottom: 16,
          emphasis: { focus: 'adjacency' },
          nodeAlign: 'left',
          data: data.nodes.map((n) => ({ name: n.id, value: n.sessions, label: { formatter: `${n.event} (${n.sessions})` } })),
          links: data.links.map((l) => ({ source: l.source, target: l.target, value: l.value })),
          lineStyle: { color: 'gradient', curveness: 0.5 },
        },
      ],
    }),
    [data],
  );
  if (data.nodes.length === 0) return <Empty description={t('an.noData')} />;
  return (
    <Card
      size="small"
      extra={
        <Button size="small" icon={<DownloadOutlined />} onClick={() => download('paths.csv', toCsv(['source', 'target', 'sessions'], data.links.map((l) => [l.source, l.target, l.value])))}>
          {t('common.downloadCsv')}
        </Button>
      }
    >
      <Typography.Paragraph type="secondary">{t('an.sessions')}</Typography.Paragraph>
      <Chart option={option} height={Math.max(360, data.nodes.length * 18)} testId="chart-paths" />
    </Card>
  );
}
