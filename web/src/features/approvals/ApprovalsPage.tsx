import { ReactFlowProvider } from '@xyflow/react';
import { Alert, App, Badge, Button, Descriptions, Drawer, Input, Segmented, Space, Table, Tooltip, Typography } from 'antd';
import { useMemo, useState } from 'react';
import { ApiError } from '@/api/client';
import { can, useMe } from '@/app/auth';
import { useI18n } from '@/app/i18n';
import { PageHeader } from '@/components/PageHeader';
import { diffNodes, diffSettings, versionMarks } from '@/features/journeys/diff';
import { toCanvas, type Json } from '@/features/journeys/graph';
import { JourneyCanvas } from '@/features/journeys/JourneyCanvas';
import { useJourney, useJourneys, type JourneyFault } from '@/features/journeys/queries';
import { formatTime } from '@/lib/format';
import type { MessageKey } from '@/locales/zh-CN';
import { useApprovals, useDecide, type Approval } from './queries';

const STATUS_BADGES: Record<string, 'processing' | 'success' | 'error' | 'default'> = {
  pending: 'processing',
  approved: 'success',
  used: 'default',
  rejected: 'error',
  withdrawn: 'default',
};

type View = 'inbox' | 'mine' | 'all';

/** 审批: a reviewer's queue of pending requests (journeys, templates, rules, exports) and every request; a maker's
 * own requests and their state. A request opens with its diff — for a journey, on the canvas. */
export default function ApprovalsPage() {
  const { t } = useI18n();
  const me = useMe();
  const reviewer = can(me, 'approval:review');
  const [view, setView] = useState<View>(reviewer ? 'inbox' : 'mine');
  const query = view === 'inbox' ? { status: 'pending' as const } : view === 'mine' ? { maker: me.username } : {};
  const approvals = useApprovals(query);
  const [open, setOpen] = useState<Approval | null>(null);
  const views: View[] = reviewer ? ['inbox', 'mine', 'all'] : ['mine'];
  return (
    <div data-testid="approvals-page">
      <PageHeader
        title={t('menu.approvals')}
        sub={t('approval.sub')}
        extra={<Segmented value={view} onChange={(v) => setView(v as View)} options={views.map((v) => ({ value: v, label: t(`approval.view.${v}` as MessageKey) }))} />}
      />
      <Table
        rowKey="id"
        loading={approvals.isPending}
        dataSource={approvals.data ?? []}
        pagination={{ pageSize: 20 }}
        onRow={(a: Approval) => ({ onClick: () => setOpen(a), style: { cursor: 'pointer' } })}
        columns={[
          { title: '#', dataIndex: 'id', width: 70 },
          { title: t('approval.action'), dataIndex: 'action', render: (v: string) => actionLabel(t, v) },
          { title: t('approval.target'), dataIndex: 'target' },
          { title: t('approval.summary'), dataIndex: 'summary', ellipsis: true },
          { title: t('approval.maker'), dataIndex: 'maker', width: 120 },
          { title: t('approval.status'), dataIndex: 'status', width: 110, render: (v: string) => <StatusBadge status={v} /> },
          { title: t('approval.created'), dataIndex: 'created_at', width: 170, render: (v: string) => formatTime(v) },
        ]}
      />
      {open && <ApprovalDrawer approval={open} onClose={() => setOpen(null)} />}
    </div>
  );
}

function actionLabel(t: (key: MessageKey) => string, action: string): string {
  const key = `approval.kind.${action}`;
  return ['journey.publish', 'template.activate', 'segment.change', 'definitions.apply', 'segment.export'].includes(action) ? t(key as MessageKey) : action;
}

function StatusBadge({ status }: { status: string }) {
  const { t } = useI18n();
  const known = status in STATUS_BADGES;
  return <Badge status={STATUS_BADGES[status] ?? 'default'} text={known ? t(`approval.status.${status}` as MessageKey) : status} data-testid="approval-status" />;
}

