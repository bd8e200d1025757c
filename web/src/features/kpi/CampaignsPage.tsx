import { Card, Empty, Space, Table, Typography } from 'antd';
import type { ColumnType } from 'antd/es/table';
import { useMemo } from 'react';
import { Link } from 'react-router-dom';
import { useI18n } from '@/app/i18n';
import { Chart } from '@/components/Chart';
import { PageHeader } from '@/components/PageHeader';
import { StatusBadge } from '@/features/journeys/status';
import { formatCount, formatMoney, formatPercent, formatPoints } from '@/lib/format';
import type { MessageKey } from '@/locales/zh-CN';
import { upliftChart } from './charts';
import { useCampaignKpis } from './queries';
import { campaignsCsv, upliftIntervals, type CampaignRow } from './series';
import { CsvButton, PeriodInput, usePeriod } from './shared';

type Kind = 'count' | 'rate' | 'points' | 'money';
type Getter = (r: CampaignRow) => number | null | undefined;

const COLUMNS: [MessageKey, Getter, Kind][] = [
  ['kpi.col.entered', (r) => r.entered, 'count'],
  ['kpi.col.holdoutEntered', (r) => r.holdout_entered, 'count'],
  ['kpi.col.targeted', (r) => r.targeted, 'count'],
  ['kpi.col.suppressed', (r) => r.suppressed, 'count'],
  ['kpi.col.suppressionRate', (r) => r.suppression_rate, 'rate'],
  ['kpi.col.sent', (r) => r.sent, 'count'],
  ['kpi.col.delivered', (r) => r.delivered, 'count'],
  ['kpi.col.reachRate', (r) => r.reach_rate, 'rate'],
  ['kpi.col.openRate', (r) => r.open_rate, 'rate'],
  ['kpi.col.clickRate', (r) => r.click_rate, 'rate'],
  ['kpi.col.conversionRate', (r) => r.conversion_rate, 'rate'],
  ['kpi.col.deliveredConversion', (r) => r.delivered_conversion_rate, 'rate'],
  ['kpi.col.holdoutRate', (r) => r.uplift.holdout_rate, 'rate'],
  ['kpi.col.uplift', (r) => r.uplift.absolute, 'points'],
  ['kpi.col.aumUplift', (r) => r.aum_uplift, 'money'],
  ['kpi.col.inflowUplift', (r) => r.net_inflow_uplift, 'money'],
];

/** Sort with missing values last in either direction (antd reverses the comparator for descending). */
function compare(get: Getter) {
  return (a: CampaignRow, b: CampaignRow, order?: 'ascend' | 'descend' | null) => {
    const va = get(a);
    const vb = get(b);
    const missing = order === 'descend' ? -Infinity : Infinity;
    return (va ?? missing) - (vb ?? missing);
  };
}

/** 活动效果: each journey running or entered in the period with its campaign KPIs (DOMAIN.md §5.1), sortable;
 * the conversion uplift of each against its hold-out with the 95 % interval as an error bar; the table as CSV. */
