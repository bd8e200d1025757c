import { DownloadOutlined, EditOutlined, ReloadOutlined, UploadOutlined } from '@ant-design/icons';
import { useQueryClient } from '@tanstack/react-query';
import { Alert, App, Button, Card, Col, Descriptions, Empty, Result, Row, Statistic, Typography, Upload } from 'antd';
import { useMemo } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { ApiError, postForm, type Schemas } from '@/api/client';
import { can, useMe } from '@/app/auth';
import { reportError } from '@/app/errors';
import { useI18n } from '@/app/i18n';
import { PageLoading } from '@/app/PageLoading';
import { Chart, type ChartOption } from '@/components/Chart';
import { PageHeader } from '@/components/PageHeader';
import { download, formatCount, formatTime } from '@/lib/format';
import { exportSegment, useRefreshSegment, useSegment } from './queries';
import { fromRule } from './ruleTree';
import { summarize } from './summary';

/** A saved segment: size, last computed and its error, size history, the rule in words; refresh, export,
 * insight, edit, and list upload for static segments. */
export default function SegmentDetailPage() {
  const { name = '' } = useParams();
  const { t, locale } = useI18n();
  const me = useMe();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const client = useQueryClient();
  const { data, error, isPending } = useSegment(name);
  const refresh = useRefreshSegment(name);
  if (isPending) return <PageLoading />;
  if (!data) {
    const status = error instanceof ApiError && error.status === 404 ? '404' : 'error';
    return <Result status={status} title={name} subTitle={error instanceof Error ? error.message : ''} />;
  }
  const doExport = async () => {
    try {
      const answer = await exportSegment(name);
      if ('pending' in answer) message.info(t('seg.exportPending', { id: answer.pending.pending_approval.id }));
      else download(`${name}.csv`, answer.csv);
    } catch (e) {
      reportError(e);
    }
  };
  const upload = async (file: Blob) => {
    const form = new FormData();
    form.append('file', file);
    try {
      const answer = await postForm<Schemas['SegmentUploadRead']>(`/api/v1/segments/${encodeURIComponent(name)}/upload`, form);
      message.success(t('seg.upload.done', { count: answer.size ?? 0 }));
      await client.invalidateQueries({ queryKey: ['segments'] });
    } catch (e) {
      reportError(e);
    }
  };
  return (
    <div data-testid="segment-detail-page">
      <PageHeader
        title={data.title}
        sub={<Typography.Text code>{data.name}</Typography.Text>}
        extra={
          <>
            {can(me, 'analytics:read') && (
              <Button onClick={() => navigate(`/segments/${name}/insight`)} data-testid="segment-insight">
                {t('seg.insight')}
              </Button>
            )}
            {can(me, 'segment:write') && (
              <Button icon={<ReloadOutlined />} loading={refresh.isPending} onClick={() => refresh.mutateAsync().then((s) => message.success(t('seg.refreshed', { size: s.size ?? 0 }))).catch(() => undefined)}>
                {t('seg.refresh')}
              </Button>
            )}
            {can(me, 'segment:export') && (
              <Button icon={<DownloadOutlined />} onClick={doExport} data-testid="segment-export">
                {t('seg.export')}
              </Button>
            )}
            {can(me, 'segment:write') && data.kind === 'dynamic' && (
              <Button type="primary" icon={<EditOutlined />} onClick={() => navigate(`/segments/${name}/edit`)} data-testid="segment-edit">
                {t('seg.edit')}
              </Button>
            )}
          </>
        }
      />
      {data.last_error && (
        <Alert
          type="error"
          showIcon
          title={t('seg.error')}
          description={`${data.last_error}${data.retry_at ? ` · ${t('seg.retryAt', { at: formatTime(data.retry_at) })}` : ''}`}
          style={{ marginBottom: 16 }}
        />
      )}
      <Row gutter={16} style={{ marginBottom: 16 }}>
        <Col span={8}>
          <Card size="small">
            <Statistic title={t('seg.col.size')} value={formatCount(data.size ?? null, locale)} data-testid="segment-size" />
          </Card>
        </Col>
        <Col span={8}>
          <Card size="small">
            <Statistic title={t('seg.col.lastComputed')} value={formatTime(data.last_computed)} styles={{ content: { fontSize: 18 } }} />
          </Card>
        </Col>
        <Col span={8}>
          <Card size="small">
            <Statistic title={t('seg.col.kind')} value={t(data.kind === 'static' ? 'seg.kind.static' : 'seg.kind.dynamic')} styles={{ content: { fontSize: 18 } }} />
          </Card>
        </Col>
      </Row>
      <Row gutter={16}>
        <Col xs={24} xl={14}>
          <Card title={t('seg.history')} size="small">
            <SizeHistory history={data.history ?? []} />
          </Card>
        </Col>
        <Col xs={24} xl={10}>
          <Card title={t('seg.rule')} size="small">
            <Descriptions column={1} size="small">
              <Descriptions.Item label={t('summary.label')}>{summarize(fromRule(data.rule), t)}</Descriptions.Item>
              <Descriptions.Item label={t('form.description')}>{data.description || '—'}</Descriptions.Item>
              <Descriptions.Item label={t('catalog.col.owner')}>{data.owner}</Descriptions.Item>
            </Descriptions>
            {data.kind === 'static' && can(me, 'segment:write') && (
              <Upload accept=".csv,.txt,text/csv,text/plain" showUploadList={false} customRequest={({ file }) => upload(file as Blob)}>
                <Button icon={<UploadOutlined />}>{t('seg.upload')}</Button>
                <Typography.Text type="secondary" style={{ marginLeft: 8 }}>
                  {t('seg.upload.hint')}
                </Typography.Text>
              </Upload>
            )}
          </Card>
        </Col>
      </Row>
    </div>
  );
}

function SizeHistory({ history }: { history: Schemas['SizePoint'][] }) {
  const { t } = useI18n();
  const option = useMemo<ChartOption>(
    () => ({
      tooltip: { trigger: 'axis' },
      grid: { left: 56, right: 24, top: 32, bottom: 32 },
      xAxis: { type: 'category', data: history.map((h) => h.date) },
      yAxis: { type: 'value', name: t('common.people'), minInterval: 1 },
      series: [{ type: 'line', name: t('seg.col.size'), data: history.map((h) => h.size) }],
    }),
    [history, t],
  );
  if (history.length === 0) return <Empty description={t('common.empty')} />;
  return <Chart option={option} testId="chart-segment-history" />;
}
