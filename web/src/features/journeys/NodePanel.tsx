import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { Alert, Button, Divider, Form, Input, InputNumber, Radio, Select, Space, Switch, Tag, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { useI18n } from '@/app/i18n';
import { valueLabel } from '@/lib/labels';
import { Filters, RuleBuilder, tagValues, type Catalog } from '@/features/segments/RuleBuilder';
import { fromRule, toRule } from '@/features/segments/ruleTree';
import { useSegment } from '@/features/segments/queries';
import type { MessageKey } from '@/locales/zh-CN';
import { paletteKeyOf, type CanvasNode, type Json } from './graph';
import { CHANNELS, type JourneyFault } from './queries';

/** What the pickers read besides the rule catalogue: templates by channel and MOT rules. */
export interface Pickers {
  catalog: Catalog;
  templates: { name: string; title: string; channel: string; status: string }[];
  motRules: { name: string; title: string }[];
}

interface PanelProps {
  node: CanvasNode;
  faults: JourneyFault[];
  pickers: Pickers;
  readOnly: boolean;
  onChange: (data: Json) => void;
  onRemoveItem: (list: 'branches' | 'variants', index: number) => void;
}

const DURATION = /^-?[1-9]\d*(m|h|d|td)$/;

/** 节点配置: the form of the selected node, with the faults the check found on it. */
export function NodePanel({ node, faults, pickers, readOnly, onChange, onRemoveItem }: PanelProps) {
  const { t } = useI18n();
  const key = paletteKeyOf(node);
  const d = node.data;
  const set = (patch: Json) => onChange({ ...d, ...patch });
  return (
    <div className="journey-panel" data-testid="journey-panel">
      <Typography.Title level={5} style={{ marginTop: 0 }}>
        {t(`journey.palette.${key}` as MessageKey)} <Tag>{node.id}</Tag>
      </Typography.Title>
      {faults.map((f) => (
        <Alert key={f.place + f.message} type="error" showIcon style={{ marginBottom: 8 }} message={f.message} description={f.place} />
      ))}
      <fieldset disabled={readOnly} style={{ border: 0, padding: 0, margin: 0 }}>
        <Form layout="vertical" size="small">
          {node.kind !== 'entry' && (
            <Form.Item label={t('journey.field.title')}>
              <Input value={String(d.title ?? '')} maxLength={80} onChange={(e) => set({ title: e.target.value })} data-testid="node-title" />
            </Form.Item>
          )}
          {node.kind === 'entry' && <EntryForm d={d} set={set} pickers={pickers} />}
          {node.kind === 'wait' && <WaitForm d={d} onChange={onChange} />}
          {node.kind === 'wait_for_event' && <WaitForEventForm d={d} set={set} pickers={pickers} />}
          {node.kind === 'split' && <SplitForm d={d} set={set} pickers={pickers} onRemove={(i) => onRemoveItem('branches', i)} />}
          {node.kind === 'ab_split' && <AbForm d={d} set={set} onRemove={(i) => onRemoveItem('variants', i)} />}
          {node.kind === 'action' && <ActionForm action={(d.action as Json) ?? {}} set={(action) => set({ action })} pickers={pickers} />}
        </Form>
      </fieldset>
    </div>
  );
}

interface Part {
  d: Json;
  set: (patch: Json) => void;
  pickers: Pickers;
}

function EntryForm({ d, set, pickers }: Part) {
  const { t } = useI18n();
  const mot = d.type === 'event' && String(d.event ?? '').startsWith('mot_');
  return (
    <>
      {d.type === 'segment' && (
        <>
          <Form.Item label={t('journey.field.segment')}>
            <Select
              showSearch
              value={(d.segment as string) || undefined}
              options={pickers.catalog.segments.map((s) => ({ value: s, label: s }))}
              onChange={(segment: string) => set({ segment })}
              data-testid="entry-segment"
            />
          </Form.Item>
          {typeof d.segment === 'string' && d.segment && <SegmentSize name={d.segment} />}
          <Form.Item label={t('journey.field.schedule')} extra={t('journey.field.scheduleHelp')}>
            <Input
              value={String(d.schedule ?? '')}
              placeholder="0 9 * * 1-5"
              onChange={(e) => {
                const { schedule: _drop, ...rest } = d;
                set(e.target.value ? { ...rest, schedule: e.target.value } : { ...rest, schedule: undefined });
              }}
            />
          </Form.Item>
        </>
      )}
      {d.type === 'event' && (
        <>
          <Form.Item label={t(mot ? 'journey.field.motRule' : 'journey.field.event')}>
            {mot ? (
              <Select
                showSearch
                value={String(d.event).slice(4) || undefined}
                options={pickers.motRules.map((r) => ({ value: r.name, label: `${r.title} (${r.name})` }))}
                onChange={(rule: string) => set({ event: `mot_${rule}` })}
                data-testid="entry-mot"
              />
            ) : (
              <EventPicker value={d.event} events={pickers.catalog.events} onChange={(event) => set({ event })} testId="entry-event" />
            )}
          </Form.Item>
          {!mot && (
            <Filters event={d.event} where={(d.where as Json[]) ?? []} catalog={pickers.catalog} onChange={(where) => set({ where })} />
          )}
        </>
      )}
      {d.type === 'api' && (
        <Form.Item label={t('journey.field.required')} extra={t('journey.field.requiredHelp')}>
          <Select mode="tags" value={(d.required as string[]) ?? []} onChange={(required: string[]) => set({ required })} />
        </Form.Item>
      )}
    </>
  );
}

function SegmentSize({ name }: { name: string }) {
  const { t } = useI18n();
  const segment = useSegment(name);
  if (!segment.data) return null;
  return (
    <Typography.Paragraph type="secondary" data-testid="entry-segment-size">
      {segment.data.size === null || segment.data.size === undefined
        ? t('journey.field.noSize')
        : t('journey.field.size', { n: segment.data.size.toLocaleString() })}
    </Typography.Paragraph>
  );
}

function EventPicker({ value, events, onChange, testId }: { value: unknown; events: string[]; onChange: (e: string) => void; testId?: string }) {
  const { t } = useI18n();
  return (
    <Select
      showSearch
      value={(value as string) || undefined}
      placeholder={t('builder.pickEvent')}
      options={events.map((e) => ({ value: e, label: e }))}
      onChange={onChange}
      data-testid={testId}
    />
  );
}

function WaitForm({ d, onChange }: { d: Json; onChange: (data: Json) => void }) {
  const { t } = useI18n();
  const mode = d.duration !== undefined ? 'duration' : d.until_time !== undefined ? 'time' : 'field';
  const base = { ...(d.title ? { title: d.title } : {}) };
  return (
    <>
      <Radio.Group
        value={mode}
        style={{ marginBottom: 12 }}
        onChange={(e) => {
          const next = e.target.value as string;
          if (next === 'duration') onChange({ ...base, duration: '1d' });
          if (next === 'time') onChange({ ...base, until_time: '10:00', trading_day: true });
          if (next === 'field') onChange({ ...base, until_field: 'payload.deadline', offset: '-4h' });
        }}
        options={[
          { value: 'duration', label: t('journey.wait.duration') },
          { value: 'time', label: t('journey.wait.time') },
          { value: 'field', label: t('journey.wait.field') },
        ]}
      />
      {mode === 'duration' && (
        <DurationInput label={t('journey.wait.duration')} value={d.duration} onChange={(duration) => onChange({ ...d, duration })} testId="wait-duration" />
      )}
      {mode === 'time' && (
        <>
          <Form.Item label={t('journey.wait.time')}>
            <Input value={String(d.until_time ?? '')} placeholder="HH:MM" onChange={(e) => onChange({ ...d, until_time: e.target.value })} />
          </Form.Item>
          <Form.Item label={t('journey.wait.tradingDay')}>
            <Switch checked={Boolean(d.trading_day)} onChange={(trading_day) => onChange({ ...d, trading_day })} />
          </Form.Item>
        </>
      )}
      {mode === 'field' && (
        <>
          <Form.Item label={t('journey.wait.field')} extra="payload.NAME / attribute.NAME">
            <Input value={String(d.until_field ?? '')} onChange={(e) => onChange({ ...d, until_field: e.target.value })} />
          </Form.Item>
          <DurationInput label={t('journey.wait.offset')} value={d.offset} signed onChange={(offset) => onChange({ ...d, offset })} />
        </>
      )}
    </>
  );
}

/** A duration in the one grammar: 30m, 12h, 3d, 2td (trading days); invalid text is named under the field. */
function DurationInput({ label, value, onChange, signed, testId }: { label: string; value: unknown; onChange: (v: string) => void; signed?: boolean; testId?: string }) {
  const { t } = useI18n();
  const text = String(value ?? '');
  const ok = DURATION.test(text) && (signed || !text.startsWith('-'));
  return (
    <Form.Item label={label} validateStatus={ok ? undefined : 'error'} help={ok ? t('journey.field.durationHelp') : t('journey.field.durationBad')}>
      <Input value={text} onChange={(e) => onChange(e.target.value.trim())} data-testid={testId} />
    </Form.Item>
  );
}

function WaitForEventForm({ d, set, pickers }: Part) {
  const { t } = useI18n();
  return (
    <>
      <Form.Item label={t('journey.field.event')}>
        <EventPicker value={d.event} events={pickers.catalog.events} onChange={(event) => set({ event })} testId="wait-event" />
      </Form.Item>
      <Filters event={d.event} where={(d.where as Json[]) ?? []} catalog={pickers.catalog} onChange={(where) => set({ where })} />
      <DurationInput label={t('journey.field.timeout')} value={d.timeout} onChange={(timeout) => set({ timeout })} testId="wait-timeout" />
      {d.match && Object.keys(d.match as Json).length > 0 && (
        <Typography.Paragraph type="secondary">
          {t('journey.field.match')}: {Object.entries(d.match as Json).map(([k, v]) => `${k} = ${String(v)}`).join(', ')}
        </Typography.Paragraph>
      )}
    </>
  );
}

function SplitForm({ d, set, pickers, onRemove }: Part & { onRemove: (i: number) => void }) {
  const { t } = useI18n();
  const branches = (d.branches as Json[]) ?? [];
  const update = (i: number, patch: Json) => set({ branches: branches.map((b, j) => (j === i ? { ...b, ...patch } : b)) });
  return (
    <>
      {branches.map((branch, i) => (
        <div key={i} className="journey-branch">
          <Space style={{ width: '100%' }}>
            <Input value={String(branch.name ?? '')} onChange={(e) => update(i, { name: e.target.value })} addonBefore={t('journey.split.branch')} />
            <Button type="text" danger icon={<DeleteOutlined />} disabled={branches.length <= 1} onClick={() => onRemove(i)} />
          </Space>
          <BranchRule rule={(branch.rule as Json | undefined) ?? { all: [] }} catalog={pickers.catalog} onChange={(rule) => update(i, { rule })} />
        </div>
      ))}
      <Button
        icon={<PlusOutlined />}
        disabled={branches.length >= 20}
        onClick={() => set({ branches: [...branches, { name: `${t('journey.split.branch')}${branches.length + 1}`, rule: { all: [{ tag: '', in: [] }] } }] })}
      >
        {t('journey.split.add')}
      </Button>
      <Divider plain>{t('journey.handle.default')}</Divider>
      <Typography.Text type="secondary">{t('journey.split.defaultHelp')}</Typography.Text>
    </>
  );
}

/** A branch's rule in the segment rule builder. The builder's tree (with its ids) is kept while it still says
 * the rule, so a re-render does not remount its conditions; a rule changed elsewhere (undo) rebuilds it. */
function BranchRule({ rule, catalog, onChange }: { rule: Json; catalog: Catalog; onChange: (rule: Json) => void }) {
  const [tree, setTree] = useState(() => fromRule(rule));
  const stale = JSON.stringify(toRule(tree)) !== JSON.stringify(rule);
  useEffect(() => {
    if (stale) setTree(fromRule(rule));
  }, [stale, rule]);
  return (
    <RuleBuilder
      tree={tree}
      catalog={catalog}
      onChange={(next) => {
        setTree(next);
        onChange(toRule(next));
      }}
    />
  );
}

function AbForm({ d, set, onRemove }: { d: Json; set: (patch: Json) => void; onRemove: (i: number) => void }) {
  const { t } = useI18n();
  const variants = (d.variants as Json[]) ?? [];
  const total = variants.reduce((sum, v) => sum + Number(v.weight ?? 0), 0);
  const update = (i: number, patch: Json) => set({ variants: variants.map((v, j) => (j === i ? { ...v, ...patch } : v)) });
  return (
    <>
      {variants.map((variant, i) => (
        <Space key={i} style={{ marginBottom: 8 }}>
          <Input style={{ width: 120 }} value={String(variant.name ?? '')} onChange={(e) => update(i, { name: e.target.value })} />
          <InputNumber min={1} max={10000} value={Number(variant.weight ?? 1)} onChange={(weight) => update(i, { weight: weight ?? 1 })} />
          <Typography.Text type="secondary">{total ? `${Math.round((Number(variant.weight) / total) * 1000) / 10}%` : ''}</Typography.Text>
          <Button type="text" danger icon={<DeleteOutlined />} disabled={variants.length <= 2} onClick={() => onRemove(i)} />
        </Space>
      ))}
      <Button icon={<PlusOutlined />} disabled={variants.length >= 10} onClick={() => set({ variants: [...variants, { name: String.fromCharCode(65 + variants.length), weight: 50 }] })}>
        {t('journey.ab.add')}
      </Button>
    </>
  );
}

function ActionForm({ action, set, pickers }: { action: Json; set: (action: Json) => void; pickers: Pickers }) {
  const { t } = useI18n();
  const patch = (p: Json) => set({ ...action, ...p });
  if (action.kind === 'send') {
    const choices = pickers.templates.filter((tp) => tp.channel === action.channel);
    return (
      <>
        <Form.Item label={t('journey.field.channel')}>
          <Select
            value={String(action.channel)}
            options={CHANNELS.map((c) => ({ value: c, label: valueLabel(t, 'val.channel', c) }))}
            onChange={(channel: string) => set({ kind: 'send', channel, template: '' })}
            data-testid="send-channel"
          />
        </Form.Item>
        <Form.Item label={t('journey.field.template')} extra={t('journey.field.templateHelp')}>
          <Select
            showSearch
            value={(action.template as string) || undefined}
            options={choices.map((tp) => ({ value: tp.name, label: `${tp.title} (${tp.name}) · ${tp.status}` }))}
            onChange={(template: string) => patch({ template })}
            notFoundContent={t('journey.field.noTemplate')}
            data-testid="send-template"
          />
        </Form.Item>
      </>
    );
  }
  if (action.kind === 'advisor_task') {
    return (
      <>
        <Form.Item label={t('journey.task.title')}>
          <Input value={String(action.title ?? '')} maxLength={200} onChange={(e) => patch({ title: e.target.value })} data-testid="task-title" />
        </Form.Item>
        <Form.Item label={t('journey.task.points')} extra={t('journey.task.pointsHelp')}>
          <Input.TextArea rows={4} maxLength={4000} value={String(action.talking_points ?? '')} onChange={(e) => patch({ talking_points: e.target.value })} />
        </Form.Item>
        <Form.Item label={t('journey.task.priority')}>
          <Select
            value={String(action.priority ?? 'normal')}
            options={['urgent', 'high', 'normal', 'low'].map((p) => ({ value: p, label: valueLabel(t, 'val.priority', p) }))}
            onChange={(priority: string) => patch({ priority })}
          />
        </Form.Item>
        <DurationInput label={t('journey.task.due')} value={action.due} onChange={(due) => patch({ due })} />
      </>
    );
  }
  if (action.kind === 'set_tag') {
    const imported = pickers.catalog.tags.filter((tag) => tag.kind === 'imported');
    const chosen = imported.find((tag) => tag.name === action.tag);
    return (
      <>
        <Form.Item label={t('journey.field.tag')} extra={t('journey.field.tagHelp')}>
          <Select showSearch value={(action.tag as string) || undefined} options={imported.map((tag) => ({ value: tag.name, label: tag.title }))} onChange={(tag: string) => patch({ tag, value: '' })} />
        </Form.Item>
        <Form.Item label={t('journey.field.value')}>
          {chosen && tagValues(chosen).length ? (
            <Select value={(action.value as string) || undefined} options={tagValues(chosen).map((v) => ({ value: v, label: v }))} onChange={(value: string) => patch({ value })} />
          ) : (
            <Input value={String(action.value ?? '')} onChange={(e) => patch({ value: e.target.value })} />
          )}
        </Form.Item>
      </>
    );
  }
  if (action.kind === 'set_attribute') {
    return (
      <>
        <Form.Item label={t('journey.field.attribute')}>
          <Select showSearch value={(action.attribute as string) || undefined} options={pickers.catalog.attributes.map((a) => ({ value: a, label: a }))} onChange={(attribute: string) => patch({ attribute })} />
        </Form.Item>
        <Form.Item label={t('journey.field.value')}>
          <Input value={String(action.value ?? '')} onChange={(e) => patch({ value: e.target.value })} />
        </Form.Item>
      </>
    );
  }
  return (
    <Form.Item label="URL" extra={t('journey.field.webhookHelp')}>
      <Input value={String(action.url ?? '')} onChange={(e) => patch({ url: e.target.value })} />
    </Form.Item>
  );
}
