import { DownloadOutlined } from '@ant-design/icons';
import { useMutation } from '@tanstack/react-query';
import { Button, Card, Checkbox, Empty, Input, Select, Space, Statistic, Table, Typography } from 'antd';
import { useCallback, useMemo, useState } from 'react';
import { api, unwrap, type Schemas } from '@/api/client';
import { useI18n } from '@/app/i18n';
import { Chart, type ChartOption } from '@/components/Chart';
import { PageHeader } from '@/components/PageHeader';
import { Filters } from '@/features/segments/RuleBuilder';
import { download, formatCount, toCsv } from '@/lib/format';
import type { MessageKey } from '@/locales/zh-CN';
import { EventSelect, RangeInput, useEventCatalog, useRange, type Filter } from './shared';
import { alignTrend, trendTable, type Figures, type TrendLike } from './trendAlign';

type Trend = Schemas['TrendRead'];
type Measure = 'count' | 'customers' | 'per_customer';

/** 事件分析: an event's daily (weekly, monthly) count, customers or count per customer, filtered by properties,
 * grouped by a property, tag or attribute, against the previous period (each group's previous period drawn
 * dashed beside it, by the offset from each period's start; the totals' relative change); the figures as CSV. */
export default function EventsPage() {
  const { t } = useI18n();
  const catalog = useEventCatalog();
  const [range, setRange, dates] = useRange(30);
  const [event, setEvent] = useState<string>('login');
  const [unit, setUnit] = useState<'day' | 'week' | 'month'>('day');
  const [by, setBy] = useState('');
  const [where, setWhere] = useState<Filter[]>([]);
  const [compare, setCompare] = useState(false);
  const [measure, setMeasure] = useState<Measure>('count');
  const run = useMutation({
    mutationFn: () => {
      const days = range[1].diff(range[0], 'day') + 1;
      const compareFrom = range[0].subtract(days, 'day').format('YYYY-MM-DD');
      return unwrap(
        api.POST('/api/v1/analytics/events', {
          body: { event, ...dates, unit, where, by: by || null, top: 10, compare_from: compare ? compareFrom : null } as never,
        }),
      );
    },
  });
  return (
    <div data-testid="events-page">
      <PageHeader title={t('menu.analytics.events')} />
      <Card size="small" style={{ marginBottom: 16 }}>
        <Space wrap>
          <RangeInput value={range} onChange={setRange} />
          <EventSelect value={event} onChange={setEvent} events={catalog.events} testId="events-event" />
          <Select value={unit} style={{ width: 100 }} onChange={setUnit} options={(['day', 'week', 'month'] as const).map((u) => ({ value: u, label: t(`an.unit.${u}`) }))} />
          <Input value={by} placeholder={t('an.by.hint')} style={{ width: 260 }} onChange={(e) => setBy(e.target.value.trim())} data-testid="events-by" />
          <Checkbox checked={compare} onChange={(e) => setCompare(e.target.checked)} data-testid="events-compare">
            {t('an.compare')}
          </Checkbox>
          <Button type="primary" onClick={() => run.mutate()} loading={run.isPending} data-testid="events-run">
            {t('an.run')}
          </Button>
        </Space>
        <Filters event={event} where={where as never} onChange={(w) => setWhere(w as never)} catalog={catalog} />
      </Card>
      {run.data ? <TrendView data={run.data} measure={measure} setMeasure={setMeasure} /> : <Empty />}
    </div>
  );
}

// ECharts' default palette: a group's previous period is drawn dashed in the group's own colour.
const PALETTE = ['#5470c6', '#91cc75', '#fac858', '#ee6666', '#73c0de', '#3ba272', '#fc8452', '#9a60b4', '#ea7ccc'];

type TableRow = { key: string; date: string; group: string; current: Figures; previousDate: string | null; previous: Figures | null };