function ApprovalDrawer({ approval, onClose }: { approval: Approval; onClose: () => void }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const me = useMe();
  const decide = useDecide(approval.id);
  const [reason, setReason] = useState('');
  const own = approval.maker === me.username;
  const pending = approval.status === 'pending';
  const act = async (how: 'approve' | 'reject' | 'withdraw') => {
    try {
      await decide.mutateAsync({ how, reason });
      message.success(t(`approval.done.${how}` as MessageKey));
      onClose();
    } catch (error) {
      message.error(error instanceof ApiError ? error.message : String(error));
    }
  };
  return (
    <Drawer open title={`#${approval.id} ${actionLabel(t, approval.action)}`} width="min(1100px, 96vw)" onClose={onClose} data-testid="approval-drawer">
      <Descriptions size="small" column={2} bordered>
        <Descriptions.Item label={t('approval.target')}>{approval.target}</Descriptions.Item>
        <Descriptions.Item label={t('approval.status')}><StatusBadge status={approval.status} /></Descriptions.Item>
        <Descriptions.Item label={t('approval.maker')}>{approval.maker}</Descriptions.Item>
        <Descriptions.Item label={t('approval.created')}>{formatTime(approval.created_at as string)}</Descriptions.Item>
        <Descriptions.Item label={t('approval.summary')} span={2}>{approval.summary}</Descriptions.Item>
        {approval.checker && <Descriptions.Item label={t('approval.checker')}>{approval.checker}</Descriptions.Item>}
        {approval.reason && <Descriptions.Item label={t('approval.reason')}>{approval.reason}</Descriptions.Item>}
      </Descriptions>
      {approval.action === 'journey.publish' ? <JourneyDiff payload={approval.payload} /> : <TextDiff diff={approval.diff} />}
      {pending && (
        <div style={{ marginTop: 16 }}>
          {can(me, 'approval:review') && (
            <>
              <Input.TextArea rows={2} value={reason} maxLength={2000} placeholder={t('approval.reasonHelp')} onChange={(e) => setReason(e.target.value)} data-testid="approval-reason" />
              <Space style={{ marginTop: 8 }}>
                <Tooltip title={own ? t('approval.fourEyes') : undefined}>
                  <Button type="primary" disabled={own || !reason.trim()} loading={decide.isPending} onClick={() => act('approve')} data-testid="approval-approve">
                    {t('approval.approve')}
                  </Button>
                </Tooltip>
                <Tooltip title={own ? t('approval.fourEyes') : undefined}>
                  <Button danger disabled={own || !reason.trim()} loading={decide.isPending} onClick={() => act('reject')} data-testid="approval-reject">
                    {t('approval.reject')}
                  </Button>
                </Tooltip>
              </Space>
            </>
          )}
          {own && (
            <Button style={{ marginLeft: 8, marginTop: 8 }} onClick={() => act('withdraw')} data-testid="approval-withdraw">
              {t('approval.withdraw')}
            </Button>
          )}
        </div>
      )}
    </Drawer>
  );
}

const NO_FAULTS = new Map<string, JourneyFault[]>();

/** The journey as it would go live, on the canvas, with what changed against the live version marked. */
function JourneyDiff({ payload }: { payload: Record<string, unknown> }) {
  const { t } = useI18n();
  const name = String(payload.name ?? '');
  const version = Number(payload.version ?? 0) || undefined;
  const list = useJourneys();
  const live = list.data?.find((j) => j.name === name)?.live_version ?? undefined;
  const proposed = useJourney(name, version);
  const before = useJourney(live ? name : undefined, live);
  const after = proposed.data as Json | undefined;
  const marks = useMemo(
    () => (after ? versionMarks((before.data as Json | undefined) ?? { nodes: [] }, after) : undefined),
    [after, before.data],
  );
  if (!after) return null;
  const nodes = diffNodes((before.data as Json | undefined) ?? { nodes: [] }, after);
  const settings = before.data ? diffSettings(before.data as Json, after) : [];
  return (
    <div style={{ marginTop: 16 }} data-testid="approval-journey-diff">
      <Alert
        type="info"
        showIcon
        message={
          live
            ? t('journey.diff', { v: live, added: nodes.added.length, changed: nodes.changed.length, removed: nodes.removed.length })
            : t('approval.firstVersion', { v: version ?? 1 })
        }
        description={[nodes.removed.length ? `${t('journey.diff.removed')}: ${nodes.removed.join(', ')}` : '', settings.length ? `${t('journey.diff.settings')}: ${settings.join(', ')}` : '']
          .filter(Boolean)
          .join(' · ') || undefined}
      />
      {payload.in_flight !== undefined && (
        <Typography.Paragraph style={{ marginTop: 8 }}>
          {t('approval.inFlight')}: {t(`journey.publish.${String(payload.in_flight)}` as MessageKey)}
        </Typography.Paragraph>
      )}
      <div style={{ height: 460, border: '1px solid #f0f0f0', borderRadius: 8, marginTop: 8 }}>
        <ReactFlowProvider>
          <JourneyCanvas canvas={toCanvas(after)} selected={[]} faults={NO_FAULTS} marks={marks} readOnly onSelect={() => undefined} />
        </ReactFlowProvider>
      </div>
    </div>
  );
}

/** A unified diff, each line coloured by whether it is added or removed. */
function TextDiff({ diff }: { diff: string }) {
  const { t } = useI18n();
  if (!diff) return <Typography.Paragraph type="secondary" style={{ marginTop: 16 }}>{t('approval.noDiff')}</Typography.Paragraph>;
  return (
    <pre className="approval-diff" data-testid="approval-text-diff">
      {diff.split('\n').map((line, i) => (
        <div key={i} className={line.startsWith('+') && !line.startsWith('+++') ? 'added' : line.startsWith('-') && !line.startsWith('---') ? 'removed' : undefined}>
          {line || ' '}
        </div>
      ))}
    </pre>
  );
}
