import { DeleteOutlined, DownloadOutlined, PlusOutlined } from '@ant-design/icons';
import { useMutation } from '@tanstack/react-query';
import { Alert, Button, Card, Empty, Input, InputNumber, Select, Space, Table, Tag, Typography } from 'antd';
import { useCallback, useMemo, useRef, useState } from 'react';
import { Link } from 'react-router-dom';
import { api, unwrap, type Schemas } from '@/api/client';
import { can, useMe } from '@/app/auth';
import { useI18n } from '@/app/i18n';
import { Chart, type ChartOption } from '@/components/Chart';
import { PageHeader } from '@/components/PageHeader';
import { Filters, WindowInput } from '@/features/segments/RuleBuilder';
import { download, formatCount, toCsv } from '@/lib/format';
import { EventSelect, RangeInput, useEventCatalog, useRange, useSaveAsSegment, type Filter } from './shared';

type Step = { event: string; where: Filter[] };
type Exclusion = { event: string; after: number; before: number | null; where: Filter[] };
type Mode = 'ordered' | 'strict' | 'unordered';
type Funnel = Schemas['FunnelRead'];

/** 漏斗分析: steps with property filters, a conversion window (calendar or trading days), order mode, exclusions
 * and a breakdown; bars of reached and dropped customers per step; a click on a drop-off saves those customers
 * as a segment; the figures as CSV. */
export default function FunnelsPage() {
  const { t } = useI18n();
  const me = useMe();
  const catalog = useEventCatalog();
  const [range, setRange, dates] = useRange(30);
  const [steps, setSteps] = useState<Step[]>([
    { event: 'fund_detail_view', where: [] },
    { event: 'fund_subscribe', where: [] },
  ]);
  const [window, setWindow] = useState('7d');
  const [mode, setMode] = useState<Mode>('ordered');
  const [exclusions, setExclusions] = useState<Exclusion[]>([]);
  const [by, setBy] = useState('');
  const query = useMemo(
    () => ({ ...dates, steps, window, mode, exclusions, by: by || null, top: 10 }),
    [dates, steps, window, mode, exclusions, by],
  );
  const run = useMutation({ mutationFn: () => unwrap(api.POST('/api/v1/analytics/funnel', { body: query as never })) });
  const pendingStep = useRef(2); // the step whose drop-off the open dialog saves
  const saver = useSaveAsSegment((segment) =>
    unwrap(
      api.POST('/api/v1/analytics/funnel/segment', {
        body: { ...query, save: { segment, step: pendingStep.current, who: 'dropped' } } as never,
      }),
    ),
  );
  const onDrop = useCallback(
    (step: number) => {
      pendingStep.current = step;
      saver.ask(t('an.saveDropped', { step }));
    },
    [saver, t],
  );
  const setStep = (i: number, next: Step) => setSteps(steps.map((s, j) => (j === i ? next : s)));
  return (
    <div data-testid="funnels-page">
      <PageHeader title={t('menu.analytics.funnels')} />
      <Card size="small" style={{ marginBottom: 16 }}>
        <Space wrap style={{ marginBottom: 8 }}>
          <RangeInput value={range} onChange={setRange} />
          <Typography.Text>{t('an.window')}</Typography.Text>
          <WindowInput value={window} onChange={setWindow} testId="funnel-window" />
          <Select value={mode} style={{ width: 230 }} onChange={setMode} options={(['ordered', 'strict', 'unordered'] as const).map((m) => ({ value: m, label: t(`an.mode.${m}`) }))} />
          <Input value={by} placeholder={t('an.by.hint')} style={{ width: 260 }} onChange={(e) => setBy(e.target.value.trim())} />
        </Space>
        <Typography.Title level={5}>{t('an.steps')}</Typography.Title>
        {steps.map((step, i) => (
          <div key={i} style={{ marginBottom: 6 }}>
            <Space>
              <Tag color="blue">{t('builder.step', { n: i + 1 })}</Tag>
              <EventSelect value={step.event} onChange={(event) => setStep(i, { event, where: [] })} events={catalog.events} testId={`funnel-step-${i}`} />
              {steps.length > 2 && <Button type="text" danger icon={<DeleteOutlined />} onClick={() => setSteps(steps.filter((_, j) => j !== i))} />}
            </Space>
            <Filters event={step.event} where={step.where as never} onChange={(w) => setStep(i, { ...step, where: w as never })} catalog={catalog} />
          </div>
        ))}
        <Space>
          {steps.length < 20 && (
            <Button icon={<PlusOutlined />} onClick={() => setSteps([...steps, { event: '', where: [] }])} data-testid="funnel-add-step">
              {t('an.addStep')}
            </Button>
          )}
          <Button icon={<PlusOutlined />} onClick={() => setExclusions([...exclusions, { event: '', after: 1, before: null, where: [] }])}>
            {t('an.addExclusion')}
          </Button>
          <Button type="primary" onClick={() => run.mutate()} loading={run.isPending} data-testid="funnel-run">
            {t('an.run')}
          </Button>
        </Space>
        {exclusions.map((ex, i) => (
          <Space key={i} style={{ display: 'flex', marginTop: 6 }} wrap>
            <Tag color="red">{t('an.exclusions')}</Tag>
            <EventSelect value={ex.event} onChange={(event) => setExclusions(exclusions.map((e, j) => (j === i ? { ...e, event } : e)))} events={catalog.events} />
            <Typography.Text>{t('an.exclusion.between', { a: ex.after, b: ex.before ?? ex.after + 1 })}</Typography.Text>
            <InputNumber min={1} max={steps.length - 1} value={ex.after} onChange={(v) => setExclusions(exclusions.map((e, j) => (j === i ? { ...e, after: v ?? 1 } : e)))} />
            <Button type="text" danger icon={<DeleteOutlined />} onClick={() => setExclusions(exclusions.filter((_, j) => j !== i))} />
          </Space>
        ))}
      </Card>
      {saver.saved && <Alert type="success" showIcon title={saver.saved} style={{ marginBottom: 16 }} data-testid="funnel-saved" action={<Link to="/segments">{t('menu.segments.list')}</Link>} />}
      {run.data ? <FunnelView data={run.data} onDrop={can(me, 'segment:write') ? onDrop : undefined} /> : <Empty />}
      {run.data?.breakdown && <BreakdownTable groups={run.data.breakdown} />}
      {saver.modal}
    </div>
  );
}

