import { DeleteOutlined, ExperimentOutlined, PlusOutlined } from '@ant-design/icons';
import {
  Alert, App, Button, Card, Col, Form, Input, InputNumber, Row, Select, Space, Switch, Table, Typography,
} from 'antd';
import { useEffect, useMemo, useState } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { ApiError } from '@/api/client';
import { fieldOf } from '@/app/errors';
import { useI18n } from '@/app/i18n';
import { PageLoading } from '@/app/PageLoading';
import { PageHeader } from '@/components/PageHeader';
import { ConditionEditor, ValueInput, type Fields } from './ConditionEditor';
import { blank, toApi, type Condition } from './conditions';
import { DistributionChart } from './TagDetailPage';
import {
  useFields, useIndicators, useSaveTag, useTag, useTagDryRun, type DryRun, type TagBody, type TagDef,
} from './queries';

type EditableKind = 'rule' | 'bucket' | 'imported';

/** The editor's form: the API body, except parameters as rows and the name kept apart. */
export interface TagForm {
  name: string;
  title: string;
  category: string;
  description: string;
  owner: string;
  schedule: string;
  kind: EditableKind;
  sensitive: boolean;
  params: { name: string; value: number | string }[];
  rules: { when: Condition; value: string }[];
  default?: string | null;
  bucket: { indicator?: string; edges: unknown[]; labels: string[] };
  values: string[];
}

/** A definition as the editor's form state. */
export function formOf(tag: TagDef): TagForm {
  return {
    name: tag.name,
    title: tag.title,
    category: tag.category,
    description: tag.description ?? '',
    owner: tag.owner ?? 'system',
    schedule: tag.schedule ?? 'daily',
    kind: (tag.kind === 'model' ? 'rule' : tag.kind) as EditableKind,
    sensitive: tag.sensitive ?? false,
    params: Object.entries(tag.params ?? {}).map(([name, value]) => ({ name, value })),
    rules: (tag.rules ?? []).map((r) => ({ when: r.when as Condition, value: r.value })),
    default: tag.default ?? null,
    bucket: { indicator: tag.bucket?.indicator, edges: tag.bucket?.edges ?? [], labels: tag.bucket?.labels ?? [] },
    values: tag.values ?? [],
  };
}

/** The form state as the API's body for its kind (the other kinds' fields left out). */
export function bodyOf(form: TagForm): TagBody {
  const params = Object.fromEntries(form.params.filter((p) => p.name).map((p) => [p.name, p.value]));
  const base = {
    title: form.title,
    category: form.category,
    description: form.description ?? '',
    owner: form.owner || 'system',
    schedule: form.schedule || 'daily',
    kind: form.kind,
    sensitive: form.sensitive,
    params,
  };
  if (form.kind === 'rule') {
    return {
      ...base,
      rules: form.rules.map((r) => ({ when: toApi(r.when) as never, value: r.value })),
      default: form.default || null,
    };
  }
  if (form.kind === 'bucket') {
    return { ...base, bucket: { indicator: form.bucket.indicator ?? '', edges: form.bucket.edges as never, labels: form.bucket.labels } };
  }
  return { ...base, values: form.values };
}

const EMPTY: TagForm = {
  name: '',
  title: '',
  category: '',
  description: '',
  owner: 'system',
  schedule: 'daily',
  kind: 'rule',
  sensitive: false,
  params: [],
  rules: [{ when: blank('compare'), value: '' }],
  default: null,
  bucket: { indicator: undefined, edges: [], labels: [] },
  values: [],
};

/** The form field an API fault concerns (`body.rules.0.when.value` → the rule's condition). */
export function formFieldOf(loc: (string | number)[]): (string | number)[] {
  const rest = loc[0] === 'body' ? loc.slice(1) : loc;
  if (rest[0] === 'rules' && typeof rest[1] === 'number') return ['rules', rest[1], rest[2] === 'value' ? 'value' : 'when'];
  if (rest[0] === 'bucket') return ['bucket', typeof rest[1] === 'string' ? rest[1] : 'indicator'];
  return [rest[0] ?? 'title'];
}

