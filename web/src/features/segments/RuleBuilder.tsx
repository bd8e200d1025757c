import { DeleteOutlined, PlusOutlined, StopOutlined, UploadOutlined } from '@ant-design/icons';
import { useQueryClient } from '@tanstack/react-query';
import { App, Button, Dropdown, Input, InputNumber, Select, Space, Tag, Tooltip, Typography, Upload } from 'antd';
import type { ReactNode } from 'react';
import { postForm, type Schemas } from '@/api/client';
import { useI18n } from '@/app/i18n';
import type { MessageKey } from '@/locales/zh-CN';
import {
  addChild, attributeValue, blankLeaf, retypeAttributeValue, depthOf, group, isComplete, MAX_DEPTH, negate, removeNode, replaceNode, splitWindow,
  type Json, type LeafNode, type LeafType, type RuleNode,
} from './ruleTree';
import { useLists } from './queries';

/** What the pickers offer: the catalogue's tags, indicators, attributes, events and saved segments. */
export interface Catalog {
  tags: Schemas['TagDef'][];
  indicators: { name: string; title: string }[];
  attributes: string[];
  /** Each attribute's type (string, date, bool, float, int), so that a typed value is sent as that type. */
  attributeKinds?: Record<string, string>;
  events: string[];
  eventProperties: Record<string, string[]>;
  segments: string[];
}

/** The values a tag can take, from its definition (rule values and default, bucket labels, declared values,
 * model bands). */
export function tagValues(tag: Schemas['TagDef'] | undefined): string[] {
  if (!tag) return [];
  const values = [
    ...(tag.rules ?? []).map((r) => r.value),
    ...(tag.default ? [tag.default] : []),
    ...(tag.bucket?.labels ?? []),
    ...(tag.values ?? []),
    ...((tag.model?.bands as string[] | undefined) ?? []),
  ];
  return [...new Set(values)];
}

interface BuilderProps {
  tree: RuleNode;
  onChange: (tree: RuleNode) => void;
  catalog: Catalog;
}

const RAILS = ['#1f5fbf', '#13a8a8', '#d48806'];
const OPS = ['=', '!=', '>', '>=', '<', '<='] as const;

/** 圈选规则: groups with an AND/OR pill on a coloured rail, conditions as sentences, at most three levels. */
export function RuleBuilder({ tree, onChange, catalog }: BuilderProps) {
  const root = tree.type === 'all' || tree.type === 'any' ? tree : group('all', [tree]);
  return (
    <div data-testid="rule-builder">
      <NodeView node={root} tree={root} onChange={onChange} catalog={catalog} depth={0} />
    </div>
  );
}

interface NodeProps {
  node: RuleNode;
  tree: RuleNode;
  onChange: (tree: RuleNode) => void;
  catalog: Catalog;
  depth: number;
  negated?: boolean;
}

function NodeView(props: NodeProps) {
  const { node } = props;
  if (node.type === 'all' || node.type === 'any') return <GroupView {...props} />;
  if (node.type === 'not') {
    return <NodeView {...props} node={node.child} negated />;
  }
  return <LeafView {...props} leaf={node as LeafNode} />;
}

