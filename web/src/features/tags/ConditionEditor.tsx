import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { Button, Input, InputNumber, Select, Space, Switch, Typography } from 'antd';
import { useI18n } from '@/app/i18n';
import { attributeValue, retypeAttributeValue } from '@/features/segments/ruleTree';
import type { MessageKey } from '@/locales/zh-CN';
import {
  blank, isParam, kindOf, OPERATORS,
  type AllOf, type AnyOf, type Compare, type Condition, type ConditionKind, type NotOf, type Operator,
} from './conditions';

export interface Fields {
  indicators: { value: string; label: string }[];
  attributes: string[];
  /** Each attribute's type (string, date, bool, float, int): an attribute's value is sent as that type. */
  attributeKinds?: Record<string, string>;
  params: string[];
}

interface Props {
  value?: Condition;
  onChange?: (value: Condition) => void;
  fields: Fields;
  depth?: number;
  onRemove?: () => void;
}

const KINDS: { kind: ConditionKind; label: MessageKey }[] = [
  { kind: 'compare', label: 'cond.compare' },
  { kind: 'all', label: 'cond.all' },
  { kind: 'any', label: 'cond.any' },
  { kind: 'not', label: 'cond.not' },
];
const RAIL = ['#1f5fbf', '#13a8a8', '#d48806', '#9254de'];
const MAX_DEPTH = 3;

/** A tag rule's condition, edited by clicking: a comparison, or an AND / OR / NOT group of conditions (at most
 * three levels, each group with a coloured rail). The value is the API's JSON shape. */
export function ConditionEditor({ value, onChange, fields, depth = 0, onRemove }: Props) {
  const { t } = useI18n();
  const condition = value ?? blank('compare');
  const kind = kindOf(condition);
  const change = (next: Condition) => onChange?.(next);
  const kinds = depth + 1 >= MAX_DEPTH ? KINDS.filter((k) => k.kind === 'compare') : KINDS;
  const head = (
    <Space wrap>
      <Select
        value={kind}
        style={{ width: 150 }}
        aria-label={t('cond.kind')}
        options={kinds.map((k) => ({ value: k.kind, label: t(k.label) }))}
        onChange={(next: ConditionKind) => change(blank(next))}
      />
      {kind === 'compare' && <CompareRow value={condition as Compare} onChange={change} fields={fields} />}
      {onRemove && <Button type="text" danger icon={<DeleteOutlined />} aria-label={t('cond.remove')} onClick={onRemove} />}
    </Space>
  );
  if (kind === 'compare') return head;
  const children = kind === 'not' ? [(condition as NotOf).not] : kind === 'all' ? (condition as AllOf).all : (condition as AnyOf).any;
  const rebuild = (items: Condition[]): Condition =>
    kind === 'not' ? { not: items[0] ?? blank('compare') } : kind === 'all' ? { all: items } : { any: items };
  return (
    <div>
      {head}
      <div style={{ borderLeft: `3px solid ${RAIL[depth % RAIL.length]}`, paddingLeft: 12, marginTop: 8, marginLeft: 8 }}>
        {children.map((child, index) => (
          <div key={index} style={{ marginBottom: 8 }}>
            {index > 0 && kind !== 'not' && (
              <Typography.Text type="secondary" style={{ display: 'block', marginBottom: 4 }}>
                {kind === 'all' ? 'AND' : 'OR'}
              </Typography.Text>
            )}
            <ConditionEditor
              value={child}
              fields={fields}
              depth={depth + 1}
              onChange={(next) => change(rebuild(children.map((c, i) => (i === index ? next : c))))}
              onRemove={children.length > 1 ? () => change(rebuild(children.filter((_, i) => i !== index))) : undefined}
            />
          </div>
        ))}
        {kind !== 'not' && (
          <Button size="small" icon={<PlusOutlined />} onClick={() => change(rebuild([...children, blank('compare')]))}>
            {t('cond.add')}
          </Button>
        )}
      </div>
    </div>
  );
}

