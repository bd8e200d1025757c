import { ReactFlowProvider } from '@xyflow/react';
import { Alert, App, Button, DatePicker, Descriptions, Form, Input, Modal, Progress, Space, Table, Tag, Timeline, Typography } from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { useMemo, useState } from 'react';
import { ApiError } from '@/api/client';
import { useI18n } from '@/app/i18n';
import { useJob } from '@/features/insight/queries';
import { formatTime } from '@/lib/format';
import type { Canvas, Json } from './graph';
import { JourneyCanvas } from './JourneyCanvas';
import { runLabel } from './JourneyNode';
import { useStartSimulation, type JourneyFault, type NodeStats } from './queries';

interface Props {
  name: string;
  /** The saved version the canvas shows (the newest when absent). */
  version?: number;
  canvas: Canvas;
  onClose: () => void;
}

const NO_FAULTS = new Map<string, JourneyFault[]>();

/** 试运行: replay a period's recorded events through the saved journey in the background, then see each node's
 * counts painted on the canvas; with a customer number, walk that customer step by step with the reasons. */
export function SimulationModal({ name, version, canvas, onClose }: Props) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [period, setPeriod] = useState<[Dayjs, Dayjs]>([dayjs().subtract(7, 'day'), dayjs()]);
  const [customer, setCustomer] = useState('');
  const [jobId, setJobId] = useState<string | null>(null);
  const start = useStartSimulation(name);
  const job = useJob(jobId);
  const result = job.data?.stage === 'done' ? (job.data.result as Json | null) : null;
  const stats = useMemo(
    () => new Map(((result?.nodes as NodeStats[] | undefined) ?? []).map((n) => [n.node, n])),
    [result],
  );

  const run = async () => {
    try {
      const started = await start.mutateAsync({
        from: period[0].format('YYYY-MM-DD'),
        to: period[1].format('YYYY-MM-DD'),
        ...(version ? { version } : {}),
        ...(customer.trim() ? { customers: [customer.trim()], sample: 1 } : { sample: 5 }),
      });
      setJobId(started.id);
    } catch (error) {
      message.error(error instanceof ApiError ? error.message : String(error));
    }
  };

  return (
    <Modal open title={t('journey.simulate')} onCancel={onClose} footer={null} width="90vw" data-testid="simulation-modal">
      <Form layout="inline" style={{ marginBottom: 12 }}>
        <Form.Item label={t('journey.sim.period')}>
          <DatePicker.RangePicker value={period} onChange={(v) => v && v[0] && v[1] && setPeriod([v[0], v[1]])} allowClear={false} data-testid="sim-period" />
        </Form.Item>
        <Form.Item label={t('journey.sim.customer')} tooltip={t('journey.sim.customerHelp')}>
          <Input value={customer} onChange={(e) => setCustomer(e.target.value)} style={{ width: 160 }} data-testid="sim-customer" />
        </Form.Item>
        <Button type="primary" onClick={run} loading={start.isPending} disabled={Boolean(jobId && !job.isError && !job.data?.error && job.data?.stage !== 'done')} data-testid="sim-run">
          {t('journey.sim.run')}
        </Button>
      </Form>
      {job.data && job.data.stage !== 'done' && !job.data.error && (
        <Progress percent={Math.round(job.data.progress * 100)} status="active" data-testid="sim-progress" />
      )}
      {job.data?.error && <Alert type="error" showIcon message={job.data.error} />}
      {job.isError && <Alert type="error" showIcon message={job.error.message} />}
      {result && (
        <>
          <Descriptions size="small" column={4} data-testid="sim-summary">
            <Descriptions.Item label={t('journey.sim.events')}>{Number(result.events_replayed).toLocaleString()}</Descriptions.Item>
            <Descriptions.Item label={t('journey.stats.entered')}>{Number(result.entered).toLocaleString()}</Descriptions.Item>
            <Descriptions.Item label={t('journey.sim.started')}>{String(result.started_on)}</Descriptions.Item>
            <Descriptions.Item label={t('journey.sim.runs')}>
              <Space wrap>
                {Object.entries((result.runs as Record<string, number>) ?? {}).map(([status, n]) => (
                  <Tag key={status}>
                    {runLabel(t, status)} {n.toLocaleString()}
                  </Tag>
                ))}
              </Space>
            </Descriptions.Item>
          </Descriptions>
          {((result.notes as string[]) ?? []).map((note) => (
            <Alert key={note} type="info" showIcon message={note} style={{ marginBottom: 8 }} />
          ))}
          <div style={{ height: 420 }}>
            <ReactFlowProvider>
              <JourneyCanvas canvas={canvas} selected={[]} faults={NO_FAULTS} stats={stats} readOnly onSelect={() => undefined} />
            </ReactFlowProvider>
          </div>
          <Walks result={result} />
        </>
      )}
    </Modal>
  );
}

function Walks({ result }: { result: Json }) {
  const { t } = useI18n();
  const walked = (result.customers as Json[] | undefined) ?? [];
  const paths = (result.paths as Json[] | undefined) ?? [];
  return (
    <>
      {walked.map((w) => (
        <Alert
          key={String(w.customer_no)}
          type={w.entered ? 'success' : 'warning'}
          showIcon
          style={{ marginTop: 8 }}
          message={`${String(w.customer_no)}: ${w.entered ? t('journey.sim.entered') : t('journey.sim.notEntered')}`}
          description={((w.why as string[]) ?? []).join('；') || undefined}
          data-testid="sim-walk"
        />
      ))}
      <Typography.Title level={5} style={{ marginTop: 12 }}>
        {t('journey.sim.paths')}
      </Typography.Title>
      <Table
        size="small"
        rowKey={(p) => String(p.customer_no) + String((p.steps as Json[])[0]?.at)}
        dataSource={paths}
        pagination={false}
        columns={[
          { title: t('journey.runs.customer'), dataIndex: 'customer_no', width: 140 },
          { title: t('journey.runs.status'), dataIndex: 'status', width: 100, render: (v: string) => runLabel(t, v) },
          {
            title: t('journey.sim.steps'),
            render: (_, p: Json) => (
              <Timeline
                items={((p.steps as Json[]) ?? []).map((s) => ({
                  children: `${formatTime(s.at as string | null)} ${String(s.node)} → ${String(s.outcome)}${s.detail ? `（${String(s.detail)}）` : ''}`,
                }))}
              />
            ),
          },
        ]}
      />
    </>
  );
}
