import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { Button, Drawer, Form, Input, InputNumber, Select, Slider, Space, Typography } from 'antd';
import { useI18n } from '@/app/i18n';
import type { Catalog } from '@/features/segments/RuleBuilder';
import type { Json } from './graph';

interface Props {
  open: boolean;
  settings: Json;
  isNew: boolean;
  readOnly: boolean;
  catalog: Catalog;
  onClose: () => void;
  onChange: (settings: Json) => void;
}

/** 旅程设置: name and title, goal and its window, exit criteria, re-entry, hold-out, caps and priority. */
export function SettingsDrawer({ open, settings, isNew, readOnly, catalog, onClose, onChange }: Props) {
  const { t } = useI18n();
  const set = (patch: Json) => onChange({ ...settings, ...patch });
  const goal = settings.goal as Json | null | undefined;
  const exits = (settings.exit_criteria as Json[] | undefined) ?? [];
  const reentry = (settings.reentry as Json | undefined) ?? { mode: 'never' };
  const caps = (settings.caps as Json | undefined) ?? {};
  const events = catalog.events.map((e) => ({ value: e, label: e }));
  return (
    <Drawer title={t('journey.settings')} open={open} onClose={onClose} width={460} data-testid="journey-settings">
      <fieldset disabled={readOnly} style={{ border: 0, padding: 0, margin: 0 }}>
        <Form layout="vertical" size="small">
          <Form.Item label={t('journey.field.name')} extra={t('journey.field.nameHelp')}>
            <Input value={String(settings.name ?? '')} disabled={!isNew} onChange={(e) => set({ name: e.target.value })} data-testid="journey-name" />
          </Form.Item>
          <Form.Item label={t('journey.field.title')}>
            <Input value={String(settings.title ?? '')} onChange={(e) => set({ title: e.target.value })} data-testid="journey-title" />
          </Form.Item>
          <Form.Item label={t('journey.field.description')}>
            <Input.TextArea rows={2} value={String(settings.description ?? '')} onChange={(e) => set({ description: e.target.value })} />
          </Form.Item>
          <Typography.Title level={5}>{t('journey.goal')}</Typography.Title>
          <Space wrap>
            <Select
              allowClear
              showSearch
              style={{ width: 220 }}
              placeholder={t('journey.goal.none')}
              value={(goal?.event as string) || undefined}
              options={events}
              onChange={(event?: string) => set({ goal: event ? { ...(goal ?? { within: '7d' }), event } : null })}
              data-testid="journey-goal"
            />
            {goal && (
              <Input
                addonBefore={t('journey.goal.within')}
                style={{ width: 160 }}
                value={String(goal.within ?? '7d')}
                onChange={(e) => set({ goal: { ...goal, within: e.target.value.trim() } })}
              />
            )}
          </Space>
          <Typography.Title level={5}>{t('journey.exits')}</Typography.Title>
          {exits.map((exit, i) => (
            <Space key={i} style={{ marginBottom: 8 }}>
              <Select
                style={{ width: 110 }}
                value={exit.segment !== undefined && exit.segment !== null ? 'segment' : 'event'}
                options={[
                  { value: 'event', label: t('journey.exits.event') },
                  { value: 'segment', label: t('journey.exits.segment') },
                ]}
                onChange={(kind: string) => set({ exit_criteria: exits.map((x, j) => (j === i ? (kind === 'segment' ? { segment: '' } : { event: '' }) : x)) })}
              />
              <Select
                showSearch
                style={{ width: 200 }}
                value={String(exit.segment ?? exit.event ?? '') || undefined}
                options={exit.segment !== undefined && exit.segment !== null ? catalog.segments.map((s) => ({ value: s, label: s })) : events}
                onChange={(value: string) =>
                  set({ exit_criteria: exits.map((x, j) => (j === i ? (x.segment !== undefined && x.segment !== null ? { segment: value } : { event: value }) : x)) })
                }
              />
              <Button type="text" danger icon={<DeleteOutlined />} onClick={() => set({ exit_criteria: exits.filter((_, j) => j !== i) })} />
            </Space>
          ))}
          <div>
            <Button size="small" icon={<PlusOutlined />} onClick={() => set({ exit_criteria: [...exits, { event: '' }] })}>
              {t('journey.exits.add')}
            </Button>
          </div>
          <Typography.Title level={5}>{t('journey.reentry')}</Typography.Title>
          <Space wrap>
            <Select
              style={{ width: 200 }}
              value={String(reentry.mode ?? 'never')}
              options={['never', 'after_exit', 'interval'].map((m) => ({ value: m, label: t(`journey.reentry.${m}` as 'journey.reentry.never') }))}
              onChange={(mode: string) => set({ reentry: mode === 'interval' ? { mode, interval: '30d' } : { mode } })}
            />
            {reentry.mode === 'interval' && (
              <Input style={{ width: 120 }} value={String(reentry.interval ?? '')} onChange={(e) => set({ reentry: { ...reentry, interval: e.target.value.trim() } })} />
            )}
          </Space>
          <Typography.Title level={5}>{t('journey.holdout')}</Typography.Title>
          <Slider min={0} max={50} value={Number(settings.holdout_percent ?? 0)} onChange={(holdout_percent: number) => set({ holdout_percent })} marks={{ 0: '0%', 10: '10%', 50: '50%' }} />
          <Typography.Title level={5}>{t('journey.caps')}</Typography.Title>
          <Space wrap>
            <InputNumber
              addonBefore={t('journey.caps.total')}
              min={1}
              value={(caps.total as number | null | undefined) ?? null}
              onChange={(total) => set({ caps: { ...caps, total: total ?? null } })}
            />
            <InputNumber
              addonBefore={t('journey.caps.perDay')}
              min={1}
              value={(caps.per_day as number | null | undefined) ?? null}
              onChange={(per_day) => set({ caps: { ...caps, per_day: per_day ?? null } })}
            />
          </Space>
          <Typography.Title level={5}>{t('journey.priority')}</Typography.Title>
          <InputNumber min={0} max={100} value={Number(settings.priority ?? 0)} onChange={(priority) => set({ priority: priority ?? 0 })} />
          <Typography.Paragraph type="secondary">{t('journey.priorityHelp')}</Typography.Paragraph>
        </Form>
      </fieldset>
    </Drawer>
  );
}
