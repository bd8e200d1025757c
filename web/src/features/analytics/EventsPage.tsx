import { DownloadOutlined } from '@ant-design/icons';
import { useMutation } from '@tanstack/react-query';
import { Button, Card, Checkbox, Empty, Input, Select, Space, Table } from 'antd';
import { useMemo, useState } from 'react';
import { api, unwrap, type Schemas } from '@/api/client';
import { useI18n } from '@/app/i18n';
import { Chart, type ChartOption } from '@/components/Chart';
import { PageHeader } from '@/components/PageHeader';
import { Filters } from '@/features/segments/RuleBuilder';
import { download, formatCount, toCsv } from '@/lib/format';
import { EventSelect, RangeInput, useEventCatalog, useRange, type Filter } from './shared';

type Trend = Schemas['TrendRead'];
type Row = Schemas['TrendRowRead'];
type Measure = 'count' | 'customers' | 'per_customer';

/** 事件分析: an event's daily (weekly, monthly) count, customers or count per customer, filtered by properties,
 * grouped by a property, tag or attribute, against the previous period; the figures as CSV. */
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
          <Input value={by} placeholder={t('an.by.hint')} style={{ width: 260 }} onChange={(e) => setBy(e.target.value.trim())} />
          <Checkbox checked={compare} onChange={(e) => setCompare(e.target.checked)}>
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

function TrendView({ data, measure, setMeasure }: { data: Trend; measure: Measure; setMeasure: (m: Measure) => void }) {
  const { t, locale } = useI18n();
  const option = useMemo<ChartOption>(() => {
    const groups = [...new Set(data.series.map((r) => r.group ?? t('an.total')))];
    const dates = [...new Set(data.series.map((r) => r.date ?? ''))].sort();
    const value = (r: Row | undefined) => (r ? r[measure] : 0);
    const series = groups.map((g) => ({
      name: g,
      type: 'line',
      data: dates.map((d) => value(data.series.find((r) => r.date === d && (r.group ?? t('an.total')) === g))),
    }));
    if (data.comparison) {
      const previous = [...data.comparison.series].sort((a, b) => String(a.date).localeCompare(String(b.date)));
      series.push({ name: `${t('an.compare')}`, type: 'line', data: previous.map((r) => value(r)), lineStyle: { type: 'dashed' } } as never);
    }
    return {
      tooltip: { trigger: 'axis' },
      legend: { top: 0, type: 'scroll' },
      grid: { left: 56, right: 24, top: 40, bottom: 56 },
      xAxis: { type: 'category', data: dates },
      yAxis: { type: 'value', name: t(measure === 'count' ? 'common.times' : measure === 'customers' ? 'common.people' : 'an.measure.per') },
      dataZoom: [{ type: 'inside' }, { type: 'slider', height: 18, bottom: 8 }],
      series,
    };
  }, [data, measure, t]);
  const rows = data.series;
  return (
    <Card
      size="small"
      title={
        <Select value={measure} onChange={setMeasure} style={{ width: 160 }} options={[
          { value: 'count', label: t('an.measure.count') },
          { value: 'customers', label: t('an.measure.customers') },
          { value: 'per_customer', label: t('an.measure.per') },
        ]} />
      }
      extra={
        <Button size="small" icon={<DownloadOutlined />} onClick={() => download(`${data.event}-trend.csv`, toCsv(['date', 'group', 'count', 'customers', 'per_customer'], rows.map((r) => [r.date, r.group, r.count, r.customers, r.per_customer])))}>
          {t('common.downloadCsv')}
        </Button>
      }
    >
      <Chart option={option} testId="chart-events" />
      <Table<Row>
        size="small"
        rowKey={(r) => `${r.date}:${r.group}`}
        dataSource={rows}
        pagination={{ pageSize: 10 }}
        columns={[
          { title: t('common.date'), dataIndex: 'date' },
          { title: t('an.by'), dataIndex: 'group', render: (g: string | null) => g ?? t('an.total') },
          { title: t('an.measure.count'), dataIndex: 'count', render: (n: number) => formatCount(n, locale) },
          { title: t('an.measure.customers'), dataIndex: 'customers', render: (n: number) => formatCount(n, locale) },
          { title: t('an.measure.per'), dataIndex: 'per_customer' },
        ]}
      />
    </Card>
  );
}
