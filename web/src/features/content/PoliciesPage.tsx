import { PlusOutlined } from '@ant-design/icons';
import { App, Button, Form, Input, InputNumber, Modal, Popconfirm, Select, Space, Table, Tabs, Tag, Typography } from 'antd';
import { useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import { can, useMe } from '@/app/auth';
import { reportError } from '@/app/errors';
import { useI18n } from '@/app/i18n';
import { PageHeader } from '@/components/PageHeader';
import { formatTime } from '@/lib/format';
import { valueLabel } from '@/lib/labels';
import { CHANNEL_OPTIONS } from './channels';
import { useConsents, useDnd, useDndChange, type ConsentFilter, type ConsentState, type DndEntry } from './queries';

/** 触达策略: the do-not-disturb list (add, remove) and the consent list (each customer's newest record per
 * channel, filtered by channel and granted / withdrawn), both of the caller's customers. */
export default function PoliciesPage() {
  const { t } = useI18n();
  return (
    <div data-testid="policies-page">
      <PageHeader title={t('menu.content.policies')} sub={t('pol.sub')} />
      <Tabs
        items={[
          { key: 'dnd', label: t('pol.dnd'), children: <DndTab /> },
          { key: 'consent', label: t('pol.consent'), children: <ConsentTab /> },
        ]}
        data-testid="policies-tabs"
      />
    </div>
  );
}

function DndTab() {
  const { t } = useI18n();
  const me = useMe();
  const { message } = App.useApp();
  const dnd = useDnd();
  const change = useDndChange();
  const [adding, setAdding] = useState(false);
  const [search, setSearch] = useState('');
  const writable = can(me, 'consent:write');
  const rows = useMemo(() => (dnd.data ?? []).filter((r) => !search || r.customer_no.includes(search.trim())), [dnd.data, search]);
  const remove = async (customer: string) => {
    try {
      await change.mutateAsync({ customer_no: customer, remove: true });
      message.success(t('pol.removed', { customer }));
    } catch (error) {
      reportError(error);
    }
  };
  return (
    <>
      <Space style={{ marginBottom: 12 }} wrap>
        <Input.Search allowClear placeholder={t('tpl.customerNo')} onChange={(e) => setSearch(e.target.value)} style={{ width: 220 }} />
        {writable && (
          <Button type="primary" icon={<PlusOutlined />} onClick={() => setAdding(true)} data-testid="dnd-add">
            {t('pol.add')}
          </Button>
        )}
      </Space>
      <Table
        rowKey="customer_no"
        size="small"
        loading={dnd.isPending}
        dataSource={rows}
        pagination={{ pageSize: 20, showSizeChanger: true, pageSizeOptions: [20, 50, 100] }}
        locale={{ emptyText: t('pol.dndEmpty') }}
        data-testid="dnd-table"
        columns={[
          {
            title: t('tpl.customerNo'),
            dataIndex: 'customer_no',
            render: (v: string) => <Link to={`/customers/${v}`}>{v}</Link>,
          },
          { title: t('pol.reason'), dataIndex: 'reason' },
          { title: t('pol.until'), dataIndex: 'until', render: (v: string | null) => (v ? formatTime(v) : <Tag>{t('pol.forever')}</Tag>) },
          { title: t('pol.addedBy'), dataIndex: 'added_by' },
          ...(writable
            ? [
                {
                  title: '',
                  width: 90,
                  render: (_: unknown, r: DndEntry) => (
                    <Popconfirm title={t('pol.removeConfirm', { customer: r.customer_no })} onConfirm={() => remove(r.customer_no)}>
                      <Button type="link" size="small" danger data-testid={`dnd-remove-${r.customer_no}`}>
                        {t('tpl.remove')}
                      </Button>
                    </Popconfirm>
                  ),
                },
              ]
            : []),
        ]}
      />
      {adding && <AddDnd onClose={() => setAdding(false)} />}
    </>
  );
}

function AddDnd({ onClose }: { onClose: () => void }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const change = useDndChange();
  const [form] = Form.useForm<{ customer_no: string; reason: string; days?: number | null }>();
  const submit = async () => {
    const values = await form.validateFields();
    try {
      await change.mutateAsync({ customer_no: values.customer_no.trim(), reason: values.reason, days: values.days ?? null });
      message.success(t('pol.added', { customer: values.customer_no.trim() }));
      onClose();
    } catch (error) {
      reportError(error);
    }
  };
  return (
    <Modal open title={t('pol.add')} onCancel={onClose} onOk={submit} confirmLoading={change.isPending} okButtonProps={{ id: 'dnd-submit' }}>
      <Form form={form} layout="vertical">
        <Form.Item name="customer_no" label={t('tpl.customerNo')} rules={[{ required: true, message: t('pol.required') }]}>
          <Input data-testid="dnd-customer" />
        </Form.Item>
        <Form.Item name="reason" label={t('pol.reason')} rules={[{ required: true, message: t('pol.required') }]}>
          <Input data-testid="dnd-reason" />
        </Form.Item>
        <Form.Item name="days" label={t('pol.days')} extra={t('pol.daysHelp')}>
          <InputNumber min={1} max={36500} style={{ width: 160 }} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

function ConsentTab() {
  const { t } = useI18n();
  const [filter, setFilter] = useState<ConsentFilter>({ page: 1, pageSize: 20 });
  const consents = useConsents(filter);
  return (
    <>
      <Space style={{ marginBottom: 12 }} wrap>
        <Select
          allowClear
          placeholder={t('tpl.channel')}
          style={{ width: 160 }}
          value={filter.channel}
          onChange={(channel) => setFilter({ ...filter, channel, page: 1 })}
          options={[...CHANNEL_OPTIONS.filter((c) => c !== 'log'), '*'].map((c) => ({
            value: c,
            label: c === '*' ? t('pol.allChannels') : valueLabel(t, 'val.channel', c),
          }))}
          data-testid="consent-channel"
        />
        <Select
          allowClear
          placeholder={t('pol.state')}
          style={{ width: 140 }}
          value={filter.granted === undefined ? undefined : String(filter.granted)}
          onChange={(v?: string) => setFilter({ ...filter, granted: v === undefined ? undefined : v === 'true', page: 1 })}
          options={[
            { value: 'true', label: t('pol.granted') },
            { value: 'false', label: t('pol.withdrawn') },
          ]}
          data-testid="consent-granted"
        />
        <Typography.Text type="secondary">{t('pol.consentHelp')}</Typography.Text>
      </Space>
      <Table
        rowKey={(r: ConsentState) => `${r.customer_no}/${r.channel}`}
        size="small"
        loading={consents.isFetching}
        dataSource={consents.data?.consents ?? []}
        locale={{ emptyText: t('pol.consentEmpty') }}
        data-testid="consent-table"
        pagination={{
          current: filter.page,
          pageSize: filter.pageSize,
          total: consents.data?.total ?? 0,
          showSizeChanger: true,
          pageSizeOptions: [20, 50, 100],
          onChange: (page, pageSize) => setFilter({ ...filter, page, pageSize }),
        }}
        columns={[
          { title: t('tpl.customerNo'), dataIndex: 'customer_no', render: (v: string) => <Link to={`/customers/${v}`}>{v}</Link> },
          {
            title: t('tpl.channel'),
            dataIndex: 'channel',
            render: (v: string) => (v === '*' ? t('pol.allChannels') : valueLabel(t, 'val.channel', v)),
          },
          {
            title: t('pol.state'),
            dataIndex: 'granted',
            render: (v: boolean) => <Tag color={v ? 'green' : 'red'}>{v ? t('pol.granted') : t('pol.withdrawn')}</Tag>,
          },
          { title: t('pol.source'), dataIndex: 'source' },
          { title: t('pol.at'), dataIndex: 'at', render: (v: string) => formatTime(v) },
        ]}
      />
    </>
  );
}