export default function CampaignsPage() {
  const { t, locale } = useI18n();
  const period = usePeriod();
  const kpis = useCampaignKpis(period.query);
  const rows = useMemo(() => kpis.data?.rows ?? [], [kpis.data]);
  const pp = t('report.pp');
  // Only journeys with an uplift are drawn: one without a hold-out in the period has none (not a zero bar).
  const measured = useMemo(() => rows.filter((r) => r.uplift.absolute !== null && r.uplift.absolute !== undefined), [rows]);
  const option = useMemo(
    () => upliftChart(upliftIntervals(measured), { uplift: t('kpi.col.uplift'), interval: t('report.ci'), unit: pp }),
    [measured, t, pp],
  );
  const show = (v: number | null | undefined, kind: Kind) =>
    kind === 'rate' ? formatPercent(v) : kind === 'points' ? formatPoints(v, pp) : kind === 'money' ? formatMoney(v, locale) : formatCount(v, locale);
  const columns: ColumnType<CampaignRow>[] = [
    {
      title: t('kpi.col.journey'),
      fixed: 'left',
      sorter: (a, b) => (a.title || a.name).localeCompare(b.title || b.name),
      render: (_, r) => (
        <Space orientation="vertical" size={0}>
          <Link to={`/journeys/${r.name}/report${kpis.data ? `?from=${kpis.data.start}&to=${kpis.data.end}` : ''}`}>{r.title || r.name}</Link>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {r.goal_event ? t('kpi.goalWithin', { goal: r.goal_event, window: r.window }) : t('kpi.noGoal')}
          </Typography.Text>
        </Space>
      ),
    },
    { title: t('common.status'), render: (_, r) => <StatusBadge status={r.status} /> },
    ...COLUMNS.map(([title, get, kind]) => ({
      title: t(title),
      align: 'right' as const,
      sorter: compare(get),
      render: (_: unknown, r: CampaignRow) =>
        kind === 'points' ? (
          <Space orientation="vertical" size={0}>
            <span>{show(get(r), kind)}</span>
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              [{formatPoints(r.uplift.ci_low, pp)}, {formatPoints(r.uplift.ci_high, pp)}]
            </Typography.Text>
          </Space>
        ) : (
          show(get(r), kind)
        ),
    })),
  ];
  const total = kpis.data?.total;
  return (
    <div data-testid="kpi-campaigns-page">
      <PageHeader
        title={t('menu.kpi.campaigns')}
        sub={t('kpi.campaigns.sub')}
        extra={<PeriodInput period={period} shown={kpis.data ? [kpis.data.start, kpis.data.end] : null} />}
      />
      <Card size="small" title={t('kpi.campaigns.chart')} style={{ marginBottom: 16 }}>
        {measured.length === 0 ? (
          <Empty description={kpis.isPending ? t('common.loading') : rows.length ? t('kpi.campaigns.noUplift') : t('kpi.campaigns.none')} />
        ) : (
          <>
            <Chart option={option} height={320} testId="chart-campaign-uplift" />
            <Typography.Text type="secondary">
              {t('kpi.campaigns.chartHint')}
              {rows.length > measured.length && ` ${t('kpi.campaigns.notDrawn', { n: rows.length - measured.length })}`}
            </Typography.Text>
          </>
        )}
      </Card>
      <Card
        size="small"
        title={t('kpi.campaigns.table')}
        extra={<CsvButton filename={`campaigns-${kpis.data?.start ?? ''}-${kpis.data?.end ?? ''}.csv`} table={campaignsCsv(rows)} testId="csv-campaigns" />}
      >
        <Table
          size="small"
          rowKey="name"
          loading={kpis.isFetching}
          dataSource={rows}
          columns={columns}
          pagination={false}
          scroll={{ x: 'max-content' }}
          data-testid="kpi-campaigns-table"
          summary={() =>
            total && rows.length > 0 ? (
              <Table.Summary.Row data-testid="kpi-campaigns-total">
                <Table.Summary.Cell index={0}>{t('kpi.total', { n: total.journeys })}</Table.Summary.Cell>
                <Table.Summary.Cell index={1} />
                {(
                  [
                    [total.entered, 'count'], [total.holdout_entered, 'count'], [total.targeted, 'count'], [total.suppressed, 'count'],
                    [total.suppression_rate, 'rate'], [total.sent, 'count'], [total.delivered, 'count'], [total.reach_rate, 'rate'], [total.open_rate, 'rate'],
                    [total.click_rate, 'rate'],
                  ] as [number | null | undefined, Kind][]
                ).map(([v, kind], i) => (
                  <Table.Summary.Cell key={i} index={i + 2} align="right">
                    {show(v, kind)}
                  </Table.Summary.Cell>
                ))}
                <Table.Summary.Cell index={12} colSpan={6}>
                  <Typography.Text type="secondary">{t('kpi.campaigns.noPooled')}</Typography.Text>
                </Table.Summary.Cell>
              </Table.Summary.Row>
            ) : null
          }
        />
      </Card>
    </div>
  );
}
