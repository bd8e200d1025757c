import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import {
  Alert, App, Button, Card, Col, Form, Input, InputNumber, Row, Select, Space, Table, Tag, TimePicker, Typography,
} from 'antd';
import dayjs from 'dayjs';
import { useEffect, useState } from 'react';
import { can, useMe } from '@/app/auth';
import { reportError } from '@/app/errors';
import { useI18n } from '@/app/i18n';
import { PageLoading } from '@/app/PageLoading';
import { ErrorText } from '@/components/ErrorText';
import { PageHeader } from '@/components/PageHeader';
import { formatCount, formatTime } from '@/lib/format';
import { valueLabel } from '@/lib/labels';
import { CHANNEL_OPTIONS } from './channels';
import { useHealth, usePolicy, useSavePolicy, type Health, type Policy } from './queries';

const TIME = 'HH:mm';

/** 触达渠道: the channel policy (quiet hours, caps, banned words, disclosures, lengths) as a form — saved as
 * its next version by users with channel:write, read-only to the others — and each provider's health. */
export default function ChannelsPage() {
  const { t } = useI18n();
  return (
    <div data-testid="channels-page">
      <PageHeader title={t('menu.content.channels')} sub={t('chn.sub')} />
      <HealthCard />
      <PolicyCard />
    </div>
  );
}

function HealthCard() {
  const { t, locale } = useI18n();
  const [days, setDays] = useState(7);
  const health = useHealth(days);
  return (
    <Card
      size="small"
      title={t('chn.health')}
      extra={
        <Select
          value={days}
          onChange={setDays}
          style={{ width: 120 }}
          options={[1, 7, 30, 90].map((d) => ({ value: d, label: t('chn.lastDays', { n: d }) }))}
          data-testid="health-days"
        />
      }
      data-testid="channel-health"
    >
      <Table
        size="small"
        rowKey="channel"
        loading={health.isPending}
        dataSource={health.data?.channels ?? []}
        pagination={false}
        scroll={{ x: 960 }}
        columns={[
          { title: t('tpl.channel'), dataIndex: 'channel', width: 110, render: (v: string) => valueLabel(t, 'val.channel', v) },
          {
            title: t('chn.provider'),
            dataIndex: 'provider',
            width: 120,
            render: (v: string | null) => (v ? <Tag color="blue">{v}</Tag> : <Typography.Text type="secondary">{t('chn.noProvider')}</Typography.Text>),
          },
          { title: t('chn.sent'), dataIndex: 'sent', width: 80, align: 'right', render: (v: number | null) => formatCount(v, locale) },
          {
            title: t('chn.failed'),
            dataIndex: 'failed',
            width: 80,
            align: 'right',
            render: (v: number) => <Typography.Text type={v > 0 ? 'danger' : undefined}>{formatCount(v, locale)}</Typography.Text>,
          },
          { title: t('chn.skipped'), dataIndex: 'skipped', width: 80, align: 'right', render: (v: number | null) => formatCount(v, locale) },
          { title: t('chn.lastSuccess'), dataIndex: 'last_success_at', width: 170, render: (v: string | null) => formatTime(v) },
          {
            title: t('chn.lastFailure'),
            width: 280,
            render: (_, r: Health) => (
              <Space direction="vertical" size={0}>
                <span>{formatTime(r.last_failure_at)}</span>
                {r.last_failure_error && <ErrorText error={r.last_failure_error} width={260} />}
              </Space>
            ),
          },
          { title: t('chn.receipts'), dataIndex: 'receipts', width: 80, align: 'right', render: (v: number | null) => formatCount(v, locale) },
          { title: t('chn.lastReceipt'), dataIndex: 'last_receipt_at', width: 170, render: (v: string | null) => formatTime(v) },
        ]}
      />
    </Card>
  );
}

type CapRow = { channel: string; per_day: number | null; per_week: number | null };

