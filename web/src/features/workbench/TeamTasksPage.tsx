import { App, Button, Input, Popover, Space, Table, Tag, Typography } from 'antd';
import { useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import { ApiError } from '@/api/client';
import { useI18n } from '@/app/i18n';
import { PageHeader } from '@/components/PageHeader';
import { historyOrder } from '@/features/customers/taskOrder';
import { formatTime } from '@/lib/format';
import { valueLabel } from '@/lib/labels';
import { useOpenTasks, useTaskAction, type Task } from './queries';

/** 团队任务: a branch manager's open tasks of the branch — whose they are, due and overdue, escalated — with
 * reassignment to another advisor; the advisors' load counted above. */
export default function TeamTasksPage() {
  const { t } = useI18n();
  const tasks = useOpenTasks();
  const ordered = useMemo(() => historyOrder(tasks.data?.tasks ?? []), [tasks.data]);
  const load = useMemo(() => {
    const counts = new Map<string, { open: number; overdue: number }>();
    for (const x of ordered) {
      const key = x.advisor_id ?? '—';
      const now = counts.get(key) ?? { open: 0, overdue: 0 };
      counts.set(key, { open: now.open + 1, overdue: now.overdue + (x.overdue ? 1 : 0) });
    }
    return [...counts.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [ordered]);
  return (
    <div data-testid="team-tasks-page">
      <PageHeader title={t('menu.workbench.team')} sub={t('task.count', { n: ordered.length })} />
      <Space wrap style={{ marginBottom: 12 }}>
        {load.map(([advisor, n]) => (
          <Tag key={advisor} color={n.overdue ? 'red' : 'blue'}>
            {advisor === '—' ? t('task.unassigned') : advisor}: {n.open}
            {n.overdue ? ` · ${t('task.overdue')} ${n.overdue}` : ''}
          </Tag>
        ))}
      </Space>
      <Table
        rowKey="id"
        loading={tasks.isPending}
        dataSource={ordered}
        pagination={{ pageSize: 50 }}
        rowClassName={(x: Task) => (x.overdue ? 'task-row-overdue' : '')}
        columns={[
          { title: t('task.due'), dataIndex: 'due_at', width: 170, render: (v: string, x: Task) => <Typography.Text type={x.overdue ? 'danger' : undefined}>{formatTime(v)}</Typography.Text> },
          { title: t('task.priority'), dataIndex: 'priority', width: 80, render: (v: string) => valueLabel(t, 'val.priority', v) },
          { title: t('task.title'), dataIndex: 'title' },
          { title: t('journey.runs.customer'), dataIndex: 'customer_no', width: 130, render: (v: string) => <Link to={`/customers/${encodeURIComponent(v)}`}>{v}</Link> },
          { title: t('task.advisor'), dataIndex: 'advisor_id', width: 110, render: (v?: string | null) => v ?? t('task.unassigned') },
          { title: t('task.escalated'), dataIndex: 'escalated_at', width: 150, render: (v?: string | null) => (v ? <Tag color="red">{formatTime(v)}</Tag> : '—') },
          { title: t('journey.actions'), width: 120, render: (_, x: Task) => <Reassign task={x} /> },
        ]}
      />
    </div>
  );
}

function Reassign({ task }: { task: Task }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const { assign } = useTaskAction(task.id);
  const [advisor, setAdvisor] = useState('');
  const [open, setOpen] = useState(false);
  const submit = async () => {
    try {
      await assign.mutateAsync(advisor.trim());
      message.success(t('task.reassigned', { advisor: advisor.trim() }));
      setOpen(false);
    } catch (error) {
      message.error(error instanceof ApiError ? error.message : String(error));
    }
  };
  return (
    <Popover
      open={open}
      onOpenChange={setOpen}
      trigger="click"
      content={
        <Space.Compact>
          <Input placeholder={t('task.advisorId')} value={advisor} onChange={(e) => setAdvisor(e.target.value)} style={{ width: 140 }} />
          <Button type="primary" disabled={!advisor.trim()} loading={assign.isPending} onClick={submit}>
            {t('task.reassign')}
          </Button>
        </Space.Compact>
      }
    >
      <Button size="small" type="link" data-testid={`task-reassign-${task.id}`}>
        {t('task.reassign')}
      </Button>
    </Popover>
  );
}
