import { useQuery } from '@tanstack/react-query';
import { Alert, Badge, Card, Col, Row, Statistic, Table, Typography } from 'antd';
import { useMemo } from 'react';
import { api, unwrap, type Schemas } from '@/api/client';
import { useI18n } from '@/app/i18n';
import { PageLoading } from '@/app/PageLoading';
import { Chart, type ChartOption } from '@/components/Chart';
import { ErrorText } from '@/components/ErrorText';
import { PageHeader } from '@/components/PageHeader';
import { formatAmount, formatCount, formatTime } from '@/lib/format';
import type { MessageKey } from '@/locales/zh-CN';

type Overview = Schemas['OverviewRead'];
type Freshness = Schemas['FreshnessItem'];

const FAILED = new Set(['failed', 'rejected']);

/** 经营概览: KPI cards, 30-day trends, data freshness and the trading calendar's horizon. */
export default function OverviewPage() {
  const { t } = useI18n();
  const { data } = useQuery({ queryKey: ['overview'], queryFn: () => unwrap(api.GET('/api/v1/overview')) });
  if (!data) return <PageLoading />;
  return (
    <div data-testid="overview-page">
      <PageHeader title={t('overview.title')} sub={t('overview.asOf', { date: data.as_of })} />
      <CalendarNotice calendar={data.calendar} />
      <Figures data={data} />
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={12}>
          <Card title={t('overview.trend.activity')}>
            <ActivityChart trend={data.trend} />
          </Card>
        </Col>
        <Col xs={24} xl={12}>
          <Card title={t('overview.trend.money')}>
            <MoneyChart trend={data.trend} />
          </Card>
        </Col>
        <Col span={24}>
          <FreshnessTable items={data.freshness} />
        </Col>
      </Row>
    </div>
  );
}

function CalendarNotice({ calendar }: { calendar: Overview['calendar'] }) {
  const { t } = useI18n();
  const vars = {
    exchange: calendar.exchange,
    until: calendar.holidays_recorded_until,
    days: calendar.days_left,
    year: calendar.next_year,
  };
  if (calendar.warning) {
    return (
      <Alert
        type="warning"
        showIcon
        title={t('overview.calendar')}
        description={t('overview.calendar.warning', vars)}
        style={{ marginBottom: 16 }}
        data-testid="calendar-warning"
      />
    );
  }
  return (
    <Typography.Paragraph type="secondary">
      {t('overview.calendar')}: {t('overview.calendar.ok', vars)}
      {calendar.next_year_configured && ` · ${t('overview.calendar.configured', vars)}`}
    </Typography.Paragraph>
  );
}

function Figures({ data }: { data: Overview }) {
  const { t, locale } = useI18n();
  const f = data.figures;
  const cards: { title: MessageKey; value: string; hint?: string }[] = [
    { title: 'overview.customers', value: formatCount(f.customers, locale) },
    { title: 'overview.active7d', value: formatCount(f.active_customers_7d, locale) },
    {
      title: 'overview.aum',
      value: formatAmount(f.total_aum, locale),
      hint: f.aum_date ? t('overview.aumDate', { date: f.aum_date }) : undefined,
    },
    { title: 'overview.netInflow30d', value: formatAmount(f.net_inflow_30d, locale) },
    { title: 'overview.eventsToday', value: formatCount(f.events_today, locale) },
    { title: 'overview.liveJourneys', value: formatCount(f.live_journeys, locale) },
    { title: 'overview.openTasks', value: formatCount(f.open_tasks, locale) },
  ];
  return (
    <div className="kpi-grid">
      {cards.map((card) => (
        <Card key={card.title} size="small" data-testid={`kpi-${card.title}`}>
          <Statistic title={t(card.title)} value={card.value} />
          {card.hint && <Typography.Text type="secondary">{card.hint}</Typography.Text>}
        </Card>
      ))}
    </div>
  );
}

function ActivityChart({ trend }: { trend: Overview['trend'] }) {
  const { t } = useI18n();
  const option = useMemo<ChartOption>(
    () => ({
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 56, right: 56, top: 40, bottom: 32 },
      xAxis: { type: 'category', data: trend.map((d) => d.date.slice(5)) },
      yAxis: [
        { type: 'value', name: t('overview.trend.active'), minInterval: 1 },
        { type: 'value', name: t('overview.trend.events'), minInterval: 1 },
      ],
      series: [
        { name: t('overview.trend.active'), type: 'line', data: trend.map((d) => d.active_customers) },
        { name: t('overview.trend.events'), type: 'bar', yAxisIndex: 1, data: trend.map((d) => d.events), barMaxWidth: 16 },
      ],
    }),
    [trend, t],
  );
  return <Chart option={option} testId="chart-activity" />;
}

function MoneyChart({ trend }: { trend: Overview['trend'] }) {
  const { t, locale } = useI18n();
  const option = useMemo<ChartOption>(() => {
    const unit = locale === 'zh-CN' ? '万元' : 'K CNY';
    const scale = locale === 'zh-CN' ? 1e4 : 1e3;
    const scaled = (v: number | null) => (v === null ? null : Math.round((v / scale) * 100) / 100);
    return {
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 72, right: 72, top: 40, bottom: 32 },
      xAxis: { type: 'category', data: trend.map((d) => d.date.slice(5)) },
      yAxis: [
        { type: 'value', name: `${t('overview.trend.assets')} (${unit})`, scale: true },
        { type: 'value', name: `${t('overview.trend.inflow')} (${unit})` },
      ],
      series: [
        { name: t('overview.trend.assets'), type: 'line', data: trend.map((d) => scaled(d.total_assets)), connectNulls: false },
        { name: t('overview.trend.inflow'), type: 'bar', yAxisIndex: 1, data: trend.map((d) => scaled(d.net_inflow)), barMaxWidth: 16 },
      ],
    };
  }, [trend, t, locale]);
  return <Chart option={option} testId="chart-money" />;
}

function FreshnessTable({ items }: { items: Freshness[] }) {
  const { t } = useI18n();
  const statusText = (status: string) => {
    const key = `overview.status.${status}` as MessageKey;
    return key in STATUS_KEYS ? t(key) : status;
  };
  return (
    <Card title={t('overview.freshness')}>
      <Table<Freshness>
        size="small"
        rowKey={(r) => `${r.kind}:${r.name}`}
        dataSource={items}
        pagination={false}
        data-testid="freshness-table"
        columns={[
          { title: t('overview.freshness.kind'), dataIndex: 'kind', render: (k: Freshness['kind']) => t(`overview.kind.${k}`) },
          { title: t('common.name'), dataIndex: 'name' },
          {
            title: t('common.status'),
            dataIndex: 'status',
            render: (status: string) => (
              <Badge status={FAILED.has(status) ? 'error' : status === 'never' ? 'default' : 'success'} text={statusText(status)} />
            ),
          },
          { title: t('overview.freshness.at'), dataIndex: 'at', render: (at: string | null) => formatTime(at) },
          { title: t('common.error'), dataIndex: 'error', render: (e: string | null) => <ErrorText error={e} width={420} /> },
        ]}
      />
    </Card>
  );
}

const STATUS_KEYS: Record<string, true> = Object.fromEntries(
  ['imported', 'imported_with_rejects', 'rejected', 'failed', 'succeeded', 'running', 'never', 'superseded'].map((s) => [
    `overview.status.${s}`,
    true,
  ]),
);
