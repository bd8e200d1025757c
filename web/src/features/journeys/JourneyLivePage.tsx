import { ReactFlowProvider } from '@xyflow/react';
import { Button, Descriptions, Drawer, Popconfirm, Space, Table, Tag, Timeline, Typography } from 'antd';
import { useMemo, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { can, useMe } from '@/app/auth';
import { useI18n } from '@/app/i18n';
import { PageLoading } from '@/app/PageLoading';
import { formatTime } from '@/lib/format';
import { valueLabel } from '@/lib/labels';
import { toCanvas, type Json } from './graph';
import { JourneyCanvas } from './JourneyCanvas';
import { runLabel } from './JourneyNode';
import { actionsOf } from './JourneysPage';
import {
  useJourney, useJourneys, useJourneyStats, useLifecycleAction, useNodeRuns, useRunPath, type JourneyFault, type NodeStats,
  type RunRow,
} from './queries';
import { ReasonBreakdown } from './ReasonBreakdown';
import { mergeReasons } from './reasons';
import { StatusBadge } from './status';

const NO_FAULTS = new Map<string, JourneyFault[]>();

/** 运行监控: the live version's canvas, read-only, each node with its counts refreshing every 5 s; a node's
 * customers (masked per rights) and one customer's path; pause, resume, stop. */
export default function JourneyLivePage() {
  const { name = '' } = useParams();
  const list = useJourneys();
  const summary = list.data?.find((j) => j.name === name);
  const definition = useJourney(summary ? name : undefined, summary?.live_version ?? summary?.latest_version);
  if (list.isPending || (summary && definition.isPending)) return <PageLoading />;
  if (!summary || !definition.data) return <Typography.Text type="danger">{name}</Typography.Text>;
  return (
    <ReactFlowProvider>
      <Live name={name} definition={definition.data as Json} status={summary.status} version={summary.live_version ?? summary.latest_version} />
    </ReactFlowProvider>
  );
}

function Live({ name, definition, status, version }: { name: string; definition: Json; status: string; version: number }) {
  const { t } = useI18n();
  const me = useMe();
  const canvas = useMemo(() => toCanvas(definition), [definition]);
  const stats = useJourneyStats(name);
  const act = useLifecycleAction(name);
  const [node, setNode] = useState<string | null>(null);
  const byNode = useMemo(() => new Map((stats.data?.nodes ?? []).map((n) => [n.node, n])), [stats.data]);
  const goal = stats.data?.goal;
  const allReasons = useMemo(() => mergeReasons((stats.data?.nodes ?? []).map((n) => n.skip_reasons)), [stats.data]);
  const heldBack = Object.values(allReasons).reduce((a, b) => a + b, 0);
  const [reasonsOpen, setReasonsOpen] = useState(false);
  return (
    <div className="journey-editor">
      <div className="journey-toolbar">
        <Space wrap>
          <Typography.Title level={4} style={{ margin: 0 }}>
            {String(definition.title ?? name)}
          </Typography.Title>
          <StatusBadge status={status} />
          <Tag color="blue">V{version}</Tag>
          <Typography.Text type="secondary">{t('journey.live.refresh')}</Typography.Text>
        </Space>
        <Space wrap style={{ marginLeft: 'auto' }}>
          <Link to={`/journeys/${name}/report`} data-testid="journey-live-report">{t('journey.report')}</Link>
          {!me.scoped && <Link to={`/journeys/${name}/edit`}>{t('journey.edit')}</Link>}
          {can(me, 'journey:operate') &&
            actionsOf(status).map((action) => (
              <Popconfirm key={action} title={t(`journey.lifecycle.${action}.confirm`)} onConfirm={() => act(action)}>
                <Button danger={action === 'stop'} data-testid={`journey-${action}`}>
                  {t(`journey.lifecycle.${action}`)}
                </Button>
              </Popconfirm>
            ))}
        </Space>
      </div>
      {stats.data && (
        <Descriptions size="small" column={4} style={{ padding: '0 16px' }} data-testid="journey-live-summary">
          <Descriptions.Item label={t('journey.stats.entered')}>{stats.data.entered.toLocaleString()}</Descriptions.Item>
          <Descriptions.Item label={t('journey.sim.runs')}>
            <Space wrap>
              {Object.entries(stats.data.runs).map(([s, n]) => (
                <Tag key={s}>
                  {runLabel(t, s)} {n.toLocaleString()}
                </Tag>
              ))}
            </Space>
          </Descriptions.Item>
          {heldBack > 0 && (
            <Descriptions.Item label={t('journey.stats.skipped')}>
              <Button type="link" size="small" style={{ padding: 0 }} onClick={() => setReasonsOpen(true)} data-testid="journey-held-back">
                {heldBack.toLocaleString()}
              </Button>
            </Descriptions.Item>
          )}
          {goal && (
            <Descriptions.Item label={t('journey.goal')}>
              {t('journey.live.goal', {
                treated: goal.treated.rate === null || goal.treated.rate === undefined ? '—' : `${(goal.treated.rate * 100).toFixed(1)}%`,
                holdout: goal.holdout.rate === null || goal.holdout.rate === undefined ? '—' : `${(goal.holdout.rate * 100).toFixed(1)}%`,
              })}
            </Descriptions.Item>
          )}
        </Descriptions>
      )}
      <div className="journey-body">
        <JourneyCanvas canvas={canvas} selected={node ? [node] : []} faults={NO_FAULTS} stats={byNode} readOnly onSelect={() => undefined} onNodeOpen={setNode} />
      </div>
      {node && <NodeRuns name={name} node={node} stats={byNode.get(node)} onClose={() => setNode(null)} />}
      <Drawer open={reasonsOpen} title={t('journey.live.reasons')} onClose={() => setReasonsOpen(false)} width={560}>
        <ReasonBreakdown reasons={allReasons} testId="journey-reasons" />
      </Drawer>
    </div>
  );
}

/** A node's counts: entered, waiting, passed on, ended there, each outcome and action status, and why
 * messages were held back. */
function NodeStatsView({ stats }: { stats: NodeStats }) {
  const { t } = useI18n();
  const actions = Object.entries(stats.actions).filter(([status]) => status !== 'attempted');
  return (
    <div data-testid="journey-node-stats" style={{ marginBottom: 16 }}>
      <Descriptions size="small" column={2} title={t('journey.live.nodeStats')}>
        <Descriptions.Item label={t('journey.stats.entered')}>{stats.entered.toLocaleString()}</Descriptions.Item>
        <Descriptions.Item label={t('journey.stats.waiting')}>{stats.waiting.toLocaleString()}</Descriptions.Item>
        <Descriptions.Item label={t('journey.stats.passed')}>{stats.passed.toLocaleString()}</Descriptions.Item>
        <Descriptions.Item label={t('journey.stats.ended')}>{stats.ended.toLocaleString()}</Descriptions.Item>
        {actions.map(([status, n]) => (
          <Descriptions.Item key={status} label={valueLabel(t, 'val.message', status)}>
            {n.toLocaleString()}
          </Descriptions.Item>
        ))}
      </Descriptions>
      {Object.keys(stats.skip_reasons ?? {}).length > 0 && (
        <>
          <Typography.Title level={5}>{t('journey.live.reasons')}</Typography.Title>
          <ReasonBreakdown reasons={stats.skip_reasons} testId="journey-node-reasons" />
        </>
      )}
      {Object.keys(stats.failure_reasons ?? {}).length > 0 && (
        <>
          <Typography.Title level={5}>{t('journey.stats.failed')}</Typography.Title>
          <ul>
            {Object.entries(stats.failure_reasons ?? {}).map(([why, n]) => (
              <li key={why}>
                <Typography.Text code>{why}</Typography.Text> {n.toLocaleString()}
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

function NodeRuns({ name, node, stats, onClose }: { name: string; node: string; stats?: NodeStats; onClose: () => void }) {
  const { t } = useI18n();
  const runs = useNodeRuns(name, node);
  const [run, setRun] = useState<string | null>(null);
  return (
    <Drawer open title={t('journey.live.atNode', { node })} onClose={onClose} width={560} data-testid="journey-node-runs">
      {stats && <NodeStatsView stats={stats} />}
      <Table
        size="small"
        rowKey="run"
        loading={runs.isPending}
        dataSource={runs.data?.runs ?? []}
        pagination={{ pageSize: 20 }}
        onRow={(r: RunRow) => ({ onClick: () => setRun(r.run), style: { cursor: 'pointer' } })}
        columns={[
          { title: t('journey.runs.customer'), dataIndex: 'customer_no' },
          { title: t('journey.runs.status'), dataIndex: 'status', render: (v: string) => runLabel(t, v) },
          { title: t('journey.runs.entered'), dataIndex: 'entered_at', render: (v: string) => formatTime(v) },
          { title: t('journey.runs.wake'), dataIndex: 'wake_at', render: (v?: string | null) => formatTime(v) },
        ]}
      />
      {run && <RunPathView run={run} />}
    </Drawer>
  );
}

function RunPathView({ run }: { run: string }) {
  const { t } = useI18n();
  const path = useRunPath(run);
  if (!path.data) return null;
  return (
    <div data-testid="journey-run-path">
      <Typography.Title level={5}>{t('journey.live.path')}</Typography.Title>
      {path.data.steps.length === 0 && path.data.effects.length === 0 && (
        <Typography.Paragraph type="secondary">{t('journey.live.noSteps', { node: path.data.node ?? '—' })}</Typography.Paragraph>
      )}
      <Timeline
        items={[
          ...path.data.steps.map((s) => ({
            children: `${formatTime(s.at)} ${s.node} → ${s.outcome}${s.detail ? `（${s.detail}）` : ''}`,
          })),
          ...path.data.effects.map((e) => ({
            color: e.status === 'done' || e.status === 'sent' ? 'green' : e.status === 'skipped' || e.status === 'failed' ? 'red' : 'blue',
            children: `${e.node} · ${e.kind} · ${e.status}${e.reason ? `（${e.reason}）` : ''}`,
          })),
        ]}
      />
    </div>
  );
}
