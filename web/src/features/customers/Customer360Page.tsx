import { Alert, Card, Col, Descriptions, Empty, Result, Row, Table, Tag, Tabs, Timeline, Typography } from 'antd';
import { useMemo } from 'react';
import { useParams } from 'react-router-dom';
import { ApiError, type Schemas } from '@/api/client';
import { can, useMe } from '@/app/auth';
import { useI18n } from '@/app/i18n';
import type { MessageKey } from '@/locales/zh-CN';
import { PageLoading } from '@/app/PageLoading';
import { Chart, type ChartOption } from '@/components/Chart';
import { PageHeader } from '@/components/PageHeader';
import { formatMoney, formatTime, formatValue } from '@/lib/format';
import { valueLabel } from '@/lib/labels';
import { useIndicators, useTags } from '@/features/tags/queries';
import { useCustomer360, useCustomerJourneys, useCustomerMessages, useCustomerTasks } from './queries';
import { historyOrder } from './taskOrder';

type View = Schemas['Customer360Read'];
type ProfileField =
  | 'name' | 'gender' | 'birth_date' | 'phone' | 'city' | 'province' | 'branch_id' | 'advisor_id' | 'open_date'
  | 'risk_level' | 'risk_assessed_at' | 'investor_type' | 'consent_marketing';
type Row = Record<string, unknown>;

const PROFILE_FIELDS: ProfileField[] = [
  'name', 'gender', 'birth_date', 'phone', 'city', 'province', 'branch_id', 'advisor_id', 'open_date',
  'risk_level', 'risk_assessed_at', 'investor_type', 'consent_marketing',
];

/** 客户360: profile, identities, tags, indicators, assets, holdings, trades, events, journeys, messages and
 * advisor tasks. */
export default function Customer360Page() {
  const { customerNo = '' } = useParams();
  const { t } = useI18n();
  const me = useMe();
  const { data, error, isPending } = useCustomer360(customerNo);
  const loaded = data !== undefined;
  const journeys = useCustomerJourneys(customerNo, loaded);
  const messages = useCustomerMessages(customerNo, loaded);
  const mayReadTasks = can(me, 'task:read');
  const tasks = useCustomerTasks(customerNo, loaded && mayReadTasks);
  if (isPending) return <PageLoading />;
  if (!data) {
    const status = error instanceof ApiError && error.status === 404 ? '404' : 'error';
    return <Result status={status} title={customerNo} subTitle={error instanceof Error ? error.message : ''} data-testid="customer-missing" />;
  }
  const attributes = data.attributes as Row;
  const masked = typeof attributes.phone === 'string' && attributes.phone.includes('*');
  return (
    <div data-testid="customer-360-page">
      <PageHeader
        title={`${t('c360.title')} · ${data.customer_no}`}
        sub={[formatValue(attributes.name), formatValue(attributes.branch_id), formatValue(attributes.risk_level)].join(' · ')}
      />
      {masked && <Alert type="info" showIcon title={t('c360.masked')} style={{ marginBottom: 16 }} />}
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={10}>
          <Card title={t('c360.profile')}>
            <Descriptions size="small" column={1} data-testid="c360-profile">
              {PROFILE_FIELDS.filter((f) => f in attributes).map((field) => (
                <Descriptions.Item key={field} label={t(`attr.${field}` as MessageKey)}>
                  {formatValue(attributes[field])}
                </Descriptions.Item>
              ))}
            </Descriptions>
          </Card>
        </Col>
        <Col xs={24} xl={14}>
          <Card title={t('c360.assets')}>
            <AssetsChart assets={data.assets as Row[]} />
          </Card>
        </Col>
        <Col span={24}>
          <Card>
            <Tabs
              items={[
                { key: 'tags', label: t('c360.tags'), children: <Values block={data.tags} kind="tags" /> },
                {
                  key: 'indicators',
                  label: t('c360.indicators'),
                  children: <Values block={data.indicators} kind="indicators" />,
                },
                { key: 'identities', label: t('c360.identities'), children: <Identities view={data} /> },
                { key: 'holdings', label: t('c360.holdings'), children: <Holdings rows={data.holdings as Row[]} /> },
                { key: 'trades', label: t('c360.trades'), children: <Trades rows={data.trades as Row[]} /> },
                { key: 'events', label: t('c360.events'), children: <Events rows={data.events as Row[]} /> },
                {
                  key: 'journeys',
                  label: t('c360.journeys'),
                  children: <Journeys rows={(journeys.data ?? []) as Schemas['CustomerRunRead'][]} />,
                },
                {
                  key: 'messages',
                  label: t('c360.messages'),
                  children: <Messages rows={(messages.data ?? []) as Schemas['MessageRead'][]} />,
                },
                {
                  key: 'tasks',
                  label: t('c360.tasks'),
                  children: mayReadTasks ? (
                    <Tasks rows={tasks.data?.tasks ?? []} loading={tasks.isPending} />
                  ) : (
                    <Empty description={t('c360.tasks.forbidden')} />
                  ),
                },
              ]}
            />
          </Card>
        </Col>
      </Row>
    </div>
  );
}

