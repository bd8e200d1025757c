import { PlusOutlined } from '@ant-design/icons';
import { Button, Popconfirm, Space, Table } from 'antd';
import { Link, useNavigate } from 'react-router-dom';
import { can, useMe } from '@/app/auth';
import { useI18n } from '@/app/i18n';
import { PageHeader } from '@/components/PageHeader';
import { useJourneys, useLifecycleAction, type JourneySummary, type Lifecycle } from './queries';
import { StatusBadge } from './status';

/** What a journey in each status allows (CONSOLE.md §4's status table). */
export function actionsOf(status: string): Lifecycle[] {
  if (status === 'live') return ['pause', 'stop'];
  if (status === 'paused') return ['resume', 'stop'];
  if (status === 'stopped') return ['archive'];
  return [];
}

/** 旅程列表: every journey with its status and versions, and what each status allows. */
export default function JourneysPage() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const me = useMe();
  const journeys = useJourneys();
  const canWrite = can(me, 'journey:write');
  return (
    <>
      <PageHeader
        title={t('menu.journeys.list')}
        sub={t('journey.list.sub')}
        extra={
          canWrite && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate('/journeys/new')} data-testid="journey-new">
              {t('journey.new')}
            </Button>
          )
        }
      />
      <Table
        rowKey="name"
        loading={journeys.isPending}
        dataSource={journeys.data ?? []}
        pagination={{ pageSize: 20, showSizeChanger: true, pageSizeOptions: [20, 50, 100] }}
        columns={[
          {
            title: t('journey.field.title'),
            render: (_, j: JourneySummary) => <Link to={`/journeys/${j.name}/edit`}>{j.title || j.name}</Link>,
          },
          { title: t('journey.field.name'), dataIndex: 'name' },
          { title: t('journey.runs.status'), render: (_, j: JourneySummary) => <StatusBadge status={j.status} /> },
          { title: t('journey.version.liveCol'), render: (_, j: JourneySummary) => (j.live_version ? `V${j.live_version}` : '—') },
          { title: t('journey.version.latestCol'), render: (_, j: JourneySummary) => `V${j.latest_version}` },
          { title: t('journey.actions'), render: (_, j: JourneySummary) => <Actions journey={j} /> },
        ]}
      />
    </>
  );
}

function Actions({ journey }: { journey: JourneySummary }) {
  const { t } = useI18n();
  const me = useMe();
  const act = useLifecycleAction(journey.name);
  const canOperate = can(me, 'journey:operate');
  return (
    <Space wrap>
      <Link to={`/journeys/${journey.name}/edit`}>{t('journey.edit')}</Link>
      {journey.live_version && <Link to={`/journeys/${journey.name}/live`}>{t('journey.live')}</Link>}
      {journey.live_version && <Link to={`/journeys/${journey.name}/report`} data-testid={`journey-report-${journey.name}`}>{t('journey.report')}</Link>}
      {canOperate &&
        actionsOf(journey.status).map((action) => (
          <Popconfirm key={action} title={t(`journey.lifecycle.${action}.confirm`)} onConfirm={() => act(action)}>
            <Button size="small" type="link" danger={action === 'stop'} data-testid={`journey-${action}-${journey.name}`}>
              {t(`journey.lifecycle.${action}`)}
            </Button>
          </Popconfirm>
        ))}
    </Space>
  );
}
