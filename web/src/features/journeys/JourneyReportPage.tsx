import { Alert, Card, Col, Descriptions, Empty, Row, Space, Statistic, Table, Tag, Typography } from 'antd';
import { useMemo } from 'react';
import { Link, useParams } from 'react-router-dom';
import { useMe } from '@/app/auth';
import { useI18n } from '@/app/i18n';
import { Chart, type ChartOption } from '@/components/Chart';
import { PageHeader } from '@/components/PageHeader';
import { errorBarSeries, ZERO_LINE } from '@/features/kpi/charts';
import { useJourneyReport } from '@/features/kpi/queries';
import {
  byDayCsv, dailyConversion, ENTERED, GOAL, groupRows, groupsCsv, nodeFunnel, nodesCsv, ratio, verdict,
  type JourneyReport, type ReportGroup,
} from '@/features/kpi/series';
import { CsvButton, PeriodInput, usePeriod } from '@/features/kpi/shared';
import { formatCount, formatMoney, formatPercent, formatPoints } from '@/lib/format';
import type { MessageKey } from '@/locales/zh-CN';
import { useJourney, useJourneys } from './queries';

/** 效果报告: a journey's measured outcome over a period of entry days — the uplift of goal conversion against
 * the hold-out with its 95 % interval and what it means, the funnel by node of treated and hold-out, each group
 * and A/B variant, conversion by day of entry; each table as CSV. */
export default function JourneyReportPage() {
  const { name = '' } = useParams();
  const { t } = useI18n();
  const me = useMe(); // the canvas is not a page of scoped callers' (it opens to unscoped ones only)
  const period = usePeriod();
  const report = useJourneyReport(name, period.query);
  const summary = useJourneys().data?.find((j) => j.name === name);
  const definition = useJourney(name);
  const titles = useMemo(() => {
    const nodes = ((definition.data as { nodes?: { id: string; title?: string }[] } | undefined)?.nodes ?? []);
    return new Map(nodes.map((n) => [n.id, n.title || n.id]));
  }, [definition.data]);
  const data = report.data;
  return (
    <div data-testid="journey-report-page">
      <PageHeader
        title={`${t('journey.report')} · ${summary?.title ?? name}`}
        sub={data ? t('report.sub', { goal: data.goal_event ?? '—', window: data.window }) : undefined}
        extra={
          <>
            <PeriodInput period={period} placeholder={[t('report.allRuns'), t('report.allRuns')]} />
            <Link to={`/journeys/${name}/live`}>{t('journey.live')}</Link>
            {!me.scoped && <Link to={`/journeys/${name}/edit`}>{t('journey.edit')}</Link>}
          </>
        }
      />
      {report.error && <Alert type="error" showIcon title={report.error.message} />}
      {data && <Report data={data} titles={titles} name={name} />}
      {!data && !report.error && <Card loading />}
    </div>
  );
}

function Report({ data, titles, name }: { data: JourneyReport; titles: Map<string, string>; name: string }) {
  const { t, locale } = useI18n();
  const treated = data.groups.treated;
  const holdout = data.groups.holdout;
  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      <Row gutter={16}>
        {(
          [
            ['report.treatedEntered', formatCount(treated?.entered ?? 0, locale)],
            ['report.holdoutEntered', formatCount(holdout?.entered ?? 0, locale)],
            ['report.treatedRate', formatPercent(data.uplift.treated_rate)],
            ['report.holdoutRate', formatPercent(data.uplift.holdout_rate)],
          ] as [MessageKey, string][]
        ).map(([key, value]) => (
          <Col key={key} xs={12} md={6}>
            <Card size="small">
              <Statistic title={t(key)} value={value} data-testid={`report-${key.split('.')[1]}`} />
            </Card>
          </Col>
        ))}
      </Row>
      <UpliftCard data={data} />
      <NodeFunnelCard data={data} titles={titles} name={name} />
      <GroupsCard data={data} name={name} />
      <ByDayCard data={data} name={name} />
    </Space>
  );
}