function FunnelView({ data, onDrop }: { data: Funnel; onDrop?: (step: number) => void }) {
  const { t, locale } = useI18n();
  const steps = data.steps;
  const first = steps[0]?.customers ?? 0;
  const option = useMemo<ChartOption>(
    () => ({
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      legend: { top: 0 },
      grid: { left: 56, right: 24, top: 40, bottom: 40 },
      xAxis: { type: 'category', data: steps.map((s, i) => `${i + 1}. ${s.event}`), axisLabel: { interval: 0, width: 140, overflow: 'truncate' } },
      yAxis: { type: 'value', name: t('common.people'), minInterval: 1 },
      series: [
        {
          name: t('an.reached'),
          type: 'bar',
          stack: 'f',
          data: steps.map((s) => s.customers),
          label: { show: true, position: 'inside', formatter: (p: { dataIndex: number }) => `${((steps[p.dataIndex]?.conversion_from_first ?? 0) * 100).toFixed(1)}%` },
        },
        {
          name: t('an.dropped'),
          type: 'bar',
          stack: 'f',
          itemStyle: { color: '#d9d9d9' },
          data: steps.map((s, i) => (i === 0 ? 0 : (steps[i - 1]?.customers ?? 0) - s.customers)),
          cursor: onDrop ? 'pointer' : 'default',
        },
      ],
    }),
    [steps, t, onDrop],
  );
  const onClick = useCallback(
    (params: { seriesIndex?: number; dataIndex?: number }) => {
      if (onDrop && params.seriesIndex === 1 && params.dataIndex && params.dataIndex > 0) onDrop(params.dataIndex + 1);
    },
    [onDrop],
  );
  const last = steps[steps.length - 1];
  return (
    <Card
      size="small"
      title={t('an.conversion', { rate: first ? `${(((last?.customers ?? 0) / first) * 100).toFixed(1)}%` : '—' })}
      extra={
        <Button size="small" icon={<DownloadOutlined />} onClick={() => download('funnel.csv', toCsv(['step', 'event', 'customers', 'from_first', 'from_previous', 'median_seconds'], steps.map((s, i) => [i + 1, s.event, s.customers, s.conversion_from_first, s.conversion_from_previous, s.median_seconds_from_previous])))}>
          {t('common.downloadCsv')}
        </Button>
      }
    >
      {onDrop && <Typography.Paragraph type="secondary">{t('an.clickDrop')}</Typography.Paragraph>}
      <Chart option={option} onClick={onClick as never} testId="chart-funnel" />
      <Table
        size="small"
        pagination={false}
        rowKey={(_, i) => String(i)}
        dataSource={steps}
        data-testid="funnel-table"
        columns={[
          { title: '#', render: (_: unknown, __: unknown, i: number) => i + 1 },
          { title: t('an.event'), dataIndex: 'event' },
          { title: t('an.reached'), dataIndex: 'customers', render: (n: number) => formatCount(n, locale) },
          { title: t('an.fromPrevious'), dataIndex: 'conversion_from_previous', render: (r: number) => `${(r * 100).toFixed(1)}%` },
          {
            title: t('an.dropped'),
            render: (_: unknown, s: Schemas['FunnelStepRead'], i: number) =>
              i === 0 ? '—' : (
                <Space>
                  {formatCount((steps[i - 1]?.customers ?? 0) - s.customers, locale)}
                  {onDrop && (
                    <Button size="small" type="link" onClick={() => onDrop(i + 1)} data-testid={`funnel-save-${i + 1}`}>
                      {t('seg.new')}
                    </Button>
                  )}
                </Space>
              ),
          },
          {
            title: t('an.medianTime'),
            dataIndex: 'median_seconds_from_previous',
            render: (v: number | null) => (v === null || v === undefined ? '—' : `${(v / 3600).toFixed(1)} h`),
          },
        ]}
      />
    </Card>
  );
}

/** Each breakdown group's customers per step and its overall conversion (CONSOLE.md: breakdowns capped to the
 * top groups and 其他, as the API returns them). */
function BreakdownTable({ groups }: { groups: Schemas['FunnelGroupRead'][] }) {
  const { t, locale } = useI18n();
  const count = groups[0]?.steps.length ?? 0;
  return (
    <Card size="small" title={t('an.breakdown')} style={{ marginTop: 16 }} data-testid="funnel-breakdown">
      <Table
        size="small"
        pagination={false}
        rowKey="group"
        dataSource={groups}
        columns={[
          { title: t('an.group'), dataIndex: 'group' },
          ...Array.from({ length: count }, (_, i) => ({
            title: `${i + 1}. ${groups[0]?.steps[i]?.event ?? ''}`,
            render: (_: unknown, g: Schemas['FunnelGroupRead']) => formatCount(g.steps[i]?.customers ?? 0, locale),
          })),
          {
            title: t('an.overall'),
            render: (_: unknown, g: Schemas['FunnelGroupRead']) =>
              `${((g.steps[g.steps.length - 1]?.conversion_from_first ?? 0) * 100).toFixed(1)}%`,
          },
        ]}
      />
    </Card>
  );
}
