import { DeleteOutlined, ExperimentOutlined, PlusOutlined } from '@ant-design/icons';
import { Alert, App, Button, Card, Col, Form, Input, InputNumber, Row, Select, Space, Typography } from 'antd';
import { useState } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { ApiError, type Schemas } from '@/api/client';
import { fieldOf } from '@/app/errors';
import { useI18n } from '@/app/i18n';
import { PageLoading } from '@/app/PageLoading';
import { PageHeader } from '@/components/PageHeader';
import { formatValue } from '@/lib/format';
import type { MessageKey } from '@/locales/zh-CN';
import { useFields, useIndicator, useIndicatorDryRun, useSaveIndicator, type DryRun, type IndicatorBody } from './queries';

type Indicator = Schemas['IndicatorDef'];
type Source = IndicatorBody['source'];
type Aggregation = IndicatorBody['aggregation'];
type WindowKind = Schemas['Window']['kind'];

const SOURCES: Source[] = ['customers', 'assets', 'holdings', 'trades', 'cash_flows', 'events', 'derived'];
const AGGREGATIONS: Aggregation[] = [
  'count', 'count_distinct', 'sum', 'avg', 'min', 'max', 'first', 'last', 'days_since_first', 'days_since_last', 'value', 'formula',
];
const WINDOWS: WindowKind[] = ['days', 'trading_days', 'month_to_date', 'all_time', 'snapshot'];
const FILTER_OPS = ['=', '!=', '>', '>=', '<', '<=', 'in', 'not_in', 'exists'] as const;

interface IndicatorForm {
  name: string;
  title: string;
  category: string;
  unit: string;
  description: string;
  source: Source;
  aggregation: Aggregation;
  column?: string;
  event?: string;
  formula?: string;
  window?: { kind: WindowKind; n?: number | null; max_age?: number | null };
  filters: { target: string; op: (typeof FILTER_OPS)[number]; value?: string }[];
}

function formOf(d: Indicator): IndicatorForm {
  return {
    name: d.name,
    title: d.title,
    category: d.category ?? '',
    unit: d.unit ?? '',
    description: d.description ?? '',
    source: d.source,
    aggregation: d.aggregation,
    column: d.column ?? undefined,
    event: d.event ?? undefined,
    formula: d.formula ?? undefined,
    window: d.window ?? undefined,
    filters: (d.filters ?? []).map((f) => ({ target: (f.column ?? f.property) ?? '', op: f.op ?? '=', value: formatValue(f.value) })),
  };
}

function valueOf(text: string | undefined, op: string): unknown {
  if (op === 'exists' || text === undefined) return null;
  const cast = (s: string) => (s.trim() !== '' && !Number.isNaN(Number(s)) ? Number(s) : s.trim());
  return op === 'in' || op === 'not_in' ? text.split(/[,，]/).map(cast) : cast(text);
}

function bodyOf(form: IndicatorForm): IndicatorBody {
  const events = form.source === 'events';
  return {
    title: form.title,
    category: form.category || '其他',
    unit: form.unit ?? '',
    description: form.description ?? '',
    source: form.source,
    aggregation: form.aggregation,
    column: form.column || null,
    event: events ? form.event || null : null,
    formula: form.source === 'derived' ? form.formula || null : null,
    window: form.source === 'derived' || !form.window ? null : { kind: form.window.kind, n: form.window.n ?? null, max_age: form.window.max_age ?? null },
    filters: form.filters.map((f) => ({
      ...(events ? { property: f.target } : { column: f.target }),
      op: f.op,
      value: valueOf(f.value, f.op),
    })),
  };
}

const EMPTY: IndicatorForm = {
  name: '', title: '', category: '', unit: '', description: '', source: 'events', aggregation: 'count',
  window: { kind: 'days', n: 30 }, filters: [],
};

/** 新建 / 编辑指标 by form: source, aggregation, window (calendar or trading days), filters; a dry run. */
export default function IndicatorEditorPage() {
  const { name } = useParams();
  const loaded = useIndicator(name ?? null);
  if (name && loaded.isPending) return <PageLoading />;
  return <Editor key={name ?? 'new'} existing={name} initial={name && loaded.data ? formOf(loaded.data) : EMPTY} />;
}