function GroupView({ node, tree, onChange, catalog, depth }: NodeProps) {
  const { t } = useI18n();
  if (node.type !== 'all' && node.type !== 'any') return null;
  const rail = RAILS[depth % RAILS.length];
  const toggle = () => onChange(replaceNode(tree, node.id, { ...node, type: node.type === 'all' ? 'any' : 'all' }));
  const add = (type: LeafType) => onChange(addChild(tree, node.id, blankLeaf(type)));
  const addGroup = () => onChange(addChild(tree, node.id, group(node.type === 'all' ? 'any' : 'all', [blankLeaf('tag')])));
  const menu = [
    { key: 'profile', type: 'group' as const, label: t('builder.group.profile'), children: (['tag', 'indicator', 'attribute'] as const).map(item) },
    { key: 'behaviour', type: 'group' as const, label: t('builder.group.behaviour'), children: (['event', 'sequence'] as const).map(item) },
    { key: 'segments', type: 'group' as const, label: t('builder.group.segments'), children: (['segment', 'list'] as const).map(item) },
  ];
  function item(type: LeafType) {
    return { key: type, label: <span data-testid={`add-${type}`}>{t(`builder.leaf.${type}` as MessageKey)}</span> };
  }
  return (
    <div className="rule-group" style={{ borderLeftColor: rail }} data-testid={`rule-group-${depth}`}>
      <Tooltip title={t('builder.toggle')}>
        <Button size="small" shape="round" className="rule-pill" style={{ background: rail }} onClick={toggle} data-testid="rule-pill">
          {node.type === 'all' ? t('builder.and') : t('builder.or')}
        </Button>
      </Tooltip>
      <Typography.Text type="secondary" style={{ marginLeft: 8 }}>
        {node.type === 'all' ? t('builder.match.all') : t('builder.match.any')}
      </Typography.Text>
      <div className="rule-children">
        {node.children.map((child) => (
          <NodeView key={child.id} node={child} tree={tree} onChange={onChange} catalog={catalog} depth={depth + 1} />
        ))}
      </div>
      <Space style={{ marginTop: 8 }}>
        <Dropdown menu={{ items: menu, onClick: ({ key }) => add(key as LeafType) }} trigger={['click']}>
          <Button size="small" icon={<PlusOutlined />} data-testid={`rule-add-${depth}`}>
            {t('builder.add')}
          </Button>
        </Dropdown>
        {depth + 1 < MAX_DEPTH - 1 && (
          <Button size="small" icon={<PlusOutlined />} onClick={addGroup}>
            {t('builder.addGroup')}
          </Button>
        )}
      </Space>
    </div>
  );
}

function LeafView({ leaf, tree, onChange, catalog, negated }: NodeProps & { leaf: LeafNode }) {
  const { t } = useI18n();
  const set = (body: Json) => onChange(replaceNode(tree, leaf.id, { ...leaf, body }));
  // The node to negate or remove is the NOT around the leaf when there is one.
  const outer = negated ? findParentNot(tree, leaf.id) : leaf;
  const remove = () => {
    const next = removeNode(tree, outer.id);
    onChange(next ?? group('all', []));
  };
  const toggleNot = () =>
    onChange(negated && outer.type === 'not' ? replaceNode(tree, outer.id, leaf) : replaceNode(tree, leaf.id, negate(leaf)));
  const depth = depthOf(tree, leaf.id) ?? 0;
  return (
    <div className={`rule-leaf${isComplete(leaf) ? '' : ' rule-leaf-incomplete'}`} data-testid={`rule-leaf-${leaf.type}`}>
      <Space wrap align="center">
        {negated && <Tag color="red">{t('builder.not')}</Tag>}
        <Tag>{t(`builder.leaf.${leaf.type}` as MessageKey)}</Tag>
        <LeafEditor leaf={leaf} set={set} catalog={catalog} />
        <Tooltip title={negated ? t('builder.unnegate') : t('builder.negate')}>
          <Button size="small" type="text" icon={<StopOutlined />} onClick={toggleNot} aria-label={t('builder.negate')} />
        </Tooltip>
        <Tooltip title={t('builder.remove')}>
          <Button size="small" type="text" danger icon={<DeleteOutlined />} onClick={remove} aria-label={t('builder.remove')} data-testid={`rule-remove-${depth}`} />
        </Tooltip>
      </Space>
    </div>
  );
}

function findParentNot(tree: RuleNode, leafId: string): RuleNode {
  if (tree.type === 'not' && tree.child.id === leafId) return tree;
  const children = tree.type === 'all' || tree.type === 'any' ? tree.children : tree.type === 'not' ? [tree.child] : [];
  for (const child of children) {
    const found = findParentNot(child, leafId);
    if (found.id !== leafId) return found;
  }
  return { id: leafId, type: 'list', body: {} };
}