function Values({ block, kind }: { block: Record<string, unknown>; kind: 'tags' | 'indicators' }) {
  const { t } = useI18n();
  const me = useMe();
  const tags = useTags(kind === 'tags' && can(me, 'tag:read'));
  const indicators = useIndicators(kind === 'indicators' && can(me, 'indicator:read'));
  // The catalogues the tag pages and editors read already (one cache entry each), as labels by name.
  const titles = useMemo(() => {
    const rows = (kind === 'tags' ? tags.data : indicators.data) ?? [];
    return new Map(rows.map((r) => [r.name, { title: r.title, category: r.category ?? undefined }]));
  }, [kind, tags.data, indicators.data]);
  const values = (block.values ?? {}) as Row;
  const rows = Object.entries(values).map(([key, value]) => ({ key, value, ...titles.get(key) }));
  if (rows.length === 0) return <Empty description={t('common.empty')} />;
  return (
    <>
      {typeof block.business_date === 'string' && (
        <Typography.Paragraph type="secondary">{t('c360.tags.asOf', { date: block.business_date })}</Typography.Paragraph>
      )}
      <Table
        size="small"
        rowKey="key"
        dataSource={rows}
        pagination={{ pageSize: 20, showSizeChanger: false }}
        columns={[
          {
            title: t('c360.key'),
            dataIndex: 'key',
            render: (key: string, row: { title?: string }) => (
              <span>
                {row.title ?? key} {row.title && <Typography.Text type="secondary">{key}</Typography.Text>}
              </span>
            ),
          },
          { title: t('c360.category'), dataIndex: 'category', render: (v?: string) => v ?? '—' },
          {
            title: t('c360.value'),
            dataIndex: 'value',
            render: (value: unknown) => (value === '***' ? <Tag>***</Tag> : formatValue(value)),
          },
        ]}
      />
    </>
  );
}

function Identities({ view }: { view: View }) {
  const { t } = useI18n();
  if (view.uid === null) return <Empty description={t('c360.noUid')} />;
  return (
    <Table
      size="small"
      rowKey={(r: Row) => `${String(r.id_type)}:${String(r.id_value)}`}
      dataSource={view.identities as Row[]}
      pagination={false}
      columns={[
        { title: t('c360.identities.type'), dataIndex: 'id_type' },
        { title: t('c360.identities.value'), dataIndex: 'id_value' },
        { title: t('c360.identities.since'), dataIndex: 'first_seen', render: (v: string) => formatTime(v) },
      ]}
    />
  );
}

function AssetsChart({ assets }: { assets: Row[] }) {
  const { t, locale } = useI18n();
  const option = useMemo<ChartOption>(() => {
    const days = [...assets].sort((a, b) => String(a.date).localeCompare(String(b.date)));
    const series = (field: string, name: string) => ({
      name,
      type: 'line',
      data: days.map((d) => (typeof d[field] === 'number' ? d[field] : null)),
    });
    return {
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 80, right: 24, top: 40, bottom: 32 },
      xAxis: { type: 'category', data: days.map((d) => String(d.date).slice(5)) },
      yAxis: { type: 'value', name: locale === 'zh-CN' ? '元' : 'CNY', scale: true },
      series: [
        series('total_assets', t('c360.assets.total')),
        series('cash', t('c360.assets.cash')),
        series('stock_value', t('c360.assets.stock')),
        series('fund_value', t('c360.assets.fund')),
      ],
    };
  }, [assets, t, locale]);
  if (assets.length === 0) return <Empty description={t('common.empty')} />;
  return <Chart option={option} testId="chart-assets" />;
}

function Holdings({ rows }: { rows: Row[] }) {
  const { t, locale } = useI18n();
  return (
    <Table
      size="small"
      rowKey={(r: Row) => String(r.product_code)}
      dataSource={rows}
      pagination={false}
      columns={[
        { title: t('c360.holdings.product'), dataIndex: 'product_code' },
        { title: t('c360.holdings.quantity'), dataIndex: 'quantity' },
        { title: t('c360.holdings.value'), dataIndex: 'market_value', render: (v: number) => formatMoney(v, locale) },
        { title: t('c360.holdings.cost'), dataIndex: 'cost', render: (v: number) => formatMoney(v, locale) },
      ]}
    />
  );
}

function Trades({ rows }: { rows: Row[] }) {
  const { t, locale } = useI18n();
  return (
    <Table
      size="small"
      rowKey={(r: Row) => String(r.trade_id)}
      dataSource={rows}
      pagination={false}
      columns={[
        { title: t('common.time'), dataIndex: 'time', render: (v: string) => formatTime(v) },
        { title: t('c360.holdings.product'), dataIndex: 'product_code' },
        { title: t('c360.trades.side'), dataIndex: 'side', render: (v: string) => valueLabel(t, 'val.side', v) },
        { title: t('c360.holdings.quantity'), dataIndex: 'quantity' },
        { title: t('c360.trades.amount'), dataIndex: 'amount', render: (v: number) => formatMoney(v, locale) },
        {
          title: t('c360.trades.channel'),
          dataIndex: 'channel',
          render: (v: string | null) => valueLabel(t, 'val.tradeChannel', v),
        },
      ]}
    />
  );
}