function TrendView({ data, measure, setMeasure }: { data: Trend; measure: Measure; setMeasure: (m: Measure) => void }) {
  const { t, locale } = useI18n();
  const aligned = useMemo(() => alignTrend(data as TrendLike), [data]);
  const groupName = useCallback((g: string | null) => g ?? t('an.total'), [t]);
  const option = useMemo<ChartOption>(() => {
    const previousName = (g: string | null) => `${groupName(g)} · ${t('an.compare.previous')}`;
    const series: object[] = [];
    aligned.series.forEach((s, i) => {
      const color = PALETTE[i % PALETTE.length];
      series.push({
        name: groupName(s.group),
        type: 'line',
        color,
        data: s.points.map((p) => p.current[measure]),
      });
      if (aligned.compared) {
        series.push({
          name: previousName(s.group),
          type: 'line',
          color,
          lineStyle: { type: 'dashed', opacity: 0.7 },
          itemStyle: { opacity: 0.7 },
          // Each point keeps the previous period's date for the tooltip.
          data: s.points.map((p) => ({ value: p.previous ? p.previous[measure] : null, previousDate: p.previousDate })),
        });
      }
    });
    const unitName = t(measure === 'count' ? 'common.times' : measure === 'customers' ? 'common.people' : 'an.measure.per');
    return {
      tooltip: {
        trigger: 'axis',
        formatter: (params: unknown) => {
          const items = params as { axisValueLabel: string; marker: string; seriesName: string; value: unknown; data: unknown }[];
          const lines = items.map((p) => {
            const previous = (p.data as { previousDate?: string | null } | null)?.previousDate;
            const value = typeof p.value === 'number' ? p.value.toLocaleString(locale) : '—';
            return `${p.marker}${escapeHtml(p.seriesName)}${previous ? ` (${previous})` : ''}: <b>${value}</b>`;
          });
          return [escapeHtml(items[0]?.axisValueLabel ?? ''), ...lines].join('<br/>');
        },
      },
      legend: { top: 0, type: 'scroll' },
      grid: { left: 56, right: 24, top: 40, bottom: 56 },
      xAxis: { type: 'category', data: aligned.axis },
      yAxis: { type: 'value', name: unitName },
      dataZoom: [{ type: 'inside' }, { type: 'slider', height: 18, bottom: 8 }],
      series,
    };
  }, [aligned, measure, t, locale, groupName]);
  const comparison = data.comparison ?? null;
  const totals = {
    span: `${data.from}~${data.to}`,
    current: data.total,
    previousSpan: comparison ? `${comparison.from}~${comparison.to}` : null,
    previous: comparison?.total ?? null,
  };
  const rows: TableRow[] = aligned.series.flatMap((s) =>
    s.points.map((p) => ({ key: `${p.date}:${s.group ?? ''}`, group: groupName(s.group), ...p })),
  );
  const csv = () => {
    const table = trendTable(aligned, t('an.total'), totals);
    download(`${data.event}-trend.csv`, toCsv(table.columns, table.rows));
  };
  const measures: { key: Measure; label: MessageKey }[] = [
    { key: 'count', label: 'an.measure.count' },
    { key: 'customers', label: 'an.measure.customers' },
    { key: 'per_customer', label: 'an.measure.per' },
  ];
  const show = (m: Measure, n: number | null | undefined) =>
    n === null || n === undefined ? '—' : m === 'per_customer' ? String(n) : formatCount(n, locale);
  return (
    <Card
      size="small"
      title={
        <Select value={measure} onChange={setMeasure} style={{ width: 160 }} options={measures.map((m) => ({ value: m.key, label: t(m.label) }))} />
      }
      extra={
        <Button size="small" icon={<DownloadOutlined />} onClick={csv}>
          {t('common.downloadCsv')}
        </Button>
      }
    >
      <Space wrap size={[32, 8]} style={{ marginBottom: 8 }} data-testid="events-totals">
        {measures.map((m) => (
          <Statistic
            key={m.key}
            title={t(m.label)}
            value={show(m.key, data.total[m.key])}
            suffix={
              comparison ? (
                <Change
                  change={comparison.change[m.key] ?? null}
                  previous={t('an.compare.was', { value: show(m.key, comparison.total[m.key]) })}
                />
              ) : undefined
            }
          />
        ))}
      </Space>
      <Chart option={option} testId="chart-events" />
      <Table<TableRow>
        size="small"
        rowKey="key"
        dataSource={rows}
        pagination={{ pageSize: 10 }}
        columns={[
          { title: t('common.date'), dataIndex: 'date' },
          { title: t('an.by'), dataIndex: 'group' },
          ...measures.map((m) => ({
            title: t(m.label),
            key: m.key,
            render: (_: unknown, r: TableRow) => show(m.key, r.current[m.key]),
          })),
          ...(aligned.compared
            ? [
                { title: t('an.compare.previousDate'), dataIndex: 'previousDate', render: (d: string | null) => d ?? '—' },
                {
                  title: `${t(measures.find((m) => m.key === measure)!.label)} · ${t('an.compare.previous')}`,
                  key: 'previous',
                  render: (_: unknown, r: TableRow) => show(measure, r.previous?.[measure]),
                },
              ]
            : []),
        ]}
      />
    </Card>
  );
}

/** The relative change of a total from the previous period, with the previous figure. */
function Change({ change, previous }: { change: number | null; previous: string }) {
  const { t } = useI18n();
  const text =
    change === null ? t('an.compare.noBase') : `${change > 0 ? '▲ +' : change < 0 ? '▼ ' : ''}${(change * 100).toFixed(1)}%`;
  return (
    <Typography.Text type="secondary" style={{ fontSize: 13, marginLeft: 8 }}>
      {text} · {previous}
    </Typography.Text>
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