function LeafEditor({ leaf, set, catalog }: { leaf: LeafNode; set: (b: Json) => void; catalog: Catalog }): ReactNode {
  switch (leaf.type) {
    case 'tag':
      return <TagEditor body={leaf.body} set={set} catalog={catalog} />;
    case 'indicator':
      return <IndicatorEditor body={leaf.body} set={set} catalog={catalog} />;
    case 'attribute':
      return <AttributeEditor body={leaf.body} set={set} catalog={catalog} />;
    case 'event':
      return <EventEditor body={leaf.body} set={set} catalog={catalog} />;
    case 'sequence':
      return <SequenceEditor body={leaf.body} set={set} catalog={catalog} />;
    case 'segment':
      return <SegmentPicker body={leaf.body} set={set} catalog={catalog} />;
    case 'list':
      return <ListName body={leaf.body} set={set} />;
  }
}

type EditorProps = { body: Json; set: (b: Json) => void; catalog: Catalog };

type Membership = 'in' | 'not_in' | 'exists' | 'missing';

function membershipOf(body: Json): Membership {
  if (Array.isArray(body.not_in)) return 'not_in';
  if (body.exists === true) return 'exists';
  if (body.exists === false) return 'missing';
  return 'in';
}

function withMembership(base: Json, mode: Membership, values: unknown[]): Json {
  if (mode === 'exists') return { ...base, exists: true };
  if (mode === 'missing') return { ...base, exists: false };
  return { ...base, [mode]: values };
}

function MembershipSelect({ mode, onChange, withCompare }: { mode: string; onChange: (m: string) => void; withCompare?: boolean }) {
  const { t } = useI18n();
  const options = [
    ...(withCompare ? [{ value: 'op', label: t('builder.compare') }] : []),
    { value: 'in', label: t('builder.in') },
    { value: 'not_in', label: t('builder.not_in') },
    { value: 'exists', label: t('builder.exists') },
    { value: 'missing', label: t('builder.missing') },
  ];
  return <Select value={mode} style={{ width: 150 }} options={options} onChange={onChange} data-testid="rule-membership" />;
}

function TagEditor({ body, set, catalog }: EditorProps) {
  const { t } = useI18n();
  const mode = membershipOf(body);
  const definition = catalog.tags.find((tag) => tag.name === body.tag);
  const values = (mode === 'not_in' ? body.not_in : body.in) as string[] | undefined;
  return (
    <>
      <Select
        showSearch
        value={(body.tag as string) || undefined}
        placeholder={t('builder.pickTag')}
        style={{ width: 220 }}
        optionFilterProp="label"
        options={catalog.tags.map((tag) => ({ value: tag.name, label: `${tag.title} (${tag.name})` }))}
        onChange={(tag: string) => set({ tag, in: [] })}
        data-testid="rule-tag"
      />
      <MembershipSelect mode={mode} onChange={(m) => set(withMembership({ tag: body.tag }, m as Membership, values ?? []))} />
      {(mode === 'in' || mode === 'not_in') && (
        <Select
          mode="multiple"
          value={values ?? []}
          placeholder={t('builder.pickValues')}
          style={{ minWidth: 200 }}
          options={tagValues(definition).map((v) => ({ value: v, label: v }))}
          onChange={(chosen: string[]) => set(withMembership({ tag: body.tag }, mode, chosen))}
          data-testid="rule-tag-values"
        />
      )}
    </>
  );
}