function Events({ rows }: { rows: Row[] }) {
  const { t } = useI18n();
  if (rows.length === 0) return <Empty description={t('common.empty')} />;
  return (
    <Timeline
      data-testid="c360-events"
      items={rows.map((event) => ({
        content: (
          <span>
            <Typography.Text strong>{String(event.event)}</Typography.Text>{' '}
            <Typography.Text type="secondary">{formatTime(String(event.time))}</Typography.Text>
          </span>
        ),
      }))}
    />
  );
}

function Journeys({ rows }: { rows: Schemas['CustomerRunRead'][] }) {
  const { t } = useI18n();
  return (
    <Table
      size="small"
      rowKey="run"
      dataSource={rows}
      pagination={false}
      columns={[
        { title: t('c360.journeys'), dataIndex: 'journey' },
        { title: t('c360.journeys.node'), dataIndex: 'node', render: (v: string | null) => v ?? '—' },
        { title: t('c360.journeys.state'), dataIndex: 'status', render: (v: string) => valueLabel(t, 'val.run', v) },
        { title: t('c360.journeys.entered'), dataIndex: 'entered_at', render: (v: string) => formatTime(v) },
      ]}
    />
  );
}

function Messages({ rows }: { rows: Schemas['MessageRead'][] }) {
  const { t } = useI18n();
  return (
    <Table
      size="small"
      rowKey="id"
      dataSource={rows}
      pagination={false}
      columns={[
        { title: t('common.time'), dataIndex: 'at', render: (v: string) => formatTime(v) },
        { title: t('c360.messages.channel'), dataIndex: 'channel', render: (v: string) => valueLabel(t, 'val.channel', v) },
        { title: t('c360.messages.template'), dataIndex: 'template' },
        { title: t('c360.messages.status'), dataIndex: 'status', render: (v: string) => valueLabel(t, 'val.message', v) },
        { title: t('c360.messages.reason'), dataIndex: 'reason', render: (v: string | null) => v ?? '—' },
      ]}
    />
  );
}

const PRIORITY_COLOURS: Record<string, string> = { urgent: 'red', high: 'orange', normal: 'blue', low: 'default' };

function Tasks({ rows, loading }: { rows: Schemas['TaskRead'][]; loading: boolean }) {
  const { t } = useI18n();
  const ordered = useMemo(() => historyOrder(rows), [rows]);
  return (
    <Table<Schemas['TaskRead']>
      size="small"
      rowKey="id"
      loading={loading}
      dataSource={ordered}
      pagination={{ pageSize: 20, hideOnSinglePage: true, showSizeChanger: false }}
      data-testid="c360-tasks"
      columns={[
        {
          title: t('c360.tasks.title'),
          dataIndex: 'title',
          render: (title: string, task) => (
            <span>
              {title}
              {task.reason && (
                <Typography.Text type="secondary" style={{ display: 'block', fontSize: 12 }}>
                  {task.reason}
                </Typography.Text>
              )}
            </span>
          ),
        },
        {
          title: t('c360.tasks.source'),
          dataIndex: 'source',
          render: (source: string, task) => (
            <span>
              {valueLabel(t, 'val.taskSource', source)}
              <Typography.Text type="secondary"> · {task.rule ?? task.journey ?? '—'}</Typography.Text>
            </span>
          ),
        },
        {
          title: t('c360.tasks.priority'),
          dataIndex: 'priority',
          render: (p: string) => <Tag color={PRIORITY_COLOURS[p] ?? 'default'}>{valueLabel(t, 'val.priority', p)}</Tag>,
        },
        { title: t('c360.tasks.status'), dataIndex: 'status', render: (v: string) => valueLabel(t, 'val.taskStatus', v) },
        {
          title: t('c360.tasks.due'),
          dataIndex: 'due_at',
          render: (due: string, task) =>
            task.overdue ? (
              <Typography.Text type="danger" data-testid="task-overdue">
                {formatTime(due)} · {t('c360.tasks.overdue')}
              </Typography.Text>
            ) : (
              formatTime(due)
            ),
        },
        {
          title: t('c360.tasks.assignee'),
          dataIndex: 'advisor_id',
          render: (advisor: string | null, task) => advisor ?? task.claimed_by ?? t('c360.tasks.queue'),
        },
        {
          title: t('c360.tasks.outcome'),
          dataIndex: 'outcome',
          render: (outcome: string | null, task) =>
            outcome === null ? (
              '—'
            ) : (
              <span>
                {valueLabel(t, 'val.outcome', outcome)}
                {task.follow_up_on && (
                  <Typography.Text type="secondary"> · {t('c360.tasks.followUp', { date: task.follow_up_on })}</Typography.Text>
                )}
                {task.note && (
                  <Typography.Text type="secondary" style={{ display: 'block', fontSize: 12 }}>
                    {task.note}
                  </Typography.Text>
                )}
              </span>
            ),
        },
      ]}
    />
  );
}
