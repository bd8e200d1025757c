import { App, Button, Descriptions, Drawer, Form, Input, InputNumber, Select, Space, Switch, Table, Tag, Tooltip, Typography } from 'antd';
import { useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import { api, ApiError, unwrap } from '@/api/client';
import { can, useMe } from '@/app/auth';
import { useI18n } from '@/app/i18n';
import { valueLabel } from '@/lib/labels';
import { PageHeader } from '@/components/PageHeader';
import type { MessageKey } from '@/locales/zh-CN';
import { useRule, useRules, useRuleStats, useSaveRule, type Rule, type RuleSummary } from './queries';

const PERCENT = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)}%`);

/** MOT 规则库: every moment of truth with its switch, kind, times, SLA, what it feeds (journeys, advisor tasks)
 * and its last 30 days (fired, served, within the SLA); a rule opens with its parameters to edit. */
export default function MotRulesPage() {
  const { t } = useI18n();
  const me = useMe();
  const rules = useRules();
  const stats = useRuleStats();
  const [open, setOpen] = useState<string | null>(null);
  const byRule = useMemo(() => new Map((stats.data ?? []).map((s) => [s.rule, s])), [stats.data]);
  const writable = can(me, 'moment:write');
  return (
    <div data-testid="mot-rules-page">
      <PageHeader title={t('menu.mot.rules')} sub={t('mot.sub')} />
      <Table
        rowKey="name"
        loading={rules.isPending}
        dataSource={rules.data ?? []}
        pagination={{ pageSize: 50 }}
        onRow={(r: RuleSummary) => ({ onClick: () => setOpen(r.name), style: { cursor: 'pointer' } })}
        columns={[
          { title: '#', dataIndex: 'catalogue', width: 56, render: (v?: number | null) => v ?? '—' },
          {
            title: t('mot.rule'),
            render: (_, r: RuleSummary) => (
              <>
                <Typography.Text strong>{r.title}</Typography.Text> <Typography.Text type="secondary" code>{r.name}</Typography.Text>
              </>
            ),
          },
          { title: t('mot.kind'), dataIndex: 'kind', width: 90, render: (v: string) => t(`mot.kind.${v}` as MessageKey) },
          {
            title: t('mot.classification'),
            dataIndex: 'classification',
            width: 90,
            render: (v: string) => <Tag color={v === 'marketing' ? 'orange' : 'blue'}>{t(`mot.class.${v}` as MessageKey)}</Tag>,
          },
          { title: t('mot.times'), dataIndex: 'times', width: 120, render: (v: string[]) => v.join(' ') || t('mot.onEvent') },
          { title: 'SLA', dataIndex: 'sla', width: 70 },
          {
            title: t('mot.feeds'),
            render: (_, r: RuleSummary) => (
              <Space size={4} wrap>
                {r.owner === 'advisor' && <Tag color="cyan">{t('mot.feeds.task')}</Tag>}
                {(r.journeys ?? []).map((j) => (
                  <Link key={j} to={`/journeys/${j}/edit`} onClick={(e) => e.stopPropagation()}>
                    <Tag>{j}</Tag>
                  </Link>
                ))}
              </Space>
            ),
          },
          { title: t('mot.fired30'), dataIndex: 'fired_30d', width: 90, align: 'right', render: (v: number) => v.toLocaleString() },
          { title: t('mot.served'), width: 90, align: 'right', render: (_, r: RuleSummary) => PERCENT(byRule.get(r.name)?.served_rate) },
          { title: t('mot.onTime'), width: 90, align: 'right', render: (_, r: RuleSummary) => PERCENT(byRule.get(r.name)?.on_time_rate) },
          {
            title: t('mot.enabled'),
            dataIndex: 'enabled',
            width: 80,
            render: (v: boolean, r: RuleSummary) => <EnabledSwitch name={r.name} enabled={v} disabled={!writable} />,
          },
        ]}
      />
      {open && <RuleDrawer name={open} writable={writable} onClose={() => setOpen(null)} />}
    </div>
  );
}

function useSaved(): (rule: Rule) => Promise<boolean> {
  const { t } = useI18n();
  const { message } = App.useApp();
  const save = useSaveRule();
  return async (rule) => {
    try {
      const done = await save.mutateAsync(rule);
      message.success(done.pending_approval ? t('mot.pending') : t('mot.saved', { v: done.version ?? '' }));
      return true;
    } catch (error) {
      message.error(error instanceof ApiError ? error.message : String(error));
      return false;
    }
  };
}

/** The rule's switch in the list: the whole rule is read, flipped and saved as its next version. */
function EnabledSwitch({ name, enabled, disabled }: { name: string; enabled: boolean; disabled: boolean }) {
  const { message } = App.useApp();
  const saved = useSaved();
  const [busy, setBusy] = useState(false);
  return (
    <span onClick={(e) => e.stopPropagation()}>
      <Switch
        checked={enabled}
        disabled={disabled}
        loading={busy}
        data-testid={`mot-enabled-${name}`}
        onChange={async (checked) => {
          setBusy(true);
          try {
            const current = await unwrap(api.GET('/api/v1/moments/rules/{name}', { params: { path: { name } } }));
            await saved({ ...current, enabled: checked });
          } catch (error) {
            message.error(error instanceof ApiError ? error.message : String(error));
          } finally {
            setBusy(false);
          }
        }}
      />
    </span>
  );
}

function RuleDrawer({ name, writable, onClose }: { name: string; writable: boolean; onClose: () => void }) {
  const { t } = useI18n();
  const rule = useRule(name);
  const saved = useSaved();
  const [draft, setDraft] = useState<Rule | null>(null);
  const current = draft ?? rule.data ?? null;
  if (!current) return null;
  const set = (patch: Partial<Rule>) => setDraft({ ...current, ...patch });
  const params = (current.params ?? {}) as Record<string, unknown>;
  return (
    <Drawer
      open
      width={560}
      title={`${current.title} · ${current.name}`}
      onClose={onClose}
      data-testid="mot-rule-drawer"
      extra={
        writable && (
          <Button type="primary" disabled={!draft} onClick={async () => (await saved(current)) && onClose()} data-testid="mot-rule-save">
            {t('mot.save')}
          </Button>
        )
      }
    >
      <Typography.Paragraph type="secondary">{current.description}</Typography.Paragraph>
      <fieldset disabled={!writable} style={{ border: 0, padding: 0, margin: 0 }}>
        <Form layout="vertical" size="small">
          <Form.Item label={t('mot.enabled')}>
            <Switch checked={current.enabled} onChange={(enabled) => set({ enabled })} />
          </Form.Item>
          <Descriptions size="small" column={2} style={{ marginBottom: 12 }}>
            <Descriptions.Item label={t('mot.detector')}>{current.detector}</Descriptions.Item>
            <Descriptions.Item label={t('mot.classification')}>{t(`mot.class.${current.classification}` as MessageKey)}</Descriptions.Item>
          </Descriptions>
          <Typography.Title level={5}>{t('mot.params')}</Typography.Title>
          {Object.keys(params).length === 0 && <Typography.Paragraph type="secondary">{t('mot.params.none')}</Typography.Paragraph>}
          {Object.entries(params).map(([key, value]) => (
            <Form.Item key={key} label={key}>
              {typeof value === 'number' ? (
                <InputNumber value={value} onChange={(v) => set({ params: { ...params, [key]: v ?? 0 } })} data-testid={`mot-param-${key}`} />
              ) : (
                <Input value={String(value ?? '')} onChange={(e) => set({ params: { ...params, [key]: e.target.value } })} />
              )}
            </Form.Item>
          ))}
          <Form.Item label={t('mot.times')} extra={t('mot.timesHelp')}>
            <Select mode="tags" value={current.at ?? []} onChange={(at: string[]) => set({ at })} />
          </Form.Item>
          <Form.Item label="SLA" extra={t('journey.field.durationHelp')}>
            <Input value={current.sla} onChange={(e) => set({ sla: e.target.value.trim() })} />
          </Form.Item>
          {current.task && (
            <>
              <Typography.Title level={5}>{t('mot.task')}</Typography.Title>
              <Form.Item label={t('journey.task.title')}>
                <Input value={current.task.title} onChange={(e) => set({ task: { ...current.task!, title: e.target.value } })} />
              </Form.Item>
              <Form.Item label={t('journey.task.points')}>
                <Input.TextArea rows={4} value={current.task.talking_points ?? ''} onChange={(e) => set({ task: { ...current.task!, talking_points: e.target.value } })} />
              </Form.Item>
              <Space>
                <Form.Item label={t('journey.task.priority')}>
                  <Select
                    style={{ width: 120 }}
                    value={current.task.priority ?? 'normal'}
                    options={(['urgent', 'high', 'normal', 'low'] as const).map((p) => ({ value: p, label: valueLabel(t, 'val.priority', p) }))}
                    onChange={(priority) => set({ task: { ...current.task!, priority } })}
                  />
                </Form.Item>
                <Form.Item label={t('journey.task.due')}>
                  <Tooltip title={current.task.due_before ? t('mot.dueBefore', { d: current.task.due_before }) : undefined}>
                    <Input value={current.task.due ?? ''} disabled={Boolean(current.task.due_before)} onChange={(e) => set({ task: { ...current.task!, due: e.target.value.trim() } })} />
                  </Tooltip>
                </Form.Item>
              </Space>
            </>
          )}
        </Form>
      </fieldset>
    </Drawer>
  );
}
