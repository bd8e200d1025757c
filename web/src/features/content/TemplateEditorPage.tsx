import { DeleteOutlined, EyeOutlined, PlusOutlined } from '@ant-design/icons';
import {
  Alert, App, Button, Card, Col, Descriptions, Empty, Form, Input, Row, Select, Space, Switch, Table, Tag, Tooltip, Typography,
} from 'antd';
import type { TextAreaRef } from 'antd/es/input/TextArea';
import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { can, useMe } from '@/app/auth';
import { reportError } from '@/app/errors';
import { useI18n } from '@/app/i18n';
import { PageLoading } from '@/app/PageLoading';
import { PageHeader } from '@/components/PageHeader';
import { formatTime } from '@/lib/format';
import { valueLabel } from '@/lib/labels';
import { useDebounced } from '@/lib/useDebounced';
import { CHANNEL_OPTIONS, fieldsOf, OUTCOME_COLORS, STATUS_COLORS } from './channels';
import {
  useDraftCheck, usePolicy, usePreview, useSaveTemplate, useTemplate, useTemplates, useTemplateStatus, useVariables, useVersions,
  type Preview, type Template, type TemplateBody,
} from './queries';
import { faultsByPlace, insertVariable, lineDiff, markBanned, templateLines, type FaultPlace } from './text';

type TextField = 'subject' | 'body' | 'url';

const BLANK: Template = {
  name: '',
  title: '',
  channel: 'sms',
  classification: 'marketing',
  urgent: false,
  subject: '',
  body: '',
  url: null,
  product: null,
  provider_template_id: null,
  params: {},
  track_links: true,
  description: '',
  owner: 'system',
};
const NAME_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

/** The template editor (/content/templates/new and /content/templates/:name): the fields of its channel, a
 * variable picker that inserts at the cursor, the content check's findings under the field they name, banned
 * words marked, a preview for a chosen customer with what the policies would do now, save / activate /
 * retire, and the versions with a line diff. */
export default function TemplateEditorPage() {
  const { t } = useI18n();
  const { name: routeName } = useParams();
  const name = routeName ?? null;
  const template = useTemplate(name);
  if (name && template.isPending) return <PageLoading />;
  if (name && !template.data) return <Empty description={t('tpl.missing')} data-testid="template-missing" />;
  return <Editor key={name ?? 'new'} name={name} loaded={template.data ?? null} />;
}

