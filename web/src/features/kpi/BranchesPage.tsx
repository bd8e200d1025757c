import { Card, Empty, InputNumber, Select, Space, Table, Typography } from 'antd';
import { useMemo, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { useI18n } from '@/app/i18n';
import { Chart, type ChartOption } from '@/components/Chart';
import { PageHeader } from '@/components/PageHeader';
import { formatCount } from '@/lib/format';
import { useServiceKpis } from './queries';
import { ranked, rankingCsv, SERVICE_COUNTS, SERVICE_RATES, type ServiceCount, type ServiceRate, type ServiceRow } from './series';
import { COUNT_KEYS, RATE_KEYS, serviceColumns } from './columns';
import { CsvButton, PeriodInput, usePeriod } from './shared';

type Kpi = ServiceRate | ServiceCount;
const KPIS: Kpi[] = [...SERVICE_RATES, ...SERVICE_COUNTS];

/** 营业部排名: branches ranked by a chosen service KPI (the service KPIs grouped by branch), best first, the
 * branches without a value for it last; a bar per branch; the ranking as CSV. */
export default function BranchesPage() {
  const { t, locale } = useI18n();
  const period = usePeriod();
  const [search, setSearch] = useSearchParams();
  const by = KPIS.find((k) => k === search.get('kpi')) ?? 'completion_rate';
  const [within, setWithin] = useState(7);
  const kpis = useServiceKpis(period.query, 'branch', within);
  const rows = useMemo(() => ranked(kpis.data?.rows ?? [], by), [kpis.data, by]);
  const isRate = (SERVICE_RATES as string[]).includes(by);
  const label = (k: Kpi) => t((SERVICE_RATES as string[]).includes(k) ? RATE_KEYS[k as ServiceRate] : COUNT_KEYS[k as ServiceCount]);
  const option = useMemo<ChartOption>(() => {
    const shown = [...rows].reverse(); // the best on top of a horizontal bar chart
    const value = (r: ServiceRow) => (r[by] === null || r[by] === undefined ? null : isRate ? Number(r[by]) * 100 : Number(r[by]));
    return {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v: unknown) => (typeof v !== 'number' ? '—' : isRate ? `${v.toFixed(1)}%` : formatCount(v, locale)) },
      grid: { left: 16, right: 48, top: 16, bottom: 24, containLabel: true },
      xAxis: { type: 'value', ...(isRate ? { max: 100, axisLabel: { formatter: '{value}%' } } : { minInterval: 1 }) },
      yAxis: { type: 'category', data: shown.map((r) => (r.group === '-' ? t('kpi.svc.unassigned') : r.group)) },
      series: [
        {
          type: 'bar',
          name: label(by),
          data: shown.map(value),
          itemStyle: { color: '#1f5fbf' },
          label: { show: true, position: 'right', formatter: (p: { value: number | null }) => (p.value === null ? '' : isRate ? `${p.value.toFixed(1)}%` : formatCount(p.value, locale)) },
        },
      ],
    };
  }, [rows, by, isRate, t, locale]);
  const columns = serviceColumns(t, locale, t('kpi.by.branch')).map((c) => ({ ...c, sorter: undefined }));
  return (
    <div data-testid="kpi-branches-page">
      <PageHeader title={t('menu.kpi.branches')} sub={t('kpi.branches.sub')} />
      <Card size="small" style={{ marginBottom: 16 }}>
        <Space wrap>
          <Typography.Text>{t('kpi.rankBy')}</Typography.Text>
          <Select
            value={by}
            style={{ width: 200 }}
            onChange={(v) => {
              const next = new URLSearchParams(search);
              next.set('kpi', v);
              setSearch(next, { replace: true });
            }}
            options={KPIS.map((k) => ({ value: k, label: label(k) }))}
            data-testid="kpi-rank-by"
          />
          <PeriodInput period={period} shown={kpis.data ? [kpis.data.start, kpis.data.end] : null} />
          <Typography.Text>{t('kpi.within')}</Typography.Text>
          <InputNumber min={1} max={90} value={within} onChange={(v) => setWithin(v ?? 7)} suffix={t('kpi.days')} />
        </Space>
      </Card>
      <Card size="small" title={t('kpi.branches.chart', { kpi: label(by) })} style={{ marginBottom: 16 }}>
        {rows.length === 0 ? (
          <Empty description={kpis.isPending ? t('common.loading') : t('kpi.service.none')} />
        ) : (
          <Chart option={option} height={Math.max(160, 36 * rows.length + 40)} testId="chart-branch-ranking" />
        )}
      </Card>
      <Card size="small" title={t('kpi.branches.table')} extra={<CsvButton filename={`branch-ranking-${by}.csv`} table={rankingCsv(rows)} testId="csv-branches" />}>
        <Table
          size="small"
          rowKey="group"
          loading={kpis.isFetching}
          dataSource={rows}
          pagination={false}
          scroll={{ x: 'max-content' }}
          data-testid="kpi-branches-table"
          columns={[{ title: t('kpi.rank'), dataIndex: 'rank', fixed: 'left', render: (v: number | null) => v ?? '—' }, ...columns]}
        />
      </Card>
    </div>
  );
}