function IndicatorEditor({ body, set, catalog }: EditorProps) {
  const { t } = useI18n();
  const between = body.op === 'between';
  const pair = Array.isArray(body.value) ? (body.value as (number | null)[]) : [null, null];
  return (
    <>
      <Select
        showSearch
        value={(body.indicator as string) || undefined}
        placeholder={t('builder.pickIndicator')}
        style={{ width: 240 }}
        optionFilterProp="label"
        options={catalog.indicators.map((i) => ({ value: i.name, label: `${i.title} (${i.name})` }))}
        onChange={(indicator: string) => set({ ...body, indicator })}
        data-testid="rule-indicator"
      />
      <Select
        value={body.op as string}
        style={{ width: 100 }}
        options={[...OPS, 'between'].map((op) => ({ value: op, label: op }))}
        onChange={(op: string) => set({ ...body, op, value: op === 'between' ? [null, null] : null })}
        data-testid="rule-op"
      />
      {between ? (
        <Space.Compact>
          <InputNumber value={pair[0]} placeholder={t('cond.low')} onChange={(v) => set({ ...body, value: [v, pair[1] ?? null] })} />
          <InputNumber value={pair[1]} placeholder={t('cond.high')} onChange={(v) => set({ ...body, value: [pair[0] ?? null, v] })} />
        </Space.Compact>
      ) : (
        <InputNumber
          value={(body.value as number | null) ?? null}
          placeholder={t('cond.value')}
          style={{ width: 140 }}
          onChange={(v) => set({ ...body, value: v })}
          data-testid="rule-number"
        />
      )}
    </>
  );
}

function AttributeEditor({ body, set, catalog }: EditorProps) {
  const { t } = useI18n();
  const mode = typeof body.op === 'string' ? 'op' : membershipOf(body);
  const base = { attribute: body.attribute };
  const values = ((mode === 'not_in' ? body.not_in : body.in) as unknown[] | undefined) ?? [];
  const text = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  const kind = catalog.attributeKinds?.[String(body.attribute)];
  const typed = (s: string) => attributeValue(kind, s);
  return (
    <>
      <Select
        showSearch
        value={(body.attribute as string) || undefined}
        placeholder={t('builder.pickAttribute')}
        style={{ width: 180 }}
        options={catalog.attributes.map((a) => ({ value: a, label: a }))}
        onChange={(attribute: string) => {
          const next = catalog.attributeKinds?.[attribute];
          set({
            ...body,
            attribute,
            ...('value' in body ? { value: retypeAttributeValue(next, body.value) } : {}),
            ...('in' in body ? { in: retypeAttributeValue(next, body.in) } : {}),
            ...('not_in' in body ? { not_in: retypeAttributeValue(next, body.not_in) } : {}),
          });
        }}
        data-testid="rule-attribute"
      />
      <MembershipSelect
        withCompare
        mode={mode}
        onChange={(m) => set(m === 'op' ? { ...base, op: '=', value: '' } : withMembership(base, m as Membership, values))}
      />
      {mode === 'op' && (
        <>
          <Select value={body.op as string} style={{ width: 90 }} options={OPS.map((op) => ({ value: op, label: op }))} onChange={(op: string) => set({ ...body, op })} />
          <Input
            value={text(body.value)}
            style={{ width: 140 }}
            placeholder={kind === 'date' ? 'YYYY-MM-DD' : undefined}
            onChange={(e) => set({ ...body, value: typed(e.target.value) })}
            data-testid="rule-attribute-value"
          />
        </>
      )}
      {(mode === 'in' || mode === 'not_in') && (
        <Select
          mode="tags"
          value={values.map(String)}
          placeholder={t('builder.values')}
          style={{ minWidth: 200 }}
          onChange={(chosen: string[]) => set(withMembership(base, mode, chosen.map(typed)))}
        />
      )}
    </>
  );
}

export function WindowInput({ value, onChange, testId }: { value: unknown; onChange: (text: string) => void; testId?: string }) {
  const { t } = useI18n();
  const { n, unit } = splitWindow(value);
  return (
    <Space.Compact>
      <InputNumber min={1} max={3653} value={n} style={{ width: 80 }} onChange={(v) => onChange(`${v ?? 1}${unit}`)} data-testid={testId} />
      <Select
        value={unit}
        style={{ width: 136 }}
        options={(['d', 'td', 'h'] as const).map((u) => ({ value: u, label: t(`builder.unit.${u}`) }))}
        onChange={(u: string) => onChange(`${n}${u}`)}
        data-testid={testId ? `${testId}-unit` : undefined}
      />
    </Space.Compact>
  );
}

