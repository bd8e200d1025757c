import { DownloadOutlined } from '@ant-design/icons';
import { useMutation } from '@tanstack/react-query';
import { Alert, Button, Card, Checkbox, Empty, InputNumber, Select, Space, Typography } from 'antd';
import { useCallback, useMemo, useRef, useState } from 'react';
import { api, unwrap, type Schemas } from '@/api/client';
import { can, useMe } from '@/app/auth';
import { useI18n } from '@/app/i18n';
import { Chart, type ChartOption } from '@/components/Chart';
import { PageHeader } from '@/components/PageHeader';
import { download, toCsv } from '@/lib/format';
import { EventSelect, RangeInput, useEventCatalog, useRange, useSaveAsSegment } from './shared';

type Retention = Schemas['RetentionRead'];

/** 留存分析: cohorts by their start event's day (week, month), the share returning in each later period as a
 * heat-map triangle; a click on a cell saves its customers as a segment; the figures as CSV. */
export default function RetentionPage() {
  const { t } = useI18n();
  const me = useMe();
  const catalog = useEventCatalog();
  const [range, setRange, dates] = useRange(14);
  const [start, setStart] = useState('login');
  const [back, setBack] = useState('login');
  const [unit, setUnit] = useState<'day' | 'week' | 'month'>('day');
  const [periods, setPeriods] = useState(7);
  const [firstTime, setFirstTime] = useState(false);
  const query = useMemo(
    () => ({ ...dates, start_event: start, return_event: back, unit, periods, first_time: firstTime }),
    [dates, start, back, unit, periods, firstTime],
  );
  const run = useMutation({ mutationFn: () => unwrap(api.POST('/api/v1/analytics/retention', { body: query as never })) });
  const cell = useRef<{ cohort: string; offset: number }>({ cohort: '', offset: 0 });
  const saver = useSaveAsSegment((segment) =>
    unwrap(api.POST('/api/v1/analytics/retention/segment', { body: { ...query, save: { segment, ...cell.current } } as never })),
  );
  const onCell = useCallback(
    (cohort: string, offset: number) => {
      cell.current = { cohort, offset };
      saver.ask(`${t('an.saveCell')} · ${cohort} · ${t('an.period', { n: offset })}`);
    },
    [saver, t],
  );
  return (
    <div data-testid="retention-page">
      <PageHeader title={t('menu.analytics.retention')} />
      <Card size="small" style={{ marginBottom: 16 }}>
        <Space wrap>
          <RangeInput value={range} onChange={setRange} />
          <Typography.Text>{t('an.startEvent')}</Typography.Text>
          <EventSelect value={start} onChange={setStart} events={catalog.events} />
          <Typography.Text>{t('an.returnEvent')}</Typography.Text>
          <EventSelect value={back} onChange={setBack} events={catalog.events} />
          <Select value={unit} style={{ width: 100 }} onChange={setUnit} options={(['day', 'week', 'month'] as const).map((u) => ({ value: u, label: t(`an.unit.${u}`) }))} />
          <Typography.Text>{t('an.periods')}</Typography.Text>
          <InputNumber min={1} max={120} value={periods} onChange={(v) => setPeriods(v ?? 7)} />
          <Checkbox checked={firstTime} onChange={(e) => setFirstTime(e.target.checked)}>
            {t('an.firstTime')}
          </Checkbox>
          <Button type="primary" onClick={() => run.mutate()} loading={run.isPending} data-testid="retention-run">
            {t('an.run')}
          </Button>
        </Space>
      </Card>
      {saver.saved && <Alert type="success" showIcon title={saver.saved} style={{ marginBottom: 16 }} />}
      {run.data ? <Triangle data={run.data} onCell={can(me, 'segment:write') ? onCell : undefined} /> : <Empty />}
      {saver.modal}
    </div>
  );
}

function Triangle({ data, onCell }: { data: Retention; onCell?: (cohort: string, offset: number) => void }) {
  const { t } = useI18n();
  const cohorts = data.cohorts;
  const option = useMemo<ChartOption>(() => {
    const cells: [number, number, number | null, number][] = [];
    cohorts.forEach((c, y) => {
      c.retained.forEach((n, x) => {
        // A period that has not begun has no value (null): no cell, not a 0 %.
        if (n !== null && n !== undefined) cells.push([x, y, c.size ? Math.round((n / c.size) * 1000) / 10 : null, n]);
      });
    });
    return {
      tooltip: {
        formatter: (p: { value: [number, number, number | null, number] }) =>
          `${cohorts[p.value[1]]?.start} · ${t('an.period', { n: p.value[0] + 1 })}<br/>${p.value[3]} (${p.value[2] ?? '—'}%)`,
      },
      grid: { left: 150, right: 24, top: 16, bottom: 64 },
      xAxis: { type: 'category', data: Array.from({ length: data.periods }, (_, i) => t('an.period', { n: i + 1 })), splitArea: { show: true } },
      yAxis: { type: 'category', inverse: true, data: cohorts.map((c) => `${c.start} (${c.size})`), splitArea: { show: true } },
      visualMap: { min: 0, max: 100, calculable: true, orient: 'horizontal', left: 'center', bottom: 0, text: ['100%', '0%'], dimension: 2 },
      series: [{ type: 'heatmap', data: cells, label: { show: true, formatter: (p: { value: [number, number, number | null] }) => (p.value[2] === null ? '' : `${p.value[2]}%`) } }],
    };
  }, [cohorts, data.periods, t]);
  const onClick = useCallback(
    (params: { value?: unknown }) => {
      const value = params.value as [number, number] | undefined;
      const cohort = value ? cohorts[value[1]] : undefined;
      if (onCell && value && cohort) onCell(cohort.start, value[0] + 1);
    },
    [onCell, cohorts],
  );
  return (
    <Card
      size="small"
      extra={
        <Button size="small" icon={<DownloadOutlined />} onClick={() => download('retention.csv', toCsv(['cohort', 'size', ...Array.from({ length: data.periods }, (_, i) => `p${i + 1}`)], cohorts.map((c) => [c.start, c.size, ...c.retained])))}>
          {t('common.downloadCsv')}
        </Button>
      }
    >
      {onCell && <Typography.Paragraph type="secondary">{t('an.clickCell')}</Typography.Paragraph>}
      <Chart option={option} onClick={onClick as never} height={Math.max(260, cohorts.length * 30 + 110)} testId="chart-retention" />
    </Card>
  );
}