function Editor({ existing, initial }: { existing?: string; initial: IndicatorForm }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const [form] = Form.useForm<IndicatorForm>();
  const source = Form.useWatch('source', form) ?? initial.source;
  const windowKind = Form.useWatch(['window', 'kind'], form) ?? initial.window?.kind;
  const name = Form.useWatch('name', form) ?? initial.name;
  const fields = useFields();
  const dryRun = useIndicatorDryRun(name || 'draft_indicator');
  const save = useSaveIndicator(name);
  const [fault, setFault] = useState<string | null>(null);
  const [preview, setPreview] = useState<DryRun | null>(null);
  const showFault = (error: unknown) => {
    if (!(error instanceof ApiError)) throw error;
    setFault(error.message);
    form.setFields(
      error.details.map((d) => {
        const rest = d.loc[0] === 'body' ? d.loc.slice(1) : d.loc;
        return { name: (rest[0] === 'window' ? ['window', rest[1] ?? 'kind'] : [rest[0] ?? 'title']) as never, errors: [`${fieldOf(d.loc)}: ${d.msg}`] };
      }),
    );
  };
  const run = async (action: 'dry-run' | 'save') => {
    setFault(null);
    let state: IndicatorForm;
    try {
      state = { ...form.getFieldsValue(true), ...(await form.validateFields()) };
    } catch {
      return;
    }
    try {
      if (action === 'dry-run') setPreview(await dryRun.mutateAsync(bodyOf(state)));
      else {
        const saved = await save.mutateAsync(bodyOf(state));
        message.success(t('editor.saved', { version: saved.version }));
        navigate('/catalog/indicators');
      }
    } catch (error) {
      showFault(error);
    }
  };
  const summary = preview?.indicators[name || 'draft_indicator'];
  const num = (v: number | null | undefined) => (v === null || v === undefined ? '—' : Number(v.toFixed(4)).toString());
  return (
    <div data-testid="indicator-editor-page">
      <PageHeader
        title={existing ? t('editor.edit', { name: existing }) : t('ind.new')}
        extra={
          <>
            <Button onClick={() => navigate('/catalog/indicators')}>{t('editor.cancel')}</Button>
            <Button icon={<ExperimentOutlined />} onClick={() => run('dry-run')} loading={dryRun.isPending}>
              {t('editor.dryRun')}
            </Button>
            <Button type="primary" onClick={() => run('save')} loading={save.isPending}>
              {t('editor.save')}
            </Button>
          </>
        }
      />
      {fault && <Alert type="error" showIcon title={t('editor.invalid')} description={fault} style={{ marginBottom: 16 }} />}
      {summary && (
        <Alert
          type="success"
          showIcon
          style={{ marginBottom: 16 }}
          title={t('editor.dryRun.hint', { sample: preview?.sample ?? 0 })}
          description={t('ind.summary', {
            nonNull: `${(summary.non_null * 100).toFixed(1)}%`,
            min: num(summary.min),
            mean: num(summary.mean),
            max: num(summary.max),
          })}
        />
      )}
      <Form<IndicatorForm> form={form} layout="vertical" initialValues={initial}>
        <Card title={t('editor.basics')} size="small" style={{ marginBottom: 16 }}>
          <Row gutter={12}>
            <Col span={8}>
              <Form.Item name="name" label={t('editor.name')} rules={[{ required: true, pattern: /^[a-z][a-z0-9_]{0,63}$/ }]}>
                <Input disabled={Boolean(existing)} />
              </Form.Item>
            </Col>
            <Col span={8}>
              <Form.Item name="title" label={t('editor.title')} rules={[{ required: true }]}>
                <Input />
              </Form.Item>
            </Col>
            <Col span={5}>
              <Form.Item name="category" label={t('catalog.col.category')}>
                <Input />
              </Form.Item>
            </Col>
            <Col span={3}>
              <Form.Item name="unit" label={t('catalog.col.unit')}>
                <Input />
              </Form.Item>
            </Col>
            <Col span={24}>
              <Form.Item name="description" label={t('editor.description')}>
                <Input.TextArea autoSize={{ minRows: 1, maxRows: 3 }} />
              </Form.Item>
            </Col>
          </Row>
        </Card>
        <Card title={t('catalog.col.source')} size="small" style={{ marginBottom: 16 }}>
          <Row gutter={12}>
            <Col span={6}>
              <Form.Item name="source" label={t('catalog.col.source')} rules={[{ required: true }]}>
                <Select options={SOURCES.map((s) => ({ value: s, label: s }))} />
              </Form.Item>
            </Col>
            <Col span={6}>
              <Form.Item name="aggregation" label={t('catalog.col.aggregation')} rules={[{ required: true }]}>
                <Select options={AGGREGATIONS.map((a) => ({ value: a, label: a }))} />
              </Form.Item>
            </Col>
            {source === 'events' && (
              <Col span={6}>
                <Form.Item name="event" label={t('ind.event')}>
                  <Select showSearch allowClear options={(fields.data?.events ?? []).map((e) => ({ value: e, label: e }))} />
                </Form.Item>
              </Col>
            )}
            {source !== 'derived' && (
              <Col span={6}>
                <Form.Item name="column" label={t('ind.column')}>
                  <Input />
                </Form.Item>
              </Col>
            )}
            {source === 'derived' && (
              <Col span={12}>
                <Form.Item name="formula" label={t('ind.formula')} rules={[{ required: true }]}>
                  <Input placeholder="a / b" />
                </Form.Item>
              </Col>
            )}
          </Row>
          {source !== 'derived' && (
            <Row gutter={12}>
              <Col span={8}>
                <Form.Item name={['window', 'kind']} label={t('ind.window.kind')} rules={[{ required: true }]}>
                  <Select options={WINDOWS.map((w) => ({ value: w, label: t(`ind.window.${w}` as MessageKey) }))} />
                </Form.Item>
              </Col>
              {(windowKind === 'days' || windowKind === 'trading_days') && (
                <Col span={6}>
                  <Form.Item name={['window', 'n']} label={t('ind.window.n')} rules={[{ required: true }]}>
                    <InputNumber min={1} max={3660} />
                  </Form.Item>
                </Col>
              )}
              {windowKind === 'snapshot' && (
                <Col span={8}>
                  <Form.Item name={['window', 'max_age']} label={t('ind.window.maxAge')}>
                    <InputNumber min={0} max={250} />
                  </Form.Item>
                </Col>
              )}
            </Row>
          )}
        </Card>
        <Card title={t('ind.filters')} size="small">
          <Form.List name="filters">
            {(rows, { add, remove }) => (
              <>
                {rows.map((row) => (
                  <Space key={row.key} align="baseline" wrap>
                    <Form.Item name={[row.name, 'target']} rules={[{ required: true }]}>
                      <Input placeholder={t('ind.filter.target')} style={{ width: 200 }} />
                    </Form.Item>
                    <Form.Item name={[row.name, 'op']}>
                      <Select style={{ width: 100 }} options={FILTER_OPS.map((op) => ({ value: op, label: op }))} />
                    </Form.Item>
                    <Form.Item name={[row.name, 'value']}>
                      <Input placeholder={t('cond.value')} style={{ width: 200 }} />
                    </Form.Item>
                    <Button type="text" danger icon={<DeleteOutlined />} onClick={() => remove(row.name)} />
                  </Space>
                ))}
                <Button icon={<PlusOutlined />} onClick={() => add({ target: '', op: '=', value: '' })}>
                  {t('ind.filter.add')}
                </Button>
              </>
            )}
          </Form.List>
          <Typography.Paragraph type="secondary" style={{ marginTop: 8, marginBottom: 0 }}>
            in / not_in: a, b, c
          </Typography.Paragraph>
        </Card>
      </Form>
    </div>
  );
}