function PolicyCard() {
  const { t } = useI18n();
  const me = useMe();
  const { message } = App.useApp();
  const policy = usePolicy();
  const save = useSavePolicy();
  const writable = can(me, 'channel:write');
  const [draft, setDraft] = useState<Policy | null>(null);
  const [dirty, setDirty] = useState(false);
  useEffect(() => {
    if (policy.data && !dirty) setDraft(policy.data.policy);
  }, [policy.data, dirty]);
  if (!draft || !policy.data) return <PageLoading />;
  const set = (patch: Partial<Policy>) => {
    setDraft({ ...draft, ...patch });
    setDirty(true);
  };
  const caps: CapRow[] = Object.entries(draft.caps_per_channel ?? {}).map(([channel, cap]) => ({
    channel,
    per_day: cap.per_day ?? null,
    per_week: cap.per_week ?? null,
  }));
  const setCaps = (rows: CapRow[]) =>
    set({ caps_per_channel: Object.fromEntries(rows.map((r) => [r.channel, { per_day: r.per_day, per_week: r.per_week }])) });
  const onSave = async () => {
    try {
      const done = await save.mutateAsync(draft);
      setDirty(false);
      message.success(done.pending_approval ? t('chn.pendingApproval') : done.changed ? t('chn.saved', { v: done.version }) : t('chn.unchanged'));
    } catch (error) {
      reportError(error);
    }
  };
  const lengths = draft.max_lengths ?? {};
  return (
    <Card
      size="small"
      style={{ marginTop: 16 }}
      title={
        <Space>
          {t('chn.policy')}
          <Tag>{policy.data.source === 'registry' ? t('chn.sourceRegistry', { v: policy.data.version }) : t('chn.sourceSettings')}</Tag>
        </Space>
      }
      extra={
        writable ? (
          <Space>
            <Button disabled={!dirty} onClick={() => { setDirty(false); setDraft(policy.data.policy); }}>{t('chn.reset')}</Button>
            <Button type="primary" disabled={!dirty} loading={save.isPending} onClick={onSave} data-testid="policy-save">
              {t('chn.save')}
            </Button>
          </Space>
        ) : (
          <Tag>{t('chn.readOnly')}</Tag>
        )
      }
      data-testid="channel-policy"
    >
      <Form layout="vertical" component="div" disabled={!writable}>
        <Row gutter={24}>
          <Col xs={24} lg={12}>
            <Typography.Title level={5}>{t('chn.quietHours')}</Typography.Title>
            <Space>
              <Form.Item label={t('chn.quietStart')}>
                <TimePicker
                  format={TIME}
                  allowClear={false}
                  value={dayjs(draft.quiet_start, 'HH:mm:ss')}
                  onChange={(v) => v && set({ quiet_start: v.format('HH:mm:00') })}
                  data-testid="policy-quiet-start"
                />
              </Form.Item>
              <Form.Item label={t('chn.quietEnd')}>
                <TimePicker
                  format={TIME}
                  allowClear={false}
                  value={dayjs(draft.quiet_end, 'HH:mm:ss')}
                  onChange={(v) => v && set({ quiet_end: v.format('HH:mm:00') })}
                />
              </Form.Item>
            </Space>
            <Typography.Title level={5}>{t('chn.caps')}</Typography.Title>
            <Space align="start">
              <Form.Item label={t('chn.capsAllDay')}>
                <InputNumber
                  min={0}
                  value={draft.caps_all_channels?.per_day ?? null}
                  placeholder={t('chn.noCap')}
                  onChange={(v) => set({ caps_all_channels: { ...draft.caps_all_channels, per_day: v } })}
                />
              </Form.Item>
              <Form.Item label={t('chn.capsAllWeek')}>
                <InputNumber
                  min={0}
                  value={draft.caps_all_channels?.per_week ?? null}
                  placeholder={t('chn.noCap')}
                  onChange={(v) => set({ caps_all_channels: { ...draft.caps_all_channels, per_week: v } })}
                />
              </Form.Item>
            </Space>
            <Form.Item label={t('chn.capsPerChannel')}>
              <Space direction="vertical" style={{ width: '100%' }}>
                {caps.map((row, i) => (
                  <Space key={row.channel} wrap>
                    <Select
                      style={{ width: 130 }}
                      value={row.channel}
                      options={CHANNEL_OPTIONS.map((c) => ({ value: c, label: valueLabel(t, 'val.channel', c), disabled: caps.some((r) => r.channel === c) }))}
                      onChange={(channel) => setCaps(caps.map((r, j) => (j === i ? { ...r, channel } : r)))}
                    />
                    <InputNumber min={0} addonAfter={t('chn.perDay')} value={row.per_day} onChange={(v) => setCaps(caps.map((r, j) => (j === i ? { ...r, per_day: v } : r)))} />
                    <InputNumber min={0} addonAfter={t('chn.perWeek')} value={row.per_week} onChange={(v) => setCaps(caps.map((r, j) => (j === i ? { ...r, per_week: v } : r)))} />
                    <Button icon={<DeleteOutlined />} onClick={() => setCaps(caps.filter((_, j) => j !== i))} aria-label={t('tpl.remove')} />
                  </Space>
                ))}
                {CHANNEL_OPTIONS.some((c) => !caps.some((r) => r.channel === c)) && (
                  <Button
                    size="small"
                    icon={<PlusOutlined />}
                    onClick={() => setCaps([...caps, { channel: CHANNEL_OPTIONS.find((c) => !caps.some((r) => r.channel === c)) ?? 'sms', per_day: 1, per_week: null }])}
                  >
                    {t('chn.addCap')}
                  </Button>
                )}
              </Space>
            </Form.Item>
            <Typography.Title level={5}>{t('chn.lengths')}</Typography.Title>
            <Row gutter={8}>
              {Object.entries(lengths).map(([channel, max]) => (
                <Col span={8} key={channel}>
                  <Form.Item label={valueLabel(t, 'val.channel', channel)}>
                    <InputNumber min={1} value={max} onChange={(v) => v && set({ max_lengths: { ...lengths, [channel]: v } })} style={{ width: '100%' }} />
                  </Form.Item>
                </Col>
              ))}
            </Row>
          </Col>
          <Col xs={24} lg={12}>
            <Typography.Title level={5}>{t('chn.bannedWords')}</Typography.Title>
            <Form.Item extra={t('chn.bannedWordsHelp')}>
              <Select
                mode="tags"
                value={draft.banned_words ?? []}
                onChange={(banned_words: string[]) => set({ banned_words })}
                tokenSeparators={[',', '，']}
                data-testid="policy-banned-words"
              />
            </Form.Item>
            <Typography.Title level={5}>{t('chn.disclosures')}</Typography.Title>
            <Form.Item extra={t('chn.disclosuresHelp')}>
              <Select mode="tags" value={draft.disclosures ?? []} onChange={(disclosures: string[]) => set({ disclosures })} tokenSeparators={[',', '，']} />
            </Form.Item>
            <Typography.Title level={5}>{t('chn.suitability')}</Typography.Title>
            <Space align="start" wrap>
              <Form.Item label={t('chn.riskValidDays')}>
                <InputNumber min={1} value={draft.risk_test_valid_days} onChange={(v) => v && set({ risk_test_valid_days: v })} />
              </Form.Item>
              <Form.Item label={t('chn.ruleVersion')}>
                <Input value={draft.suitability_rule_version} onChange={(e) => set({ suitability_rule_version: e.target.value })} style={{ width: 260 }} />
              </Form.Item>
            </Space>
            {!writable && <Alert type="info" showIcon title={t('chn.readOnlyHelp')} />}
          </Col>
        </Row>
      </Form>
    </Card>
  );
}
