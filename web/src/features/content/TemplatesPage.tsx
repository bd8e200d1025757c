import { PlusOutlined } from '@ant-design/icons';
import { Button, Input, Select, Space, Table, Tag, Typography } from 'antd';
import { useMemo, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { can, useMe } from '@/app/auth';
import { useI18n } from '@/app/i18n';
import { PageHeader } from '@/components/PageHeader';
import { valueLabel } from '@/lib/labels';
import { CHANNEL_OPTIONS, STATUS_COLORS } from './channels';
import { useTemplates, type TemplateSummary } from './queries';

/** 消息模板: every template with its channel, classification, status and versions; a row opens the editor. */
export default function TemplatesPage() {
  const { t } = useI18n();
  const me = useMe();
  const navigate = useNavigate();
  const templates = useTemplates();
  const [search, setSearch] = useState('');
  const [channel, setChannel] = useState<string | undefined>();
  const shown = useMemo(
    () =>
      (templates.data ?? []).filter(
        (r) => (!channel || r.channel === channel) && (!search || `${r.name} ${r.title}`.toLowerCase().includes(search.toLowerCase())),
      ),
    [templates.data, search, channel],
  );
  return (
    <div data-testid="templates-page">
      <PageHeader
        title={t('menu.content.templates')}
        sub={t('tpl.sub')}
        extra={
          can(me, 'template:write') && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate('/content/templates/new')} data-testid="template-new">
              {t('tpl.new')}
            </Button>
          )
        }
      />
      <Space style={{ marginBottom: 12 }} wrap>
        <Input.Search allowClear placeholder={t('tpl.search')} onChange={(e) => setSearch(e.target.value)} style={{ width: 260 }} />
        <Select
          allowClear
          placeholder={t('tpl.channel')}
          style={{ width: 160 }}
          value={channel}
          onChange={setChannel}
          options={CHANNEL_OPTIONS.map((c) => ({ value: c, label: valueLabel(t, 'val.channel', c) }))}
        />
      </Space>
      <Table
        rowKey="name"
        loading={templates.isPending}
        dataSource={shown}
        pagination={{ pageSize: 20, showSizeChanger: true, pageSizeOptions: [20, 50, 100] }}
        columns={[
          {
            title: t('tpl.name'),
            render: (_, r: TemplateSummary) => (
              <Link to={`/content/templates/${r.name}`} data-testid={`template-link-${r.name}`}>
                <Typography.Text strong>{r.title}</Typography.Text> <Typography.Text type="secondary" code>{r.name}</Typography.Text>
              </Link>
            ),
          },
          { title: t('tpl.channel'), dataIndex: 'channel', width: 120, render: (v: string) => valueLabel(t, 'val.channel', v) },
          {
            title: t('tpl.classification'),
            dataIndex: 'classification',
            width: 110,
            render: (v: string, r: TemplateSummary) => (
              <Space size={4}>
                <Tag color={v === 'marketing' ? 'orange' : 'blue'}>{valueLabel(t, 'val.classification', v)}</Tag>
                {r.urgent && <Tag color="red">{t('tpl.urgent')}</Tag>}
              </Space>
            ),
          },
          {
            title: t('tpl.status'),
            dataIndex: 'status',
            width: 100,
            render: (v: string) => <Tag color={STATUS_COLORS[v]}>{valueLabel(t, 'val.templateStatus', v)}</Tag>,
          },
          { title: t('tpl.activeVersion'), dataIndex: 'active_version', width: 110, render: (v?: number | null) => (v ? `v${v}` : '—') },
          { title: t('tpl.latestVersion'), dataIndex: 'latest_version', width: 110, render: (v: number) => `v${v}` },
        ]}
      />
    </div>
  );
}