/** The uplift with its interval drawn as an interval around zero, the p-value and a sentence saying what it means. */
function UpliftCard({ data }: { data: JourneyReport }) {
  const { t, locale } = useI18n();
  const uplift = data.uplift;
  const pp = t('report.pp');
  const judged = verdict(uplift);
  const intervals = useMemo(
    () => ({
      labels: [t('report.uplift')],
      estimate: [uplift.absolute === null || uplift.absolute === undefined ? null : uplift.absolute * 100],
      low: [uplift.ci_low === null || uplift.ci_low === undefined ? null : uplift.ci_low * 100],
      high: [uplift.ci_high === null || uplift.ci_high === undefined ? null : uplift.ci_high * 100],
    }),
    [uplift, t],
  );
  const option = useMemo<ChartOption>(
    () => ({
      grid: { left: 16, right: 32, top: 16, bottom: 40, containLabel: true },
      tooltip: { trigger: 'item' },
      xAxis: { type: 'value', name: pp, nameLocation: 'middle', nameGap: 28, axisLabel: { formatter: (v: number) => `${v}` } },
      yAxis: { type: 'category', data: intervals.labels, axisLabel: { show: false }, axisTick: { show: false } },
      series: [
        errorBarSeries(intervals, t('report.ci'), true),
        {
          type: 'scatter',
          name: t('report.uplift'),
          symbolSize: 12,
          itemStyle: { color: judged === 'down' ? '#d4380d' : '#1f5fbf' },
          data: intervals.estimate[0] === null ? [] : [[intervals.estimate[0], 0]],
          markLine: { ...ZERO_LINE, data: [{ xAxis: 0 }] },
          tooltip: { formatter: () => `${t('report.uplift')}: ${formatPoints(uplift.absolute, pp)}` },
        },
      ],
    }),
    [intervals, judged, pp, t, uplift.absolute],
  );
  const sentence =
    judged === 'none'
      ? t('report.verdict.none')
      : t(`report.verdict.${judged}`, {
          p: uplift.p_value === null || uplift.p_value === undefined ? '—' : formatP(uplift.p_value),
          low: formatPoints(uplift.ci_low, pp),
          high: formatPoints(uplift.ci_high, pp),
        });
  return (
    <Card size="small" title={t('report.upliftTitle')} data-testid="report-uplift">
      <Row gutter={16}>
        <Col xs={24} lg={10}>
          <Descriptions size="small" column={1} bordered>
            <Descriptions.Item label={t('report.uplift')}>
              <span data-testid="uplift-absolute">{formatPoints(uplift.absolute, pp)}</span>
            </Descriptions.Item>
            <Descriptions.Item label={t('report.relative')}>
              <span data-testid="uplift-relative">{formatPercent(uplift.relative)}</span>
            </Descriptions.Item>
            <Descriptions.Item label={t('report.ci')}>
              <span data-testid="uplift-ci">
                [{formatPoints(uplift.ci_low, pp)}, {formatPoints(uplift.ci_high, pp)}]
              </span>
            </Descriptions.Item>
            <Descriptions.Item label={t('report.pValue')}>
              <span data-testid="uplift-p">{uplift.p_value === null || uplift.p_value === undefined ? '—' : formatP(uplift.p_value)}</span>
            </Descriptions.Item>
            <Descriptions.Item label={t('report.aumUplift')}>
              <span data-testid="uplift-aum">{formatMoney(data.aum_uplift, locale)}</span>
            </Descriptions.Item>
            <Descriptions.Item label={t('report.inflowUplift')}>
              <span data-testid="uplift-inflow">{formatMoney(data.net_inflow_uplift, locale)}</span>
            </Descriptions.Item>
          </Descriptions>
        </Col>
        <Col xs={24} lg={14}>
          <Alert
            type={judged === 'up' ? 'success' : judged === 'down' ? 'error' : judged === 'flat' ? 'warning' : 'info'}
            showIcon
            title={sentence}
            data-testid="uplift-verdict"
            style={{ marginBottom: 8 }}
          />
          {judged === 'none' ? <Empty description={t('report.noHoldout')} /> : <Chart option={option} height={140} testId="chart-uplift" />}
          <Typography.Text type="secondary">{t('report.ciHint')}</Typography.Text>
        </Col>
      </Row>
    </Card>
  );
}