export function Filters({ event, where, onChange, catalog }: { event: unknown; where: Json[]; onChange: (w: Json[]) => void; catalog: Catalog }) {
  const { t } = useI18n();
  const properties = catalog.eventProperties[String(event)] ?? [];
  const typed = (s: string): string | number => (s.trim() !== '' && !Number.isNaN(Number(s)) ? Number(s) : s);
  return (
    <div style={{ width: '100%', paddingLeft: 24 }}>
      {where.map((filter, index) => {
        const update = (next: Json) => onChange(where.map((f, i) => (i === index ? next : f)));
        const list = filter.op === 'in' || filter.op === 'not_in';
        return (
          <Space key={index} style={{ marginTop: 4 }} wrap>
            <Typography.Text type="secondary">{t('builder.where')}</Typography.Text>
            <Select
              showSearch
              value={(filter.property as string) || undefined}
              placeholder={t('builder.property')}
              style={{ width: 160 }}
              options={properties.map((p) => ({ value: p, label: p }))}
              onChange={(property: string) => update({ ...filter, property })}
            />
            <Select
              value={(filter.op as string) ?? '='}
              style={{ width: 90 }}
              options={[...OPS, 'in', 'not_in', 'exists'].map((op) => ({ value: op, label: op }))}
              onChange={(op: string) => update({ ...filter, op, value: op === 'exists' ? null : op === 'in' || op === 'not_in' ? [] : '' })}
            />
            {filter.op !== 'exists' &&
              (list ? (
                <Select mode="tags" value={((filter.value as unknown[]) ?? []).map(String)} style={{ minWidth: 160 }} onChange={(v: string[]) => update({ ...filter, value: v.map(typed) })} />
              ) : (
                <Input value={filter.value === null || filter.value === undefined ? '' : String(filter.value)} style={{ width: 140 }} onChange={(e) => update({ ...filter, value: typed(e.target.value) })} />
              ))}
            <Button size="small" type="text" danger icon={<DeleteOutlined />} onClick={() => onChange(where.filter((_, i) => i !== index))} />
          </Space>
        );
      })}
      <div>
        <Button size="small" type="link" icon={<PlusOutlined />} onClick={() => onChange([...where, { property: properties[0] ?? '', op: '=', value: '' }])}>
          {t('builder.addFilter')}
        </Button>
      </div>
    </div>
  );
}

function EventEditor({ body, set, catalog }: EditorProps) {
  const { t } = useI18n();
  const count = (body.count as Json | undefined) ?? { op: '>=', value: 1 };
  const where = (body.where as Json[] | undefined) ?? [];
  const withWhere = (next: Json[]) => {
    const { where: _omit, ...rest } = body;
    set(next.length ? { ...rest, where: next } : rest);
  };
  return (
    <>
      <Typography.Text type="secondary">{t('builder.within')}</Typography.Text>
      <WindowInput value={body.within} onChange={(within) => set({ ...body, within })} testId="rule-within" />
      <Select
        showSearch
        value={(body.event as string) || undefined}
        placeholder={t('builder.pickEvent')}
        style={{ width: 200 }}
        options={catalog.events.map((e) => ({ value: e, label: e }))}
        onChange={(event: string) => {
          const { where: _drop, ...rest } = body;
          set({ ...rest, event });
        }}
        data-testid="rule-event"
      />
      <Typography.Text type="secondary">{t('builder.times')}</Typography.Text>
      <Select value={count.op as string} style={{ width: 80 }} options={OPS.map((op) => ({ value: op, label: op }))} onChange={(op: string) => set({ ...body, count: { ...count, op } })} />
      <InputNumber min={0} value={count.value as number} style={{ width: 80 }} onChange={(v) => set({ ...body, count: { ...count, value: v ?? 0 } })} data-testid="rule-count" />
      <Filters event={body.event} where={where} onChange={withWhere} catalog={catalog} />
    </>
  );
}