/** 新建 / 编辑标签: rule and bucket tags by form (no JSON), a dry run of the distribution, then save. */
export default function TagEditorPage() {
  const { name: existing } = useParams();
  const loaded = useTag(existing ?? '');
  if (existing && loaded.isPending) return <PageLoading />;
  const initial = existing && loaded.data ? formOf(loaded.data.definition) : EMPTY;
  return <Editor key={existing ?? 'new'} existing={existing} initial={initial} />;
}

function Editor({ existing, initial }: { existing?: string; initial: TagForm }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const [form] = Form.useForm<TagForm>();
  const kind = Form.useWatch('kind', form) ?? initial.kind;
  const paramRows = Form.useWatch('params', form) ?? initial.params;
  const name = Form.useWatch('name', form) ?? initial.name;
  const indicators = useIndicators();
  const known = useFields();
  const dryRun = useTagDryRun(name || 'draft_tag');
  const save = useSaveTag(name);
  const [fault, setFault] = useState<string | null>(null);
  const [preview, setPreview] = useState<DryRun | null>(null);
  const fields = useMemo<Fields>(
    () => ({
      indicators: (indicators.data ?? []).map((i) => ({ value: i.name, label: i.title })),
      attributes: known.data?.attributes ?? [],
      attributeKinds: known.data?.attribute_kinds ?? {},
      params: paramRows.map((p) => p?.name).filter((p): p is string => Boolean(p)),
    }),
    [indicators.data, known.data, paramRows],
  );
  useEffect(() => setPreview(null), [kind]);

  const showFault = (error: unknown) => {
    if (!(error instanceof ApiError)) throw error;
    setFault(error.message);
    form.setFields(error.details.map((d) => ({ name: formFieldOf(d.loc) as never, errors: [`${fieldOf(d.loc)}: ${d.msg}`] })));
  };
  const values = async (): Promise<TagForm | null> => {
    setFault(null);
    try {
      return await form.validateFields();
    } catch {
      return null;
    }
  };
  const runDryRun = async () => {
    const state = await values();
    if (!state) return;
    try {
      setPreview(await dryRun.mutateAsync(bodyOf({ ...form.getFieldsValue(true), ...state })));
    } catch (error) {
      showFault(error);
    }
  };
  const submit = async () => {
    const state = await values();
    if (!state) return;
    try {
      const saved = await save.mutateAsync(bodyOf({ ...form.getFieldsValue(true), ...state }));
      message.success(t('editor.saved', { version: saved.version }));
      navigate(`/catalog/tags/${saved.name}`);
    } catch (error) {
      showFault(error);
    }
  };
  const sampled = preview?.tags[name || 'draft_tag'];
  return (
    <div data-testid="tag-editor-page">
      <PageHeader
        title={existing ? t('editor.edit', { name: existing }) : t('catalog.tags.new')}
        extra={
          <>
            <Button onClick={() => navigate(existing ? `/catalog/tags/${existing}` : '/catalog/tags')}>{t('editor.cancel')}</Button>
            <Button icon={<ExperimentOutlined />} onClick={runDryRun} loading={dryRun.isPending} data-testid="tag-dry-run">
              {t('editor.dryRun')}
            </Button>
            <Button type="primary" onClick={submit} loading={save.isPending} data-testid="tag-save">
              {t('editor.save')}
            </Button>
          </>
        }
      />
      {fault && <Alert type="error" showIcon title={t('editor.invalid')} description={fault} style={{ marginBottom: 16 }} data-testid="editor-fault" />}
      <Row gutter={16}>
        <Col xs={24} xl={15}>
          <Form<TagForm> form={form} layout="vertical" initialValues={initial} requiredMark="optional">
            <Card title={t('editor.basics')} size="small" style={{ marginBottom: 16 }}>
              <Row gutter={12}>
                <Col span={12}>
                  <Form.Item name="name" label={t('editor.name')} rules={[{ required: true, pattern: /^[a-z][a-z0-9_]{0,63}$/ }]}>
                    <Input disabled={Boolean(existing)} />
                  </Form.Item>
                </Col>
                <Col span={12}>
                  <Form.Item name="title" label={t('editor.title')} rules={[{ required: true }]}>
                    <Input />
                  </Form.Item>
                </Col>
                <Col span={12}>
                  <Form.Item name="category" label={t('editor.category')} rules={[{ required: true }]}>
                    <Input />
                  </Form.Item>
                </Col>
                <Col span={6}>
                  <Form.Item name="kind" label={t('editor.kind')}>
                    <Select
                      options={(['rule', 'bucket', 'imported'] as const).map((k) => ({ value: k, label: t(`catalog.kind.${k}`) }))}
                    />
                  </Form.Item>
                </Col>
                <Col span={6}>
                  <Form.Item name="owner" label={t('editor.owner')}>
                    <Input />
                  </Form.Item>
                </Col>
                <Col span={24}>
                  <Form.Item name="description" label={t('editor.description')}>
                    <Input.TextArea autoSize={{ minRows: 1, maxRows: 4 }} />
                  </Form.Item>
                  <Form.Item name="sensitive" valuePropName="checked" label={t('editor.sensitive')}>
                    <Switch />
                  </Form.Item>
                </Col>
              </Row>
            </Card>
            {kind !== 'imported' && <ParamsCard />}
            {kind === 'rule' && <RulesCard fields={fields} />}
            {kind === 'bucket' && <BucketCard fields={fields} />}
            {kind === 'imported' && (
              <Card title={t('editor.values')} size="small">
                <Form.Item name="values" rules={[{ required: true }]}>
                  <Select mode="tags" />
                </Form.Item>
              </Card>
            )}
          </Form>
        </Col>
        <Col xs={24} xl={9}>
          <Card title={t('editor.dryRun')} size="small" data-testid="tag-dry-run-result">
            {preview && sampled ? (
              <>
                <Typography.Paragraph type="secondary">
                  {t('editor.dryRun.hint', { sample: preview.sample })} ·{' '}
                  {t('editor.dryRun.coverage', { coverage: `${(sampled.coverage * 100).toFixed(1)}%` })}
                </Typography.Paragraph>
                <DistributionChart counts={Object.entries(sampled.distribution)} testId="chart-dry-run" />
                <Table
                  size="small"
                  rowKey="value"
                  pagination={false}
                  data-testid="dry-run-table"
                  dataSource={Object.entries(sampled.distribution).map(([value, count]) => ({ value, count }))}
                  columns={[
                    { title: t('c360.value'), dataIndex: 'value' },
                    { title: t('tag.population'), dataIndex: 'count' },
                  ]}
                />
              </>
            ) : (
              <Typography.Text type="secondary">{t('editor.dryRun.hint', { sample: 2000 })}</Typography.Text>
            )}
          </Card>
        </Col>
      </Row>
    </div>
  );
}