function formatP(p: number): string {
  return p < 0.001 ? '< 0.001' : p.toFixed(3);
}

function NodeFunnelCard({ data, titles, name }: { data: JourneyReport; titles: Map<string, string>; name: string }) {
  const { t, locale } = useI18n();
  const funnel = useMemo(() => nodeFunnel(data), [data]);
  const label = (s: string) => (s === ENTERED ? t('report.entered') : s === GOAL ? t('report.goal') : (titles.get(s) ?? s));
  const option = useMemo<ChartOption>(() => {
    const percent = (values: (number | null)[]) => values.map((v) => (v === null ? null : Math.round(v * 1000) / 10));
    const counts = [funnel.treatedCounts, funnel.holdoutCounts];
    return {
      tooltip: {
        trigger: 'axis',
        axisPointer: { type: 'shadow' },
        formatter: (items: { seriesIndex: number; dataIndex: number; seriesName: string; value: number | null }[]) =>
          [label(funnel.steps[items[0]?.dataIndex ?? 0] ?? ''), ...items.map((p) =>
            `${p.seriesName}: ${p.value === null || p.value === undefined ? '—' : `${p.value}%`} (${formatCount(counts[p.seriesIndex]?.[p.dataIndex] ?? 0, locale)})`,
          )].join('<br/>'),
      },
      legend: { top: 0 },
      grid: { left: 56, right: 24, top: 40, bottom: 56 },
      xAxis: { type: 'category', data: funnel.steps.map(label), axisLabel: { interval: 0, rotate: funnel.steps.length > 6 ? 30 : 0, width: 110, overflow: 'truncate' } },
      yAxis: { type: 'value', name: t('report.shareOfEntered'), max: 100, axisLabel: { formatter: '{value}%' } },
      series: [
        { type: 'bar', name: t('report.treated'), data: percent(funnel.treated), itemStyle: { color: '#1f5fbf' } },
        { type: 'bar', name: t('report.holdout'), data: percent(funnel.holdout), itemStyle: { color: '#bfbfbf' } },
      ],
    };
  }, [funnel, t, titles, locale]);
  return (
    <Card size="small" title={t('report.funnel')} extra={<CsvButton filename={`${name}-nodes.csv`} table={nodesCsv(funnel)} testId="csv-nodes" />}>
      <Chart option={option} testId="chart-report-funnel" />
    </Card>
  );
}

const GROUP_COLUMNS: [keyof ReportGroup, MessageKey, 'count' | 'rate' | 'money'][] = [
  ['entered', 'report.col.entered', 'count'],
  ['targeted', 'report.col.targeted', 'count'],
  ['suppression_rate', 'kpi.col.suppressionRate', 'rate'],
  ['sent', 'kpi.col.sent', 'count'],
  ['delivered', 'report.col.delivered', 'count'],
  ['reach_rate', 'kpi.col.reachRate', 'rate'],
  ['open_rate', 'kpi.col.openRate', 'rate'],
  ['click_rate', 'kpi.col.clickRate', 'rate'],
  ['goal', 'report.col.goal', 'count'],
  ['conversion_rate', 'kpi.col.conversionRate', 'rate'],
  ['delivered_conversion_rate', 'kpi.col.deliveredConversion', 'rate'],
  ['aum_change_per_customer', 'report.col.aum', 'money'],
  ['net_inflow_per_customer', 'report.col.inflow', 'money'],
];