function Editor({ name, loaded }: { name: string | null; loaded: Template | null }) {
  const { t } = useI18n();
  const me = useMe();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const summaries = useTemplates();
  const summary = summaries.data?.find((s) => s.name === name);
  const versions = useVersions(name);
  const latest = versions.data?.[0]?.version ?? summary?.latest_version;
  const policy = usePolicy();
  const [draft, setDraft] = useState<Template>(loaded ?? BLANK);
  const [dirty, setDirty] = useState(false);
  // What is on screen is checked (and previewed) as typed: the fields, once typing pauses.
  const typed = useDebounced(useMemo(() => draftBody(draft, fieldsOf(draft.channel)), [draft]), 400);
  const checkName = name ?? (NAME_PATTERN.test(draft.name) ? draft.name : 'draft');
  const check = useDraftCheck(checkName, typed.body ? typed : null);
  const save = useSaveTemplate();
  const status = useTemplateStatus();
  const writable = can(me, 'template:write');
  const activates = can(me, 'template:activate');
  const fields = fieldsOf(draft.channel);
  const faults = check.data?.faults ?? [];
  const { byPlace, general } = useMemo(() => faultsByPlace(faults), [faults]);
  const banned = policy.data?.policy.banned_words ?? [];

  // The text field the picker writes into (the one last focused), and where its cursor was.
  const areas = { subject: useRef<TextAreaRef>(null), body: useRef<TextAreaRef>(null), url: useRef<TextAreaRef>(null) };
  const [target, setTarget] = useState<TextField>('body');

  const set = (patch: Partial<Template>) => {
    setDraft((d) => ({ ...d, ...patch }));
    setDirty(true);
  };

  const insert = (variable: string) => {
    const area = areas[target].current?.resizableTextArea?.textArea;
    const text = (draft[target] as string | null | undefined) ?? '';
    const start = area?.selectionStart ?? text.length;
    const end = area?.selectionEnd ?? text.length;
    const done = insertVariable(text, start, end, variable);
    set({ [target]: done.text } as Partial<Template>);
    requestAnimationFrame(() => {
      const after = areas[target].current?.resizableTextArea?.textArea;
      after?.focus();
      after?.setSelectionRange(done.cursor, done.cursor);
    });
  };

  const onSave = async () => {
    const saveAs = name ?? draft.name;
    if (!NAME_PATTERN.test(saveAs)) {
      message.error(t('tpl.nameRule'));
      return;
    }
    const body = draftBody(draft, fields);
    try {
      const done = await save.mutateAsync({ name: saveAs, body });
      setDirty(false);
      message.success(done.faults.length ? t('tpl.savedWithFaults', { v: done.version, n: done.faults.length }) : t('tpl.saved', { v: done.version }));
      if (!name) navigate(`/content/templates/${saveAs}`, { replace: true });
    } catch (error) {
      reportError(error);
    }
  };

  const onStatus = async (action: 'activate' | 'retire', version?: number) => {
    try {
      const done = await status.mutateAsync({ name: name ?? '', action, version });
      message.success(done.status === 'pending' ? t('tpl.pendingApproval') : t(`tpl.done.${action}`));
    } catch (error) {
      reportError(error);
    }
  };

  const state = summary?.status ?? 'draft';
  const faultsUnder = (place: FaultPlace) => <FieldFaults messages={byPlace[place]} place={place} />;
  const textArea = (field: TextField, rows: number) => (
    <Input.TextArea
      ref={areas[field]}
      rows={rows}
      value={(draft[field] as string | null | undefined) ?? ''}
      disabled={!writable}
      onFocus={() => setTarget(field)}
      onChange={(e) => set({ [field]: e.target.value } as Partial<Template>)}
      status={byPlace[field]?.length ? 'error' : undefined}
      data-testid={`template-${field}`}
    />
  );

  return (
    <div data-testid="template-editor-page">
      <PageHeader
        title={
          <Space>
            {name ? loaded?.title ?? name : t('tpl.new')}
            {name && <Tag color={STATUS_COLORS[state]} data-testid="template-status">{valueLabel(t, 'val.templateStatus', state)}</Tag>}
            {latest !== undefined && (
              <Tag data-testid="template-version-chip">
                {summary?.active_version && summary.active_version !== latest
                  ? t('tpl.versionChip', { active: summary.active_version, latest })
                  : `v${latest}`}
              </Tag>
            )}
          </Space>
        }
        sub={name ? <Typography.Text code>{name}</Typography.Text> : t('tpl.newSub')}
        extra={
          <>
            <Button onClick={() => navigate('/content/templates')}>{t('tpl.back')}</Button>
            {name && activates && state === 'active' && (
              <Button danger onClick={() => onStatus('retire')} loading={status.isPending} data-testid="template-retire">
                {t('tpl.retire')}
              </Button>
            )}
            {name && activates && (state !== 'active' || summary?.active_version !== latest) && (
              <Tooltip title={faults.length > 0 ? t('tpl.activateBlocked') : undefined}>
                <Button
                  onClick={() => onStatus('activate', latest)}
                  disabled={dirty || faults.length > 0}
                  loading={status.isPending}
                  data-testid="template-activate"
                >
                  {t('tpl.activate', { v: latest ?? '' })}
                </Button>
              </Tooltip>
            )}
            {writable && (
              <Button type="primary" onClick={onSave} loading={save.isPending} disabled={!dirty} data-testid="template-save">
                {name ? t('tpl.saveVersion') : t('tpl.save')}
              </Button>
            )}
          </>
        }
      />
      <Row gutter={16}>
        <Col xs={24} xl={14}>
          <Card size="small" title={t('tpl.content')} data-testid="template-form">
            {general.length > 0 && (
              <Alert
                type="error"
                showIcon
                style={{ marginBottom: 12 }}
                data-testid="template-faults-general"
                title={t('tpl.checkFaults')}
                description={<ul style={{ margin: 0, paddingLeft: 18 }}>{general.map((f) => <li key={f}>{f}</li>)}</ul>}
              />
            )}
            <Form layout="vertical" component="div">
              <Row gutter={12}>
                {!name && (
                  <Col span={12}>
                    <Form.Item label={t('tpl.name')} required help={t('tpl.nameRule')}>
                      <Input value={draft.name} onChange={(e) => set({ name: e.target.value.trim() })} data-testid="template-name" />
                    </Form.Item>
                  </Col>
                )}
                <Col span={name ? 12 : 12}>
                  <Form.Item label={t('tpl.title')} required>
                    <Input value={draft.title} disabled={!writable} onChange={(e) => set({ title: e.target.value })} data-testid="template-title" />
                    {faultsUnder('title')}
                  </Form.Item>
                </Col>
                <Col span={6}>
                  <Form.Item label={t('tpl.channel')} tooltip={name ? t('tpl.channelKept') : undefined}>
                    <Select
                      value={draft.channel}
                      disabled={!!name || !writable}
                      onChange={(channel) => set({ channel })}
                      options={CHANNEL_OPTIONS.map((c) => ({ value: c, label: valueLabel(t, 'val.channel', c) }))}
                      data-testid="template-channel"
                    />
                  </Form.Item>
                </Col>
                <Col span={6}>
                  <Form.Item label={t('tpl.classification')}>
                    <Select
                      value={draft.classification}
                      disabled={!writable}
                      onChange={(classification) => set({ classification, urgent: classification === 'marketing' ? false : draft.urgent })}
                      options={['marketing', 'service'].map((c) => ({ value: c, label: valueLabel(t, 'val.classification', c) }))}
                    />
                  </Form.Item>
                </Col>
              </Row>
              {draft.classification === 'service' && (
                <Form.Item label={t('tpl.urgent')} tooltip={t('tpl.urgentHelp')}>
                  <Switch checked={!!draft.urgent} disabled={!writable} onChange={(urgent) => set({ urgent })} />
                </Form.Item>
              )}
              <Form.Item label={t('tpl.variables')} tooltip={t('tpl.variablesHelp')}>
                <VariablePicker onPick={insert} disabled={!writable} target={t(`tpl.field.${target}`)} />
              </Form.Item>
              {fields.subject && (
                <Form.Item label={t('tpl.subject')}>
                  {textArea('subject', 1)}
                  {faultsUnder('subject')}
                </Form.Item>
              )}
              <Form.Item label={t('tpl.body')} required extra={t('tpl.length', { n: draft.body.length, max: policy.data?.policy.max_lengths?.[draft.channel] ?? '—' })}>
                {textArea('body', 6)}
                <BannedMarks text={draft.body} words={banned} />
                {faultsUnder('body')}
              </Form.Item>
              {fields.url && (
                <Form.Item label={t('tpl.url')}>
                  {textArea('url', 1)}
                  {faultsUnder('url')}
                </Form.Item>
              )}
              <Row gutter={12}>
                <Col span={12}>
                  <Form.Item label={t('tpl.product')} tooltip={t('tpl.productHelp')}>
                    <Input value={draft.product ?? ''} disabled={!writable} onChange={(e) => set({ product: e.target.value || null })} />
                    {faultsUnder('product')}
                  </Form.Item>
                </Col>
                {fields.providerTemplate && (
                  <Col span={12}>
                    <Form.Item label={t('tpl.providerTemplateId')} required>
                      <Input
                        value={draft.provider_template_id ?? ''}
                        disabled={!writable}
                        onChange={(e) => set({ provider_template_id: e.target.value || null })}
                        data-testid="template-provider-id"
                      />
                      {faultsUnder('provider_template_id')}
                    </Form.Item>
                  </Col>
                )}
              </Row>
              {fields.params && (
                <Form.Item label={t('tpl.params')} tooltip={t('tpl.paramsHelp')}>
                  <ParamsEditor params={draft.params ?? {}} disabled={!writable} onChange={(params) => set({ params })} />
                  {faultsUnder('params')}
                </Form.Item>
              )}
            </Form>
          </Card>
        </Col>
        <Col xs={24} xl={10}>
          <PreviewCard name={checkName} version={dirty || !name ? undefined : latest} draft={dirty || !name ? draftBody(draft, fields) : null} payloadKeys={payloadKeys(draft)} />
        </Col>
      </Row>
      {name && <VersionsCard name={name} />}
    </div>
  );
}

