import { ArrowRightOutlined, EditOutlined, UploadOutlined } from '@ant-design/icons';
import { useQueryClient } from '@tanstack/react-query';
import {
  Alert, App, Button, Card, Col, Descriptions, Empty, Result, Row, Space, Statistic, Table, Tabs, Tag, Typography, Upload,
} from 'antd';
import { useMemo, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { ApiError, postForm, type Schemas } from '@/api/client';
import { can, useMe } from '@/app/auth';
import { reportError } from '@/app/errors';
import { useI18n } from '@/app/i18n';
import { PageLoading } from '@/app/PageLoading';
import { Chart, type ChartOption } from '@/components/Chart';
import { PageHeader } from '@/components/PageHeader';
import { formatCount, formatValue } from '@/lib/format';
import { describeCondition } from './conditions';
import { useTag, useTagMembers, useTagUsedBy, type TagDef } from './queries';
import { KindTag } from './TagsPage';

type Detail = Schemas['TagDetailRead'];

/** A tag's page: figures, distribution and history, definition, lineage, customers, model or upload. */
export default function TagDetailPage() {
  const { name = '' } = useParams();
  const { t } = useI18n();
  const me = useMe();
  const navigate = useNavigate();
  const { data, error, isPending } = useTag(name);
  if (isPending) return <PageLoading />;
  if (!data) {
    const status = error instanceof ApiError && error.status === 404 ? '404' : 'error';
    return <Result status={status} title={name} subTitle={error instanceof Error ? error.message : ''} />;
  }
  const tag = data.definition;
  const tabs = [
    { key: 'overview', label: t('tag.tab.overview'), children: <Overview detail={data} /> },
    { key: 'definition', label: t('tag.tab.definition'), children: <Definition tag={tag} /> },
    { key: 'lineage', label: t('tag.tab.lineage'), children: <Lineage detail={data} /> },
    { key: 'members', label: t('tag.tab.members'), children: <Members detail={data} /> },
  ];
  if (tag.kind === 'model') tabs.push({ key: 'model', label: t('tag.tab.model'), children: <ModelMetrics detail={data} /> });
  if (tag.kind === 'imported' && can(me, 'tag:write')) {
    tabs.push({ key: 'upload', label: t('tag.tab.upload'), children: <UploadValues tag={tag} /> });
  }
  return (
    <div data-testid="tag-detail-page">
      <PageHeader
        title={
          <Space>
            {tag.title}
            <KindTag kind={tag.kind} />
            {tag.sensitive && <Tag color="red">{t('catalog.col.sensitive')}</Tag>}
          </Space>
        }
        sub={<Typography.Text code>{tag.name}</Typography.Text>}
        extra={
          can(me, 'tag:write') &&
          tag.kind !== 'model' && (
            <Button icon={<EditOutlined />} onClick={() => navigate(`/catalog/tags/${name}/edit`)} data-testid="tag-edit">
              {t('tag.edit')}
            </Button>
          )
        }
      />
      <Row gutter={16} style={{ marginBottom: 16 }}>
        <Col span={6}>
          <Card size="small">
            <Statistic title={t('tag.population')} value={formatCount(data.population, 'zh-CN')} />
          </Card>
        </Col>
        <Col span={6}>
          <Card size="small">
            <Statistic title={t('tag.coverage')} value={`${(data.coverage * 100).toFixed(1)}%`} />
          </Card>
        </Col>
        <Col span={6}>
          <Card size="small">
            <Statistic title={t('tag.values')} value={data.distribution.length} />
          </Card>
        </Col>
        <Col span={6}>
          <Card size="small">
            <Statistic
              title={t('common.date')}
              value={data.business_date ?? t('tag.notComputed')}
              styles={{ content: { fontSize: 18 } }}
            />
          </Card>
        </Col>
      </Row>
      <Card>
        <Typography.Paragraph type="secondary">{tag.description}</Typography.Paragraph>
        <Tabs items={tabs} />
      </Card>
    </div>
  );
}

function Overview({ detail }: { detail: Detail }) {
  const { t } = useI18n();
  return (
    <Row gutter={16}>
      <Col xs={24} xl={12}>
        <Typography.Title level={5}>{t('tag.distribution')}</Typography.Title>
        <DistributionChart counts={detail.distribution.map((d) => [d.value, d.count])} testId="chart-distribution" />
      </Col>
      <Col xs={24} xl={12}>
        <Typography.Title level={5}>{t('tag.history')}</Typography.Title>
        <HistoryChart history={detail.history} />
      </Col>
    </Row>
  );
}

/** Customers per tag value as a horizontal bar chart with counts. */
export function DistributionChart({ counts, testId }: { counts: [string, number][]; testId?: string }) {
  const { t } = useI18n();
  const option = useMemo<ChartOption>(() => {
    const sorted = [...counts].sort((a, b) => a[1] - b[1]);
    const total = counts.reduce((sum, [, n]) => sum + n, 0) || 1;
    return {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      grid: { left: 120, right: 80, top: 16, bottom: 40 },
      xAxis: { type: 'value', name: t('common.people'), nameLocation: 'middle', nameGap: 26, minInterval: 1 },
      yAxis: { type: 'category', data: sorted.map(([v]) => v), axisLabel: { width: 110, overflow: 'truncate' } },
      series: [
        {
          type: 'bar',
          data: sorted.map(([, n]) => n),
          barMaxWidth: 22,
          label: { show: true, position: 'right', formatter: (p: { value: number }) => `${p.value} (${((p.value / total) * 100).toFixed(1)}%)` },
        },
      ],
    };
  }, [counts, t]);
  if (counts.length === 0) return <Empty description={t('common.empty')} />;
  return <Chart option={option} height={Math.max(200, counts.length * 36 + 60)} testId={testId} />;
}

function HistoryChart({ history }: { history: Detail['history'] }) {
  const { t } = useI18n();
  const option = useMemo<ChartOption>(() => {
    const values = [...new Set(history.flatMap((h) => Object.keys(h.counts)))];
    return {
      tooltip: { trigger: 'axis' },
      legend: { top: 0, type: 'scroll' },
      grid: { left: 56, right: 24, top: 40, bottom: 32 },
      xAxis: { type: 'category', data: history.map((h) => h.date) },
      yAxis: { type: 'value', name: t('common.people'), minInterval: 1 },
      series: values.map((value) => ({
        name: value,
        type: 'line',
        stack: 'total',
        areaStyle: {},
        data: history.map((h) => h.counts[value] ?? 0),
      })),
    };
  }, [history, t]);
  if (history.length === 0) return <Empty description={t('common.empty')} />;
  return <Chart option={option} testId="chart-history" />;
}

function Definition({ tag }: { tag: TagDef }) {
  const { t } = useI18n();
  return (
    <Descriptions column={1} size="small" bordered data-testid="tag-definition">
      <Descriptions.Item label={t('catalog.col.category')}>{tag.category}</Descriptions.Item>
      <Descriptions.Item label={t('catalog.col.owner')}>{tag.owner}</Descriptions.Item>
      {Object.keys(tag.params ?? {}).length > 0 && (
        <Descriptions.Item label={t('tag.params')}>
          {Object.entries(tag.params ?? {}).map(([k, v]) => (
            <Tag key={k}>
              {k} = {String(v)}
            </Tag>
          ))}
        </Descriptions.Item>
      )}
      {(tag.rules ?? []).map((rule, index) => (
        <Descriptions.Item key={index} label={`${t('tag.rule.when')} #${index + 1}`}>
          {describeCondition(rule.when)} <ArrowRightOutlined /> <Tag color="blue">{rule.value}</Tag>
        </Descriptions.Item>
      ))}
      {tag.kind === 'rule' && (
        <Descriptions.Item label={t('tag.rule.default')}>{tag.default ?? '—'}</Descriptions.Item>
      )}
      {tag.bucket && (
        <Descriptions.Item label={t('editor.bucket.indicator')}>
          <Typography.Text code>{tag.bucket.indicator}</Typography.Text>{' '}
          {tag.bucket.labels.map((label, i) => (
            <Tag key={label}>
              {label}
              {i < tag.bucket!.edges.length ? ` < ${formatValue(tag.bucket!.edges[i])}` : ''}
            </Tag>
          ))}
        </Descriptions.Item>
      )}
      {tag.values && <Descriptions.Item label={t('editor.values')}>{tag.values.join('、')}</Descriptions.Item>}
    </Descriptions>
  );
}

function Lineage({ detail }: { detail: Detail }) {
  const { t } = useI18n();
  const usedBy = useTagUsedBy(detail.definition.name);
  const column = (title: string, items: string[], link?: (x: string) => string) => (
    <Card size="small" title={title} style={{ minWidth: 180 }}>
      {items.length === 0 ? (
        <Typography.Text type="secondary">{t('tag.lineage.none')}</Typography.Text>
      ) : (
        items.map((item) => (
          <div key={item}>{link ? <Link to={link(item)}>{item}</Link> : <Typography.Text code>{item}</Typography.Text>}</div>
        ))
      )}
    </Card>
  );
  return (
    <Space align="start" wrap data-testid="tag-lineage">
      {column(t('tag.lineage.indicators'), detail.lineage.indicators)}
      {detail.lineage.attributes.length > 0 && column(t('tag.lineage.attributes'), detail.lineage.attributes)}
      <ArrowRightOutlined />
      {column(t('tag.lineage.tag'), [detail.definition.name])}
      <ArrowRightOutlined />
      {column(t('tag.lineage.segments'), usedBy.data?.segments ?? [])}
      <ArrowRightOutlined />
      {column(t('tag.lineage.journeys'), usedBy.data?.journeys ?? [])}
    </Space>
  );
}

function Members({ detail }: { detail: Detail }) {
  const { t } = useI18n();
  const [value, setValue] = useState<string | null>(null);
  const members = useTagMembers(detail.definition.name, value);
  return (
    <Row gutter={16}>
      <Col span={8}>
        <Table
          size="small"
          rowKey="value"
          pagination={false}
          dataSource={detail.distribution}
          rowClassName={(r) => (r.value === value ? 'ant-table-row-selected' : '')}
          onRow={(r) => ({ onClick: () => setValue(r.value), style: { cursor: 'pointer' } })}
          columns={[
            { title: t('c360.value'), dataIndex: 'value' },
            { title: t('tag.population'), dataIndex: 'count' },
          ]}
        />
      </Col>
      <Col span={16}>
        {value === null || !members.data ? (
          <Empty description={t('tag.members.pick')} />
        ) : (
          <>
            <Typography.Paragraph>
              {t('tag.members.count', { count: members.data.count, shown: members.data.customers.length })}
            </Typography.Paragraph>
            <Space wrap>
              {members.data.customers.map((no) => (
                <Link key={no} to={`/customers/${encodeURIComponent(no)}`}>
                  {no}
                </Link>
              ))}
            </Space>
          </>
        )}
      </Col>
    </Row>
  );
}

function ModelMetrics({ detail }: { detail: Detail }) {
  const { t } = useI18n();
  const metrics = detail.model_metrics ?? {};
  if (Object.keys(metrics).length === 0) return <Empty description={t('tag.notComputed')} />;
  return (
    <Descriptions title={t('tag.model.metrics')} column={2} size="small" bordered>
      {Object.entries(metrics).map(([k, v]) => (
        <Descriptions.Item key={k} label={k}>
          {typeof v === 'number' ? v.toFixed(4) : formatValue(v)}
        </Descriptions.Item>
      ))}
    </Descriptions>
  );
}

function UploadValues({ tag }: { tag: TagDef }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const client = useQueryClient();
  return (
    <Space direction="vertical">
      <Alert type="info" showIcon title={t('tag.upload.hint')} />
      <Upload
        accept=".csv,text/csv"
        showUploadList={false}
        customRequest={async ({ file }) => {
          const form = new FormData();
          form.append('file', file as Blob);
          try {
            const answer = await postForm<Schemas['TagUploadRead']>(
              `/api/v1/tags/${encodeURIComponent(tag.name)}/upload`,
              form,
            );
            message.success(t('tag.upload.done', { count: answer.rows }));
            await client.invalidateQueries({ queryKey: ['tags', tag.name] });
          } catch (error) {
            reportError(error);
          }
        }}
      >
        <Button icon={<UploadOutlined />}>{t('tag.upload.button')}</Button>
      </Upload>
    </Space>
  );
}
