import { ArrowLeftOutlined } from '@ant-design/icons';
import { Alert, App, Button, Card, DatePicker, Descriptions, Empty, Form, Grid, Input, List, Radio, Space, Tag, Typography } from 'antd';
import type { Dayjs } from 'dayjs';
import { useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import { ApiError } from '@/api/client';
import { can, useMe } from '@/app/auth';
import { useI18n } from '@/app/i18n';
import { PageHeader } from '@/components/PageHeader';
import { useCustomer360 } from '@/features/customers/queries';
import { historyOrder } from '@/features/customers/taskOrder';
import { formatTime, formatValue } from '@/lib/format';
import { valueLabel } from '@/lib/labels';
import { useOpenTasks, useTaskAction, type Task } from './queries';

const PRIORITY_COLOURS: Record<string, string> = { urgent: 'red', high: 'orange', normal: 'blue', low: 'default' };
const OUTCOMES = ['reached', 'not_reached', 'declined', 'converted', 'follow_up'] as const;

/** 我的任务: an advisor's open tasks, soonest due first (overdue in red), and beside the chosen one the customer,
 * the talking points, the suitability facts and the outcome form. On a phone the list and the task take the
 * screen in turn (advisors open it from the WeCom notification). */
export default function MyTasksPage() {
  const { t } = useI18n();
  const screens = Grid.useBreakpoint();
  const phone = !screens.md;
  const tasks = useOpenTasks();
  const ordered = useMemo(() => historyOrder(tasks.data?.tasks ?? []), [tasks.data]);
  const [chosen, setChosen] = useState<string | null>(null);
  const task = ordered.find((x) => x.id === chosen) ?? (phone ? undefined : ordered[0]);
  const list = (
    <List
      className="task-list"
      loading={tasks.isPending}
      dataSource={ordered}
      locale={{ emptyText: <Empty description={t('task.none')} /> }}
      renderItem={(x: Task) => (
        <List.Item
          onClick={() => setChosen(x.id)}
          className={x.id === task?.id ? 'task-item selected' : 'task-item'}
          data-testid={`task-${x.id}`}
        >
          <List.Item.Meta
            title={
              <Space wrap size={4}>
                <Tag color={PRIORITY_COLOURS[x.priority]}>{valueLabel(t, 'val.priority', x.priority)}</Tag>
                <span>{x.title}</span>
              </Space>
            }
            description={
              <Space wrap size={8}>
                <span>{x.customer_no}</span>
                <Typography.Text type={x.overdue ? 'danger' : 'secondary'}>
                  {x.overdue ? t('task.overdue') : t('task.due')} {formatTime(x.due_at as unknown as string)}
                </Typography.Text>
              </Space>
            }
          />
        </List.Item>
      )}
    />
  );
  if (phone) {
    return (
      <div data-testid="my-tasks-page">
        {task ? (
          <>
            <Button type="link" icon={<ArrowLeftOutlined />} onClick={() => setChosen(null)} style={{ paddingLeft: 0 }}>
              {t('task.back')}
            </Button>
            <TaskDetail key={task.id} task={task} />
          </>
        ) : (
          <>
            <PageHeader title={t('menu.workbench.tasks')} sub={t('task.count', { n: ordered.length })} />
            {list}
          </>
        )}
      </div>
    );
  }
  return (
    <div data-testid="my-tasks-page">
      <PageHeader title={t('menu.workbench.tasks')} sub={t('task.count', { n: ordered.length })} />
      <div className="workbench">
        <div className="workbench-list">{list}</div>
        <div className="workbench-detail">{task ? <TaskDetail key={task.id} task={task} /> : <Empty description={t('task.none')} />}</div>
      </div>
    </div>
  );
}

function TaskDetail({ task }: { task: Task }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const me = useMe();
  const actions = useTaskAction(task.id);
  const [outcome, setOutcome] = useState<(typeof OUTCOMES)[number] | null>(null);
  const [note, setNote] = useState('');
  const [followUp, setFollowUp] = useState<Dayjs | null>(null);
  const working = can(me, 'task:work');
  const submit = async () => {
    if (!outcome) return;
    try {
      await actions.complete.mutateAsync({ outcome, note, follow_up_on: followUp ? followUp.format('YYYY-MM-DD') : null });
      message.success(t('task.completed'));
    } catch (error) {
      message.error(error instanceof ApiError ? error.message : String(error));
    }
  };
  return (
    <div data-testid="task-detail">
      <Card
        size="small"
        title={
          <Space wrap>
            <Tag color={PRIORITY_COLOURS[task.priority]}>{valueLabel(t, 'val.priority', task.priority)}</Tag>
            <span style={{ whiteSpace: 'normal' }}>{task.title}</span>
          </Space>
        }
        extra={task.overdue ? <Tag color="red">{t('task.overdue')}</Tag> : null}
      >
        <Typography.Paragraph type="secondary">{task.reason}</Typography.Paragraph>
        <Descriptions size="small" column={1}>
          <Descriptions.Item label={t('task.source')}>
            {valueLabel(t, 'val.taskSource', task.source)} {task.rule ?? task.journey ?? ''}
          </Descriptions.Item>
          <Descriptions.Item label={t('task.due')}>{formatTime(task.due_at as unknown as string)}</Descriptions.Item>
          <Descriptions.Item label={t('task.claimedBy')}>{task.claimed_by ?? t('task.unclaimed')}</Descriptions.Item>
        </Descriptions>
        <Typography.Title level={5}>{t('task.talkingPoints')}</Typography.Title>
        <Typography.Paragraph style={{ whiteSpace: 'pre-wrap' }} data-testid="task-talking-points">
          {task.talking_points || '—'}
        </Typography.Paragraph>
        {Object.keys(task.facts).length > 0 && <Facts title={t('task.facts')} facts={task.facts} />}
        {Object.keys(task.suitability).length > 0 && <Facts title={t('task.suitability')} facts={task.suitability} />}
      </Card>
      <CustomerCard customerNo={task.customer_no} />
      {working && (
        <Card size="small" title={t('task.outcome')} style={{ marginTop: 12 }}>
          {!task.claimed_by && (
            <Button
              onClick={() => actions.claim.mutate(undefined, { onError: (error) => message.error(error instanceof ApiError ? error.message : String(error)) })}
              loading={actions.claim.isPending}
              style={{ marginBottom: 12 }}
              data-testid="task-claim"
            >
              {t('task.claim')}
            </Button>
          )}
          <Form layout="vertical">
            <Radio.Group
              value={outcome}
              onChange={(e) => setOutcome(e.target.value)}
              optionType="button"
              options={OUTCOMES.map((o) => ({ value: o, label: valueLabel(t, 'val.outcome', o) }))}
              style={{ display: 'flex', flexWrap: 'wrap', gap: 4, marginBottom: 12 }}
              data-testid="task-outcome"
            />
            {outcome === 'follow_up' && (
              <Form.Item label={t('task.followUp')} required>
                <DatePicker value={followUp} onChange={setFollowUp} style={{ width: '100%' }} />
              </Form.Item>
            )}
            <Form.Item label={t('task.note')}>
              <Input.TextArea rows={3} maxLength={4000} value={note} onChange={(e) => setNote(e.target.value)} data-testid="task-note" />
            </Form.Item>
            <Button type="primary" block disabled={!outcome || (outcome === 'follow_up' && !followUp)} loading={actions.complete.isPending} onClick={submit} data-testid="task-complete">
              {t('task.submit')}
            </Button>
          </Form>
        </Card>
      )}
    </div>
  );
}

function Facts({ title, facts }: { title: string; facts: Record<string, unknown> }) {
  return (
    <>
      <Typography.Title level={5}>{title}</Typography.Title>
      <Descriptions size="small" column={1} bordered>
        {Object.entries(facts).map(([key, value]) => (
          <Descriptions.Item key={key} label={key}>
            {typeof value === 'object' && value !== null ? JSON.stringify(value) : formatValue(value)}
          </Descriptions.Item>
        ))}
      </Descriptions>
    </>
  );
}

/** The customer beside the task: a few figures and tags, masked per rights, with the whole 360° a click away. */
function CustomerCard({ customerNo }: { customerNo: string }) {
  const { t } = useI18n();
  const customer = useCustomer360(customerNo);
  if (customer.isError) return <Alert type="warning" showIcon style={{ marginTop: 12 }} message={t('task.noCustomer')} />;
  const data = customer.data;
  const attributes = (data?.attributes ?? {}) as Record<string, unknown>;
  const tags = (data?.tags ?? {}) as Record<string, unknown>;
  return (
    <Card
      size="small"
      loading={customer.isPending}
      title={`${t('c360.title')} · ${customerNo}`}
      extra={<Link to={`/customers/${encodeURIComponent(customerNo)}`}>{t('task.open360')}</Link>}
      style={{ marginTop: 12 }}
      data-testid="task-customer"
    >
      <Descriptions size="small" column={2}>
        {['name', 'risk_level', 'investor_type', 'branch_id'].map((key) => (
          <Descriptions.Item key={key} label={t(`attr.${key}` as 'attr.name')}>
            {formatValue(attributes[key])}
          </Descriptions.Item>
        ))}
      </Descriptions>
      <Space wrap size={4}>
        {Object.entries(tags)
          .slice(0, 12)
          .map(([tag, value]) => (
            <Tag key={tag}>
              {tag}: {formatValue(value)}
            </Tag>
          ))}
      </Space>
    </Card>
  );
}