function ParamsCard() {
  const { t } = useI18n();
  return (
    <Card title={t('editor.params')} size="small" style={{ marginBottom: 16 }}>
      <Form.List name="params">
        {(rows, { add, remove }) => (
          <>
            {rows.map((row) => (
              <Space key={row.key} align="baseline">
                <Form.Item name={[row.name, 'name']} rules={[{ required: true, pattern: /^[a-z][a-z0-9_]*$/ }]}>
                  <Input placeholder={t('editor.param.name')} style={{ width: 180 }} />
                </Form.Item>
                <Form.Item name={[row.name, 'value']} rules={[{ required: true }]}>
                  <InputNumber placeholder={t('editor.param.value')} style={{ width: 140 }} data-testid={`param-${row.name}`} />
                </Form.Item>
                <Button type="text" danger icon={<DeleteOutlined />} onClick={() => remove(row.name)} />
              </Space>
            ))}
            <Button icon={<PlusOutlined />} onClick={() => add({ name: '', value: 0 })}>
              {t('editor.param.add')}
            </Button>
          </>
        )}
      </Form.List>
    </Card>
  );
}

function RulesCard({ fields }: { fields: Fields }) {
  const { t } = useI18n();
  return (
    <Card title={t('editor.rules')} size="small" style={{ marginBottom: 16 }}>
      <Form.List name="rules">
        {(rows, { add, remove }) => (
          <>
            {rows.map((row, index) => (
              <Card key={row.key} size="small" type="inner" style={{ marginBottom: 12 }} title={`${t('tag.rule.when')} #${index + 1}`}
                extra={rows.length > 1 && <Button type="text" danger icon={<DeleteOutlined />} onClick={() => remove(row.name)} />}
              >
                <Form.Item name={[row.name, 'when']} rules={[{ required: true }]}>
                  <ConditionEditor fields={fields} />
                </Form.Item>
                <Form.Item name={[row.name, 'value']} label={t('tag.rule.then')} rules={[{ required: true }]} style={{ marginBottom: 0 }}>
                  <Input style={{ maxWidth: 240 }} />
                </Form.Item>
              </Card>
            ))}
            <Button icon={<PlusOutlined />} onClick={() => add({ when: blank('compare'), value: '' })}>
              {t('editor.rule.add')}
            </Button>
          </>
        )}
      </Form.List>
      <Form.Item name="default" label={t('editor.default')} style={{ marginTop: 16, marginBottom: 0 }}>
        <Input style={{ maxWidth: 240 }} />
      </Form.Item>
    </Card>
  );
}