function SequenceEditor({ body, set, catalog }: EditorProps) {
  const { t } = useI18n();
  const steps = (body.sequence as Json[] | undefined) ?? [];
  const setSteps = (next: Json[]) => set({ ...body, sequence: next });
  return (
    <div style={{ width: '100%' }}>
      <Space wrap>
        <Typography.Text type="secondary">{t('builder.within')}</Typography.Text>
        <WindowInput value={body.within} onChange={(within) => set({ ...body, within })} />
        <Typography.Text type="secondary">{t('builder.gap')}</Typography.Text>
        <WindowInput value={body.gap} onChange={(gap) => set({ ...body, gap })} />
      </Space>
      {steps.map((step, index) => (
        <div key={index} style={{ marginTop: 6 }}>
          <Space wrap>
            <Tag color="blue">{t('builder.step', { n: index + 1 })}</Tag>
            <Select
              showSearch
              value={(step.event as string) || undefined}
              placeholder={t('builder.pickEvent')}
              style={{ width: 200 }}
              options={catalog.events.map((e) => ({ value: e, label: e }))}
              onChange={(event: string) => setSteps(steps.map((s, i) => (i === index ? { event } : s)))}
            />
            {steps.length > 2 && (
              <Button size="small" type="text" danger icon={<DeleteOutlined />} onClick={() => setSteps(steps.filter((_, i) => i !== index))} />
            )}
          </Space>
          <Filters
            event={step.event}
            where={(step.where as Json[] | undefined) ?? []}
            catalog={catalog}
            onChange={(where) =>
              setSteps(steps.map((s, i) => (i === index ? (where.length ? { ...s, where } : { event: s.event }) : s)))
            }
          />
        </div>
      ))}
      {steps.length < 10 && (
        <Button size="small" icon={<PlusOutlined />} onClick={() => setSteps([...steps, { event: '' }])}>
          {t('builder.addStep')}
        </Button>
      )}
    </div>
  );
}

function SegmentPicker({ body, set, catalog }: EditorProps) {
  const { t } = useI18n();
  return (
    <Select
      showSearch
      value={(body.segment as string) || undefined}
      placeholder={t('builder.pickSegment')}
      style={{ width: 220 }}
      options={catalog.segments.map((s) => ({ value: s, label: s }))}
      onChange={(segment: string) => set({ segment })}
    />
  );
}

/** 导入名单: pick an uploaded list by its name and size, or upload a file of customer numbers as a new one
 * (the numbers no customer has are reported). */
function ListName({ body, set }: { body: Json; set: (b: Json) => void }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const client = useQueryClient();
  const lists = useLists();
  const upload = async (file: Blob) => {
    const form = new FormData();
    form.append('file', file);
    try {
      const kept = await postForm<Schemas['ListUploadRead']>('/api/v1/lists', form);
      await client.invalidateQueries({ queryKey: ['lists'] });
      set({ list: kept.list });
      message.success(t('builder.listUploaded', { rows: kept.rows, unknown: kept.unknown.length }));
    } catch (error) {
      message.error(error instanceof Error ? error.message : String(error));
    }
  };
  return (
    <Space.Compact>
      <Select
        showSearch
        optionFilterProp="label"
        value={(body.list as string) || undefined}
        placeholder={t('builder.listName')}
        style={{ width: 260 }}
        options={(lists.data ?? []).map((l) => ({ value: l.list, label: `${l.name} · ${l.rows.toLocaleString()} · ${l.at.slice(0, 10)}` }))}
        onChange={(list: string) => set({ list })}
        data-testid="rule-list"
      />
      <Upload accept=".csv,.txt,text/csv,text/plain" showUploadList={false} customRequest={({ file }) => upload(file as Blob)}>
        <Button icon={<UploadOutlined />}>{t('builder.listUpload')}</Button>
      </Upload>
    </Space.Compact>
  );
}
