import {
  ApiOutlined, BranchesOutlined, ClockCircleOutlined, ExperimentOutlined, FieldTimeOutlined, FlagOutlined, LoginOutlined,
  SafetyCertificateOutlined, SendOutlined, TagOutlined, ThunderboltOutlined, UserOutlined, WarningFilled,
} from '@ant-design/icons';
import { Handle, Position, type Node, type NodeProps } from '@xyflow/react';
import { Tooltip } from 'antd';
import { memo, type ReactNode } from 'react';
import { useI18n } from '@/app/i18n';
import { valueLabel } from '@/lib/labels';
import type { MessageKey } from '@/locales/zh-CN';
import { handlesOf, NODE_WIDTH, paletteKeyOf, type Json, type NodeKind, type PaletteKey } from './graph';
import type { JourneyFault, NodeStats } from './queries';

/** What a node on the canvas shows: its definition, the faults on it and, in the live view or after a
 * simulation, its counts. */
export type StepData = {
  kind: NodeKind;
  data: Json;
  faults: JourneyFault[];
  stats?: NodeStats;
};
export type StepNode = Node<StepData, 'step'>;

export const PALETTE_ICONS: Record<PaletteKey, ReactNode> = {
  entry_segment: <LoginOutlined />,
  entry_schedule: <FieldTimeOutlined />,
  entry_event: <ThunderboltOutlined />,
  entry_mot: <FlagOutlined />,
  entry_api: <ApiOutlined />,
  wait: <ClockCircleOutlined />,
  wait_until: <FieldTimeOutlined />,
  wait_for_event: <ThunderboltOutlined />,
  split: <BranchesOutlined />,
  ab_split: <ExperimentOutlined />,
  send: <SendOutlined />,
  advisor_task: <UserOutlined />,
  set_tag: <TagOutlined />,
  set_attribute: <TagOutlined />,
  webhook: <ApiOutlined />,
  exit: <FlagOutlined />,
};

const GROUP_COLOURS: Record<string, string> = {
  entry: '#1f5fbf',
  wait: '#d48806',
  wait_for_event: '#d48806',
  split: '#722ed1',
  ab_split: '#722ed1',
  action: '#13a8a8',
  exit: '#8c8c8c',
};

/** A node of the journey: its kind, title, one line saying what it does, its handles, faults and counts. */
export const JourneyStep = memo(function JourneyStep({ id, data, selected }: NodeProps<StepNode>) {
  const { t } = useI18n();
  const key = paletteKeyOf(data);
  const handles = handlesOf(data.kind, data.data);
  const faulty = data.faults.length > 0;
  const colour = GROUP_COLOURS[data.kind] ?? '#8c8c8c';
  const title = typeof data.data.title === 'string' && data.data.title ? data.data.title : t(`journey.palette.${key}` as MessageKey);
  const guarded = key === 'send';
  return (
    <div
      className={`journey-node${selected ? ' selected' : ''}${faulty ? ' faulty' : ''}`}
      style={{ width: NODE_WIDTH, borderTopColor: colour }}
      data-testid={`journey-node-${id}`}
    >
      {data.kind !== 'entry' && <Handle type="target" position={Position.Top} />}
      <div className="journey-node-head" style={{ color: colour }}>
        {PALETTE_ICONS[key]}
        <span>{t(`journey.palette.${key}` as MessageKey)}</span>
        {guarded && (
          <Tooltip title={t('journey.node.guarded')}>
            <SafetyCertificateOutlined style={{ marginLeft: 'auto', color: '#389e0d' }} />
          </Tooltip>
        )}
        {faulty && (
          <Tooltip title={data.faults.map((f) => f.message).join('\n')}>
            <span className="journey-node-fault" style={{ marginLeft: guarded ? 4 : 'auto' }}>
              <WarningFilled /> {data.faults.length}
            </span>
          </Tooltip>
        )}
      </div>
      <div className="journey-node-title">{title}</div>
      <div className="journey-node-summary">{summary(data, t)}</div>
      {data.stats && <Counts stats={data.stats} />}
      {handles.map((handle, i) => (
        <Handle
          key={handle}
          id={handle}
          type="source"
          position={Position.Bottom}
          style={{ left: `${((i + 1) * 100) / (handles.length + 1)}%` }}
        >
          {handles.length > 1 && <span className="journey-handle-label">{handleLabel(data, handle, t)}</span>}
        </Handle>
      ))}
    </div>
  );
});