function BucketCard({ fields }: { fields: Fields }) {
  const { t } = useI18n();
  return (
    <Card title={t('catalog.kind.bucket')} size="small" style={{ marginBottom: 16 }}>
      <Form.Item name={['bucket', 'indicator']} label={t('editor.bucket.indicator')} rules={[{ required: true }]}>
        <Select showSearch optionFilterProp="label" options={fields.indicators.map((i) => ({ value: i.value, label: `${i.label} (${i.value})` }))} />
      </Form.Item>
      <Row gutter={16}>
        <Col span={12}>
          <Typography.Text strong>{t('editor.bucket.edges')}</Typography.Text>
          <Form.List name={['bucket', 'edges']}>
            {(rows, { add, remove }) => (
              <>
                {rows.map((row) => (
                  <Space key={row.key} align="baseline" style={{ display: 'flex' }}>
                    <Form.Item name={row.name} rules={[{ required: true }]}>
                      <EdgeInput params={fields.params} />
                    </Form.Item>
                    <Button type="text" danger icon={<DeleteOutlined />} onClick={() => remove(row.name)} />
                  </Space>
                ))}
                <Button size="small" icon={<PlusOutlined />} onClick={() => add(0)}>
                  {t('editor.bucket.edge')}
                </Button>
              </>
            )}
          </Form.List>
        </Col>
        <Col span={12}>
          <Typography.Text strong>{t('editor.bucket.labels')}</Typography.Text>
          <Form.List name={['bucket', 'labels']}>
            {(rows, { add, remove }) => (
              <>
                {rows.map((row) => (
                  <Space key={row.key} align="baseline" style={{ display: 'flex' }}>
                    <Form.Item name={row.name} rules={[{ required: true }]}>
                      <Input style={{ width: 180 }} />
                    </Form.Item>
                    <Button type="text" danger icon={<DeleteOutlined />} onClick={() => remove(row.name)} />
                  </Space>
                ))}
                <Button size="small" icon={<PlusOutlined />} onClick={() => add('')}>
                  {t('editor.bucket.label')}
                </Button>
              </>
            )}
          </Form.List>
        </Col>
      </Row>
    </Card>
  );
}

function EdgeInput({ value, onChange, params }: { value?: unknown; onChange?: (v: unknown) => void; params: string[] }) {
  return <ValueInput op="<" value={value} params={params} onChange={(v) => onChange?.(v)} />;
}
