import { DownloadOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Col, Empty, InputNumber, Progress, Row, Select, Space, Statistic, Table, Typography } from 'antd';
import { useMemo, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import type { Schemas } from '@/api/client';
import { can, useMe } from '@/app/auth';
import { useI18n } from '@/app/i18n';
import { PageLoading } from '@/app/PageLoading';
import { Chart, type ChartOption } from '@/components/Chart';
import { PageHeader } from '@/components/PageHeader';
import { useSegments } from '@/features/segments/queries';
import { useIndicators, useTags } from '@/features/tags/queries';
import { download, formatCount, toCsv } from '@/lib/format';
import { useInsight, useJob, useStartLookalike } from './queries';

type Profile = Schemas['TagProfile'];
const SHOWN = 8;

/** 人群洞察: the segment's TGI profile per tag (ranked by distance) against everyone or another segment,
 * indicator quartiles side by side, and a lookalike expansion with its progress and AUC. */
export default function InsightPage() {
  const { name = '' } = useParams();
  const { t, locale } = useI18n();
  const me = useMe();
  const segments = useSegments();
  const indicatorDefs = useIndicators();
  const tagDefs = useTags();
  const [against, setAgainst] = useState<string | null>(null);
  const [indicators, setIndicators] = useState<string[]>(['total_assets']);
  const [all, setAll] = useState(false);
  const insight = useInsight(name, against, indicators);
  const titles = useMemo(() => Object.fromEntries((tagDefs.data ?? []).map((d) => [d.name, d.title])), [tagDefs.data]);
  const data = insight.data;
  return (
    <div data-testid="insight-page">
      <PageHeader
        title={t('ins.title', { name })}
        extra={
          <Space>
            <Typography.Text>{t('ins.against')}</Typography.Text>
            <Select
              value={against ?? '__all__'}
              style={{ width: 220 }}
              options={[
                { value: '__all__', label: t('ins.against.all') },
                ...(segments.data ?? []).filter((s) => s.name !== name).map((s) => ({ value: s.name, label: s.title })),
              ]}
              onChange={(v: string) => setAgainst(v === '__all__' ? null : v)}
            />
          </Space>
        }
      />
      {!data ? (
        <PageLoading />
      ) : (
        <>
          <Row gutter={16} style={{ marginBottom: 16 }}>
            <Col span={8}>
              <Card size="small">
                <Statistic title={t('ins.segmentSize')} value={formatCount(data.segment_size, locale)} data-testid="insight-size" />
              </Card>
            </Col>
            <Col span={8}>
              <Card size="small">
                <Statistic title={t('ins.baseSize')} value={formatCount(data.base_size, locale)} />
              </Card>
            </Col>
            <Col span={8}>
              <Card size="small">
                <Statistic title={t('ins.snapshot')} value={data.snapshot_date} styles={{ content: { fontSize: 18 } }} />
              </Card>
            </Col>
          </Row>
          <Card
            title={t('ins.tags')}
            size="small"
            style={{ marginBottom: 16 }}
            extra={
              <Button size="small" icon={<DownloadOutlined />} onClick={() => download(`${name}-tgi.csv`, tgiCsv(data.tags))}>
                {t('ins.csv')}
              </Button>
            }
          >
            <Typography.Paragraph type="secondary">{t('ins.tgiHint')}</Typography.Paragraph>
            <Row gutter={[16, 16]}>
              {(all ? data.tags : data.tags.slice(0, SHOWN)).map((profile) => (
                <Col xs={24} xl={12} key={profile.tag}>
                  <TgiChart profile={profile} title={titles[profile.tag] ?? profile.tag} />
                </Col>
              ))}
            </Row>
            {!all && data.tags.length > SHOWN && (
              <Button type="link" onClick={() => setAll(true)}>
                {t('ins.more')}
              </Button>
            )}
          </Card>
          <Card title={t('ins.indicators')} size="small" style={{ marginBottom: 16 }}>
            <Select
              mode="multiple"
              value={indicators}
              placeholder={t('ins.pickIndicators')}
              style={{ minWidth: 360, marginBottom: 12 }}
              options={(indicatorDefs.data ?? []).map((i) => ({ value: i.name, label: `${i.title} (${i.name})` }))}
              onChange={setIndicators}
            />
            <QuartileTable rows={data.indicators} />
          </Card>
        </>
      )}
      {can(me, 'insight:run') && <Lookalike seed={name} />}
    </div>
  );
}

function tgiCsv(tags: Profile[]): string {
  const rows = tags.flatMap((p) =>
    p.values.map((v) => [p.tag, v.value, v.segment_count, v.segment_share, v.base_count, v.base_share, v.tgi]),
  );
  return toCsv(['tag', 'value', 'segment_count', 'segment_share', 'base_count', 'base_share', 'tgi'], rows);
}

function TgiChart({ profile, title }: { profile: Profile; title: string }) {
  const { t } = useI18n();
  const option = useMemo<ChartOption>(() => {
    const values = [...profile.values].sort((a, b) => (a.tgi ?? 0) - (b.tgi ?? 0));
    return {
      title: { text: `${title} · ${t('ins.distance', { d: profile.distance.toFixed(2) })}`, textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      legend: { top: 0, right: 0 },
      grid: { left: 100, right: 64, top: 40, bottom: 28 },
      xAxis: { type: 'value', axisLabel: { formatter: '{value}%' }, max: 100 },
      yAxis: { type: 'category', data: values.map((v) => v.value), axisLabel: { width: 90, overflow: 'truncate' } },
      series: [
        {
          name: t('ins.segmentShare'),
          type: 'bar',
          data: values.map((v) => Math.round(v.segment_share * 1000) / 10),
          label: { show: true, position: 'right', formatter: (p: { dataIndex: number }) => `TGI ${values[p.dataIndex]?.tgi ?? '—'}` },
        },
        { name: t('ins.baseShare'), type: 'bar', data: values.map((v) => Math.round(v.base_share * 1000) / 10) },
      ],
    };
  }, [profile, title, t]);
  return <Chart option={option} height={Math.max(180, profile.values.length * 44 + 70)} testId={`tgi-${profile.tag}`} />;
}

function QuartileTable({ rows }: { rows: Schemas['IndicatorComparison'][] }) {
  const { t } = useI18n();
  const num = (v: number | null | undefined) => (v === null || v === undefined ? '—' : Number(v.toFixed(2)).toLocaleString());
  if (rows.length === 0) return <Empty description={t('common.empty')} />;
  const data = rows.flatMap((r) => [
    { key: `${r.indicator}:s`, indicator: r.indicator, who: t('ins.row.segment'), ...r.segment },
    { key: `${r.indicator}:b`, indicator: r.indicator, who: t('ins.row.base'), ...r.base },
  ]);
  return (
    <Table
      size="small"
      pagination={false}
      dataSource={data}
      columns={[
        { title: t('c360.indicators'), dataIndex: 'indicator', onCell: (_, i) => ({ rowSpan: (i ?? 0) % 2 === 0 ? 2 : 0 }) },
        { title: '', dataIndex: 'who' },
        { title: t('ins.q1'), dataIndex: 'p25', render: num },
        { title: t('ins.median'), dataIndex: 'median', render: num },
        { title: t('ins.q3'), dataIndex: 'p75', render: num },
        { title: t('ins.mean'), dataIndex: 'mean', render: num },
      ]}
    />
  );
}

function Lookalike({ seed }: { seed: string }) {
  const { t } = useI18n();
  const [top, setTop] = useState(100);
  const [jobId, setJobId] = useState<string | null>(null);
  const start = useStartLookalike(seed);
  const job = useJob(jobId);
  const result = job.data?.result as { target?: string; auc_holdout?: number; size?: number } | null | undefined;
  return (
    <Card title={t('ins.lookalike')} size="small" data-testid="lookalike">
      <Space wrap>
        <Typography.Text>{t('ins.lookalike.top')}</Typography.Text>
        <InputNumber min={1} max={10_000_000} value={top} onChange={(v) => setTop(v ?? 100)} />
        <Button type="primary" loading={start.isPending} onClick={() => start.mutateAsync(top).then((j) => setJobId(j.id)).catch(() => undefined)}>
          {t('ins.lookalike.start')}
        </Button>
      </Space>
      {job.data && (
        <div style={{ marginTop: 12 }}>
          <Progress percent={Math.round(job.data.progress * 100)} status={job.data.stage === 'failed' ? 'exception' : undefined} />
          <Typography.Text type="secondary">{t('ins.lookalike.stage', { stage: job.data.stage })}</Typography.Text>
          {job.data.error && <Alert type="error" showIcon title={job.data.error} />}
          {result?.target && (
            <Alert
              type="success"
              showIcon
              style={{ marginTop: 8 }}
              title={t('ins.lookalike.done', { target: result.target })}
              description={
                <Space>
                  {t('ins.lookalike.auc', { auc: result.auc_holdout ?? '—' })}
                  <Link to={`/segments/${result.target}`}>{t('ins.lookalike.open')}</Link>
                </Space>
              }
            />
          )}
        </div>
      )}
    </Card>
  );
}