/** The keys of the journey entry's payload a template reads (`payload.KEY` in any text or its product). */
function payloadKeys(template: Template): string[] {
  const texts = [template.subject, template.body, template.url, template.product, ...Object.values(template.params ?? {})];
  const keys = texts.flatMap((text) => [...(text ?? '').matchAll(/payload\.([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] ?? ''));
  return [...new Set(keys)].filter(Boolean);
}

/** The draft as the API's body: the fields the channel does not use left out. */
/** The editor's fields as the API takes them (the name comes from the path). */
function draftBody(draft: Template, fields: ReturnType<typeof fieldsOf>): TemplateBody {
  const { name: _omit, ...content } = draft;
  void _omit;
  return cleaned(content as TemplateBody, fields);
}

function cleaned(content: TemplateBody, fields: ReturnType<typeof fieldsOf>): TemplateBody {
  const body: TemplateBody = { ...content };
  if (!fields.subject) body.subject = '';
  if (!fields.url) body.url = null;
  if (!fields.providerTemplate) body.provider_template_id = null;
  if (!fields.params) body.params = {};
  if (body.classification === 'marketing') body.urgent = false;
  return body;
}

function FieldFaults({ messages, place }: { messages: string[] | undefined; place: string }) {
  if (!messages?.length) return null;
  return (
    <div data-testid={`fault-${place}`} style={{ marginTop: 4 }}>
      {messages.map((m) => (
        <div key={m}>
          <Typography.Text type="danger">{m}</Typography.Text>
        </div>
      ))}
    </div>
  );
}

/** The body with the policy's banned words marked, shown only when it holds one. */
function BannedMarks({ text, words }: { text: string; words: string[] }) {
  const { t } = useI18n();
  const pieces = useMemo(() => markBanned(text, words), [text, words]);
  if (!pieces.some((p) => p.banned)) return null;
  return (
    <div className="banned-marks" data-testid="banned-marks">
      <Typography.Text type="danger" strong>{t('tpl.bannedFound')}</Typography.Text>{' '}
      {pieces.map((p, i) => (p.banned ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}
    </div>
  );
}

/** A searchable list of the names a template may use, grouped by root; picking one inserts it. */
function VariablePicker({ onPick, disabled, target }: { onPick: (variable: string) => void; disabled: boolean; target: string }) {
  const { t } = useI18n();
  const variables = useVariables();
  const options = useMemo(() => {
    const data = variables.data;
    if (!data) return [];
    const group = (root: 'customer' | 'tags' | 'indicators' | 'product', names: string[]) => ({
      label: t(`tpl.root.${root}`),
      title: root,
      options: names.map((n) => ({ value: `${root}.${n}`, label: `${root}.${n}` })),
    });
    return [
      group('customer', data.customer),
      group('tags', data.tags),
      group('indicators', data.indicators),
      group('product', data.product),
      {
        label: t('tpl.root.globals'),
        title: 'globals',
        options: [...data.globals.map((n) => ({ value: n, label: n })), { value: 'payload.', label: t('tpl.root.payload') }],
      },
    ];
  }, [variables.data, t]);
  return (
    <Space.Compact style={{ width: '100%' }}>
      <Select
        showSearch
        disabled={disabled}
        loading={variables.isPending}
        value={null}
        placeholder={t('tpl.pickVariable', { field: target })}
        options={options}
        onChange={(v: string | null) => v && onPick(v === 'payload.' ? 'payload.key' : v)}
        style={{ width: '100%' }}
        data-testid="variable-picker"
        popupMatchSelectWidth
      />
    </Space.Compact>
  );
}

function ParamsEditor({ params, disabled, onChange }: { params: Record<string, string>; disabled: boolean; onChange: (p: Record<string, string>) => void }) {
  const { t } = useI18n();
  const rows = Object.entries(params);
  const write = (next: [string, string][]) => onChange(Object.fromEntries(next));
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      {rows.map(([key, value], i) => (
        <Space.Compact key={i} style={{ width: '100%' }}>
          <Input
            style={{ width: 140 }}
            value={key}
            disabled={disabled}
            placeholder={t('tpl.paramName')}
            onChange={(e) => write(rows.map((r, j) => (j === i ? [e.target.value, r[1]] : r)))}
          />
          <Input
            value={value}
            disabled={disabled}
            onChange={(e) => write(rows.map((r, j) => (j === i ? [r[0], e.target.value] : r)))}
          />
          <Button icon={<DeleteOutlined />} disabled={disabled} onClick={() => write(rows.filter((_, j) => j !== i))} aria-label={t('tpl.remove')} />
        </Space.Compact>
      ))}
      <Button size="small" icon={<PlusOutlined />} disabled={disabled} onClick={() => write([...rows, [`p${rows.length + 1}`, '']])}>
        {t('tpl.addParam')}
      </Button>
    </Space>
  );
}

/** The saved version (or the unsaved draft) rendered for a chosen customer, and what the policies would do with it now. */
function PreviewCard({ name, version, draft, payloadKeys }: { name: string; version: number | undefined; draft: TemplateBody | null; payloadKeys: string[] }) {
  const { t } = useI18n();
  const preview = usePreview();
  const [customer, setCustomer] = useState('');
  const [payload, setPayload] = useState('');
  const [payloadError, setPayloadError] = useState<string | null>(null);
  const [shown, setShown] = useState<Preview | null>(null);
  const run = async () => {
    let parsed: Record<string, unknown> = {};
    if (payload.trim()) {
      try {
        parsed = JSON.parse(payload) as Record<string, unknown>;
      } catch {
        setPayloadError(t('tpl.payloadInvalid'));
        return;
      }
    }
    setPayloadError(null);
    try {
      setShown(await preview.mutateAsync({ name, body: { customer_no: customer.trim(), payload: parsed, ...(draft ? { draft } : { version }) } }));
    } catch (error) {
      setShown(null);
      reportError(error);
    }
  };
  return (
    <Card size="small" title={t('tpl.preview')} extra={version !== undefined && <Tag>{`v${version}`}</Tag>} data-testid="template-preview">
      {draft && <Typography.Paragraph type="secondary">{t('tpl.previewDraft')}</Typography.Paragraph>}
      <Space.Compact style={{ width: '100%' }}>
        <Input
          placeholder={t('tpl.customerNo')}
          value={customer}
          onChange={(e) => setCustomer(e.target.value)}
          onPressEnter={run}
          data-testid="preview-customer"
        />
        <Button type="primary" icon={<EyeOutlined />} onClick={run} disabled={!customer.trim()} loading={preview.isPending} data-testid="preview-run">
          {t('tpl.previewRun')}
        </Button>
      </Space.Compact>
      <Input.TextArea
        style={{ marginTop: 8 }}
        rows={2}
        placeholder={t('tpl.payload')}
        value={payload}
        onChange={(e) => setPayload(e.target.value)}
        status={payloadError ? 'error' : undefined}
      />
      {payloadError && <Typography.Text type="danger">{payloadError}</Typography.Text>}
      {payloadKeys.length > 0 && (
        <Typography.Paragraph type="secondary" style={{ margin: '4px 0 0' }} data-testid="preview-payload-keys">
          {t('tpl.payloadKeys', { keys: payloadKeys.join(', ') })}
        </Typography.Paragraph>
      )}
      {shown && <PreviewResult preview={shown} />}
    </Card>
  );
}

function PreviewResult({ preview }: { preview: Preview }) {
  const { t } = useI18n();
  const { outcome, reason, until, ...evidence } = preview.policies;
  const items: { key: string; label: ReactNode; children: ReactNode }[] = [
    { key: 'address', label: t('tpl.address'), children: preview.address ?? '—' },
    ...(preview.subject ? [{ key: 'subject', label: t('tpl.subject'), children: preview.subject }] : []),
    { key: 'body', label: t('tpl.body'), children: <span style={{ whiteSpace: 'pre-wrap' }} data-testid="preview-body">{preview.body}</span> },
    ...(preview.url ? [{ key: 'url', label: t('tpl.url'), children: preview.url }] : []),
    { key: 'length', label: t('tpl.lengthLabel'), children: preview.length },
  ];
  return (
    <div style={{ marginTop: 12 }}>
      <Descriptions size="small" column={1} bordered items={items} />
      <Card size="small" type="inner" style={{ marginTop: 12 }} title={t('tpl.policiesNow')} data-testid="preview-policies">
        <Space direction="vertical" style={{ width: '100%' }}>
          <Space wrap>
            <Tag color={OUTCOME_COLORS[outcome] ?? 'default'} data-testid="preview-outcome">{valueLabel(t, 'val.policyOutcome', outcome)}</Tag>
            {reason && <Typography.Text>{reason}</Typography.Text>}
            {until && <Typography.Text type="secondary">{t('tpl.until', { at: formatTime(until) })}</Typography.Text>}
          </Space>
          {Object.keys(evidence).length > 0 && (
            <Descriptions
              size="small"
              column={1}
              items={Object.entries(evidence).map(([key, value]) => ({
                key,
                label: key,
                children: <Typography.Text style={{ fontSize: 12 }}>{typeof value === 'string' ? value : JSON.stringify(value)}</Typography.Text>,
              }))}
            />
          )}
        </Space>
      </Card>
      {preview.faults.length > 0 && (
        <Alert
          style={{ marginTop: 12 }}
          type="warning"
          showIcon
          title={t('tpl.checkFaults')}
          description={<ul style={{ margin: 0, paddingLeft: 18 }}>{preview.faults.map((f) => <li key={f}>{f}</li>)}</ul>}
        />
      )}
    </div>
  );
}

/** The saved versions (who, when, which sends) and the line diff between two chosen ones. */
function VersionsCard({ name }: { name: string }) {
  const { t } = useI18n();
  const versions = useVersions(name);
  const list = versions.data ?? [];
  const [picked, setPicked] = useState<[number | undefined, number | undefined]>([undefined, undefined]);
  const newest = list[0]?.version;
  const older = list[1]?.version;
  useEffect(() => {
    setPicked([older, newest]); // a new save compares the two newest
  }, [older, newest]);
  const [from, to] = picked;
  const left = useTemplate(from !== undefined ? name : null, from);
  const right = useTemplate(to !== undefined ? name : null, to);
  const lines = useMemo(
    () => (left.data && right.data ? lineDiff(templateLines(left.data), templateLines(right.data)) : []),
    [left.data, right.data],
  );
  const choices = list.map((v) => ({ value: v.version, label: `v${v.version}` }));
  return (
    <Card size="small" title={t('tpl.versions')} style={{ marginTop: 16 }} data-testid="template-versions">
      <Row gutter={16}>
        <Col xs={24} xl={10}>
          <Table
            size="small"
            rowKey="version"
            loading={versions.isPending}
            dataSource={list}
            pagination={{ pageSize: 8, hideOnSinglePage: true }}
            columns={[
              { title: t('tpl.version'), dataIndex: 'version', width: 70, render: (v: number) => `v${v}` },
              { title: t('tpl.savedBy'), dataIndex: 'actor' },
              { title: t('tpl.savedAt'), dataIndex: 'created_at', render: (v: string) => formatTime(v) },
              { title: '', dataIndex: 'active', width: 80, render: (v: boolean) => v && <Tag color="green">{t('tpl.sending')}</Tag> },
            ]}
          />
        </Col>
        <Col xs={24} xl={14}>
          <Space style={{ marginBottom: 8, display: list.length < 2 ? 'none' : undefined }} wrap>
            <Typography.Text>{t('tpl.compare')}</Typography.Text>
            <Select style={{ width: 90 }} value={from} options={choices} onChange={(v) => setPicked([v, to])} data-testid="diff-from" />
            <Typography.Text>→</Typography.Text>
            <Select style={{ width: 90 }} value={to} options={choices} onChange={(v) => setPicked([from, v])} data-testid="diff-to" />
          </Space>
          {list.length < 2 ? (
            <Typography.Paragraph type="secondary">{t('tpl.oneVersion')}</Typography.Paragraph>
          ) : (
            <div className="template-diff" data-testid="version-diff">
              {lines.map((line, i) => (
                <div key={i} className={`diff-${line.kind}`}>
                  <span className="diff-sign">{line.kind === 'added' ? '+' : line.kind === 'removed' ? '−' : ' '}</span>
                  {line.text}
                </div>
              ))}
            </div>
          )}
        </Col>
      </Row>
    </Card>
  );
}