function Counts({ stats }: { stats: NodeStats }) {
  const { t } = useI18n();
  const sent = stats.actions.sent ?? stats.actions.done;
  return (
    <div className="journey-node-counts" data-testid="journey-node-counts">
      <span>{t('journey.stats.entered')} <b>{stats.entered.toLocaleString()}</b></span>
      {stats.waiting > 0 && <span>{t('journey.stats.waiting')} <b>{stats.waiting.toLocaleString()}</b></span>}
      {sent !== undefined && <span>{t('journey.stats.sent')} <b>{sent.toLocaleString()}</b></span>}
      {Object.keys(stats.skip_reasons ?? {}).length > 0 && (
        <Tooltip title={Object.entries(stats.skip_reasons ?? {}).map(([why, n]) => `${why}: ${n}`).join('\n')}>
          <span className="journey-node-skipped">
            {t('journey.stats.skipped')} <b>{Object.values(stats.skip_reasons ?? {}).reduce((a, b) => a + b, 0).toLocaleString()}</b>
          </span>
        </Tooltip>
      )}
    </div>
  );
}

type T = (key: MessageKey, vars?: Record<string, string | number>) => string;

/** The label of a handle: 是/超时, a branch's or variant's name, 其他, or nothing for a single way on. */
export function handleLabel(step: Pick<StepData, 'kind' | 'data'>, handle: string, t: T): string {
  const [head, at] = handle.split(':');
  const item = (list: unknown) => ((Array.isArray(list) ? list : [])[Number(at)] as Json | undefined)?.name;
  if (head === 'branch') return String(item(step.data.branches) ?? '');
  if (head === 'variant') return String(item(step.data.variants) ?? '');
  if (head === 'default') return t('journey.handle.default');
  if (head === 'on_event') return t('journey.handle.on_event');
  if (head === 'on_timeout') return t('journey.handle.on_timeout');
  return '';
}

/** A run status as the statistics key it (`converted (hold-out)`) in the user's language. */
export function runLabel(t: T, key: string): string {
  const holdout = key.endsWith(' (hold-out)');
  const status = holdout ? key.slice(0, -' (hold-out)'.length) : key;
  return valueLabel(t, 'val.run', status) + (holdout ? t('journey.holdoutSuffix') : '');
}

/** One line saying what the node does, from its definition. */
export function summary(step: Pick<StepData, 'kind' | 'data'>, t: T): string {
  const d = step.data;
  const text = (v: unknown) => (typeof v === 'string' && v ? v : '…');
  switch (step.kind) {
    case 'entry':
      if (d.type === 'segment') return t(d.schedule ? 'journey.sum.scheduled' : 'journey.sum.segment', { segment: text(d.segment), cron: String(d.schedule ?? '') });
      if (d.type === 'event') return t('journey.sum.event', { event: text(d.event) });
      return t('journey.sum.api', { keys: ((d.required as string[] | undefined) ?? []).join(', ') || '—' });
    case 'wait':
      if (d.duration) return t('journey.sum.wait', { duration: String(d.duration) });
      if (d.until_time) return t(d.trading_day ? 'journey.sum.untilTradingDay' : 'journey.sum.untilTime', { time: String(d.until_time) });
      return t('journey.sum.untilField', { field: text(d.until_field), offset: String(d.offset ?? '') });
    case 'wait_for_event':
      return t('journey.sum.waitFor', { event: text(d.event), timeout: text(d.timeout) });
    case 'split':
      return t('journey.sum.split', { n: ((d.branches as unknown[]) ?? []).length });
    case 'ab_split':
      return ((d.variants as Json[]) ?? []).map((v) => `${String(v.name)} ${String(v.weight)}`).join(' / ');
    case 'action': {
      const a = (d.action as Json | undefined) ?? {};
      if (a.kind === 'send') return `${valueLabel(t, 'val.channel', a.channel)} · ${text(a.template ?? a.text)}`;
      if (a.kind === 'advisor_task') return t('journey.sum.task', { title: text(a.title), due: String(a.due ?? '') });
      if (a.kind === 'set_tag') return `${text(a.tag)} = ${text(a.value)}`;
      if (a.kind === 'set_attribute') return `${text(a.attribute)} = ${JSON.stringify(a.value ?? '')}`;
      return text(a.url);
    }
    default:
      return t('journey.sum.exit');
  }
}
