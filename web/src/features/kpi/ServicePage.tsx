import { Card, Empty, InputNumber, Segmented, Space, Table, Typography } from 'antd';
import { useMemo, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { useI18n } from '@/app/i18n';
import { Chart, type ChartOption } from '@/components/Chart';
import { PageHeader } from '@/components/PageHeader';
import { formatCount, formatPercent } from '@/lib/format';
import { useServiceKpis } from './queries';
import { groupLabel, RATE_KEYS, serviceColumns } from './columns';
import { inNaturalOrder, rateSeries, SERVICE_COUNTS, SERVICE_RATES, serviceCsv, type ServiceRate, type ServiceRow } from './series';
import { CsvButton, PeriodInput, usePeriod } from './shared';

const CHARTED: ServiceRate[] = ['completion_rate', 'on_time_rate', 'conversion_rate'];
const COLORS: Record<string, string> = { completion_rate: '#1f5fbf', on_time_rate: '#52c41a', conversion_rate: '#fa8c16' };
const TOP = 15; // groups drawn at once; a zoom bar slides through the rest (CONSOLE.md §6)

/** 服务考核: the service-process KPIs (DOMAIN.md §5.2) by advisor, by branch or by MOT rule (firings → tasks →
 * completion → conversion), over a period and a conversion window; the completion, on-time and conversion
 * rates as bars; the table with its total as CSV. */
export default function ServicePage() {
  const { t, locale } = useI18n();
  const period = usePeriod();
  const [search, setSearch] = useSearchParams();
  const groupBy = (['advisor', 'branch', 'rule'] as const).find((g) => g === search.get('by')) ?? 'advisor';
  const [within, setWithin] = useState(7);
  const kpis = useServiceKpis(period.query, groupBy, within);
  const rows = useMemo(() => inNaturalOrder(kpis.data?.rows ?? []), [kpis.data]);
  const option = useMemo<ChartOption>(() => {
    const shaped = rateSeries(rows, CHARTED);
    return {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v: unknown) => (typeof v === 'number' ? `${v.toFixed(1)}%` : '—') },
      legend: { top: 0 },
      grid: { left: 56, right: 24, top: 40, bottom: shaped.groups.length > TOP ? 88 : 64 },
      xAxis: { type: 'category', data: shaped.groups.map((g) => groupLabel(t, g)), axisLabel: { interval: 0, rotate: shaped.groups.length > 8 ? 30 : 0, width: 110, overflow: 'truncate' } },
      yAxis: { type: 'value', max: 100, axisLabel: { formatter: '{value}%' } },
      dataZoom: shaped.groups.length > TOP ? [{ type: 'slider', startValue: 0, endValue: TOP - 1, bottom: 8 }] : [],
      series: CHARTED.map((k) => ({ type: 'bar', name: t(RATE_KEYS[k]), data: shaped.series[k], itemStyle: { color: COLORS[k] } })),
    };
  }, [rows, t]);
  const groupTitle = t(`kpi.by.${groupBy}`);
  const total = kpis.data?.total ?? null;
  return (
    <div data-testid="kpi-service-page">
      <PageHeader title={t('menu.kpi.service')} sub={t('kpi.service.sub')} />
      <Card size="small" style={{ marginBottom: 16 }}>
        <Space wrap>
          <Segmented
            value={groupBy}
            onChange={(v) => {
              const next = new URLSearchParams(search);
              next.set('by', String(v));
              setSearch(next, { replace: true });
            }}
            options={(['advisor', 'branch', 'rule'] as const).map((g) => ({ value: g, label: t(`kpi.by.${g}`) }))}
            data-testid="kpi-service-by"
          />
          <PeriodInput period={period} shown={kpis.data ? [kpis.data.start, kpis.data.end] : null} />
          <Typography.Text>{t('kpi.within')}</Typography.Text>
          <InputNumber min={1} max={90} value={within} onChange={(v) => setWithin(v ?? 7)} suffix={t('kpi.days')} data-testid="kpi-within" />
        </Space>
        <Typography.Paragraph type="secondary" style={{ margin: '8px 0 0' }}>
          {t('kpi.service.hint')}
        </Typography.Paragraph>
      </Card>
      <Card size="small" title={t('kpi.service.chart', { by: groupTitle })} style={{ marginBottom: 16 }}>
        {rows.length === 0 ? <Empty description={kpis.isPending ? t('common.loading') : t('kpi.service.none')} /> : <Chart option={option} height={340} testId="chart-service-rates" />}
      </Card>
      <Card
        size="small"
        title={t('kpi.service.table')}
        extra={<CsvButton filename={`service-kpis-${groupBy}-${kpis.data?.start ?? ''}-${kpis.data?.end ?? ''}.csv`} table={serviceCsv(rows, total, groupBy)} testId="csv-service" />}
      >
        <Table
          size="small"
          rowKey="group"
          loading={kpis.isFetching}
          dataSource={rows}
          columns={serviceColumns(t, locale, groupTitle)}
          pagination={{ pageSize: 50, hideOnSinglePage: true }}
          scroll={{ x: 'max-content' }}
          data-testid="kpi-service-table"
          summary={() => (total && rows.length > 0 ? <TotalRow total={total} /> : null)}
        />
      </Card>
    </div>
  );
}

function TotalRow({ total }: { total: ServiceRow }) {
  const { t, locale } = useI18n();
  return (
    <Table.Summary.Row data-testid="kpi-service-total">
      <Table.Summary.Cell index={0}>
        <Typography.Text strong>{t('kpi.totalRow')}</Typography.Text>
      </Table.Summary.Cell>
      {SERVICE_COUNTS.map((k, i) => (
        <Table.Summary.Cell key={k} index={i + 1} align="right">
          {formatCount(total[k], locale)}
        </Table.Summary.Cell>
      ))}
      {SERVICE_RATES.map((k, i) => (
        <Table.Summary.Cell key={k} index={i + 1 + SERVICE_COUNTS.length} align="right">
          {formatPercent(total[k])}
        </Table.Summary.Cell>
      ))}
    </Table.Summary.Row>
  );
}