function GroupsCard({ data, name }: { data: JourneyReport; name: string }) {
  const { t, locale } = useI18n();
  const rows = groupRows(data);
  const groupLabel = (key: string) => {
    if (key === 'treated') return <Tag color="blue">{t('report.treated')}</Tag>;
    if (key === 'holdout') return <Tag>{t('report.holdout')}</Tag>;
    const [node, variant] = key.split(':');
    return t('report.variant', { node: node ?? key, variant: variant ?? '' });
  };
  return (
    <Card size="small" title={t('report.groups')} extra={<CsvButton filename={`${name}-groups.csv`} table={groupsCsv(data)} testId="csv-groups" />}>
      <Table
        size="small"
        rowKey={([key]) => key}
        pagination={false}
        dataSource={rows}
        scroll={{ x: 'max-content' }}
        data-testid="report-groups"
        columns={[
          { title: t('report.col.group'), fixed: 'left', render: (_, [key]) => groupLabel(key) },
          ...GROUP_COLUMNS.map(([key, title, kind]) => ({
            title: t(title),
            align: 'right' as const,
            render: (_: unknown, [, g]: [string, ReportGroup]) => {
              const v = g[key] as number | null | undefined;
              return kind === 'rate' ? formatPercent(v) : kind === 'money' ? formatMoney(v, locale) : formatCount(v, locale);
            },
          })),
        ]}
      />
    </Card>
  );
}

function ByDayCard({ data, name }: { data: JourneyReport; name: string }) {
  const { t, locale } = useI18n();
  const daily = useMemo(() => dailyConversion(data.by_day), [data.by_day]);
  const option = useMemo<ChartOption>(() => {
    const percent = (values: (number | null)[]) => values.map((v) => (v === null ? null : Math.round(v * 1000) / 10));
    return {
      tooltip: { trigger: 'axis', valueFormatter: (v: unknown) => (v === null || v === undefined || v === '-' ? '—' : `${String(v)}%`) },
      legend: { top: 0 },
      grid: { left: 56, right: 24, top: 40, bottom: 40 },
      xAxis: { type: 'category', data: daily.days },
      yAxis: { type: 'value', name: t('kpi.col.conversionRate'), axisLabel: { formatter: '{value}%' } },
      series: [
        { type: 'line', name: t('report.treated'), data: percent(daily.treated), connectNulls: false, showSymbol: true, itemStyle: { color: '#1f5fbf' } },
        { type: 'line', name: t('report.holdout'), data: percent(daily.holdout), connectNulls: false, showSymbol: true, itemStyle: { color: '#8c8c8c' }, lineStyle: { type: 'dashed' } },
      ],
    };
  }, [daily, t]);
  return (
    <Card size="small" title={t('report.byDay')} extra={<CsvButton filename={`${name}-by-day.csv`} table={byDayCsv(data)} testId="csv-by-day" />}>
      {data.by_day.length === 0 ? (
        <Empty description={t('report.noRuns')} />
      ) : (
        <>
          <Chart option={option} testId="chart-report-by-day" />
          <Table
            size="small"
            rowKey="day"
            dataSource={data.by_day}
            pagination={{ pageSize: 10, hideOnSinglePage: true }}
            data-testid="report-by-day"
            columns={[
              { title: t('common.date'), dataIndex: 'day' },
              { title: t('report.col.treatedEntered'), dataIndex: 'treated_entered', align: 'right', render: (v: number) => formatCount(v, locale) },
              { title: t('report.col.treatedConverted'), dataIndex: 'treated_converted', align: 'right', render: (v: number) => formatCount(v, locale) },
              { title: t('report.col.treatedRate'), align: 'right', render: (_, d) => formatPercent(ratio(d.treated_converted, d.treated_entered)) },
              { title: t('report.col.holdoutEntered'), dataIndex: 'holdout_entered', align: 'right', render: (v: number) => formatCount(v, locale) },
              { title: t('report.col.holdoutConverted'), dataIndex: 'holdout_converted', align: 'right', render: (v: number) => formatCount(v, locale) },
              { title: t('report.col.holdoutRate'), align: 'right', render: (_, d) => formatPercent(ratio(d.holdout_converted, d.holdout_entered)) },
            ]}
          />
        </>
      )}
    </Card>
  );
}