function CompareRow({ value, onChange, fields }: { value: Compare; onChange: (v: Compare) => void; fields: Fields }) {
  const { t } = useI18n();
  const source = value.attribute !== undefined && value.attribute !== null ? 'attribute' : 'indicator';
  const fieldOptions =
    source === 'indicator' ? fields.indicators : fields.attributes.map((a) => ({ value: a, label: a }));
  return (
    <>
      <Select
        value={source}
        style={{ width: 110 }}
        options={[
          { value: 'indicator', label: t('cond.source.indicator') },
          { value: 'attribute', label: t('cond.source.attribute') },
        ]}
        onChange={(next) =>
          onChange(next === 'attribute' ? { attribute: '', op: value.op, value: value.value } : { indicator: undefined, op: value.op, value: value.value })
        }
      />
      <Select
        showSearch
        value={(source === 'indicator' ? value.indicator : value.attribute) || undefined}
        placeholder={t('cond.field')}
        style={{ width: 220 }}
        optionFilterProp="label"
        options={fieldOptions.map((o) => ({ value: o.value, label: o.label === o.value ? o.value : `${o.label} (${o.value})` }))}
        onChange={(field: string) =>
          onChange(
            source === 'indicator'
              ? { ...value, indicator: field, attribute: undefined }
              : { ...value, attribute: field, indicator: undefined, value: retypeAttributeValue(fields.attributeKinds?.[field], value.value) },
          )
        }
        data-testid="cond-field"
      />
      <Select
        value={value.op}
        style={{ width: 100 }}
        aria-label={t('cond.op')}
        options={OPERATORS.map((op) => ({ value: op, label: op }))}
        onChange={(op: Operator) => onChange({ ...value, op, value: op === 'exists' ? undefined : value.value })}
      />
      <ValueInput
        op={value.op}
        value={value.value}
        params={fields.params}
        kind={source === 'attribute' ? (fields.attributeKinds?.[String(value.attribute)] ?? 'string') : undefined}
        onChange={(v) => onChange({ ...value, value: v })}
      />
    </>
  );
}

/** Text that reads as a number becomes one (an indicator's thresholds are numbers). */
function numberOrText(text: string): number | string {
  const trimmed = text.trim();
  return trimmed !== '' && !Number.isNaN(Number(trimmed)) ? Number(trimmed) : text;
}

export function ValueInput({
  op,
  value,
  params,
  kind,
  onChange,
}: {
  op: Operator;
  value: unknown;
  params: string[];
  /** The attribute's type when the value is an attribute's; undefined for an indicator's threshold. */
  kind?: string;
  onChange: (v: unknown) => void;
}) {
  const { t } = useI18n();
  const typed = (text: string) => (kind === undefined ? numberOrText(text) : attributeValue(kind, text));
  if (op === 'exists') return null;
  if (op === 'in' || op === 'not_in') {
    const items = Array.isArray(value) ? value.map(String) : [];
    return (
      <Select
        mode="tags"
        value={items}
        style={{ minWidth: 200 }}
        placeholder={t('cond.value')}
        onChange={(next: string[]) => onChange(next.map(typed))}
      />
    );
  }
  if (op === 'between') {
    const [low, high] = Array.isArray(value) ? value : [undefined, undefined];
    if (kind !== undefined && kind !== 'int' && kind !== 'float') {
      const shown = (v: unknown) => (v === undefined || v === null ? '' : String(v));
      return (
        <Space.Compact>
          <Input placeholder={kind === 'date' ? 'YYYY-MM-DD' : t('cond.low')} value={shown(low)} onChange={(e) => onChange([typed(e.target.value), high])} style={{ width: 130 }} />
          <Input placeholder={kind === 'date' ? 'YYYY-MM-DD' : t('cond.high')} value={shown(high)} onChange={(e) => onChange([low, typed(e.target.value)])} style={{ width: 130 }} />
        </Space.Compact>
      );
    }
    return (
      <Space.Compact>
        <InputNumber placeholder={t('cond.low')} value={low as number | undefined} onChange={(v) => onChange([v, high])} />
        <InputNumber placeholder={t('cond.high')} value={high as number | undefined} onChange={(v) => onChange([low, v])} />
      </Space.Compact>
    );
  }
  const usesParam = isParam(value);
  return (
    <Space>
      {usesParam ? (
        <Select
          value={value.param}
          style={{ width: 160 }}
          options={params.map((p) => ({ value: p, label: p }))}
          onChange={(param: string) => onChange({ param })}
          data-testid="cond-param"
        />
      ) : (
        <Input
          style={{ width: 140 }}
          placeholder={kind === 'date' ? 'YYYY-MM-DD' : t('cond.value')}
          value={value === undefined || value === null ? '' : String(value)}
          onChange={(e) => onChange(typed(e.target.value))}
          data-testid="cond-value"
        />
      )}
      {params.length > 0 && (
        <Switch
          size="small"
          checked={usesParam}
          checkedChildren={t('cond.useParam')}
          unCheckedChildren={t('cond.useParam')}
          onChange={(on) => onChange(on ? { param: params[0] } : undefined)}
        />
      )}
    </Space>
  );
}
