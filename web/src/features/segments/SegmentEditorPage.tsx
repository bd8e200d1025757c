import { Alert, App, Button, Card, Col, Form, Input, Row, Typography } from 'antd';
import { useMemo, useState } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { ApiError } from '@/api/client';
import { useI18n } from '@/app/i18n';
import { PageLoading } from '@/app/PageLoading';
import { PageHeader } from '@/components/PageHeader';
import { LiveCount } from './LiveCount';
import { useRuleCatalog } from './catalog';
import { useSaveSegment, useSegment } from './queries';
import { RuleBuilder } from './RuleBuilder';
import { blankLeaf, fromRule, group, isComplete, toRule, type RuleNode } from './ruleTree';
import { summarize } from './summary';

interface Basics {
  name: string;
  title: string;
  description: string;
}

/** 新建人群 / 编辑规则: the visual rule builder with the live count beside it. */
export default function SegmentEditorPage() {
  const { name } = useParams();
  const loaded = useSegment(name);
  if (name && loaded.isPending) return <PageLoading />;
  const tree = name && loaded.data ? fromRule(loaded.data.rule) : group('all', [blankLeaf('tag')]);
  const basics = { name: name ?? '', title: loaded.data?.title ?? '', description: loaded.data?.description ?? '' };
  return <Editor key={name ?? 'new'} existing={name} initialTree={tree} basics={basics} />;
}

function Editor({ existing, initialTree, basics }: { existing?: string; initialTree: RuleNode; basics: Basics }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const catalog = useRuleCatalog();
  const [tree, setTree] = useState<RuleNode>(initialTree);
  const [form] = Form.useForm<Basics>();
  const name = Form.useWatch('name', form) ?? basics.name;
  const save = useSaveSegment(name);
  const [fault, setFault] = useState<string | null>(null);
  const rule = useMemo(() => toRule(tree), [tree]);
  const complete = isComplete(tree);
  const titles = useMemo(
    () => Object.fromEntries([...catalog.tags.map((x) => [x.name, x.title]), ...catalog.indicators.map((x) => [x.name, x.title])]),
    [catalog],
  );
  const submit = async () => {
    setFault(null);
    let values: Basics;
    try {
      values = await form.validateFields();
    } catch {
      return;
    }
    try {
      const saved = await save.mutateAsync({
        title: values.title,
        description: values.description ?? '',
        kind: 'dynamic',
        owner: null,
        rule: rule as never,
      });
      if (saved.pending_approval) message.info(t('seg.pending', { id: saved.pending_approval.id }));
      else message.success(t('seg.saved', { name: saved.name, version: saved.version }));
      navigate(`/segments/${saved.name}`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      setFault([error.message, ...error.details.map((d) => `${d.loc.join('.')}: ${d.msg}`)].join('\n'));
    }
  };
  return (
    <div data-testid="segment-editor-page">
      <PageHeader
        title={existing ? `${t('seg.edit')} · ${existing}` : t('seg.new')}
        extra={
          <>
            <Button onClick={() => navigate(existing ? `/segments/${existing}` : '/segments')}>{t('editor.cancel')}</Button>
            <Button type="primary" disabled={!complete} loading={save.isPending} onClick={submit} data-testid="segment-save">
              {t('editor.save')}
            </Button>
          </>
        }
      />
      {fault && <Alert type="error" showIcon title={t('editor.invalid')} description={<pre style={{ margin: 0, whiteSpace: 'pre-wrap' }}>{fault}</pre>} style={{ marginBottom: 16 }} />}
      <Row gutter={16}>
        <Col xs={24} xl={17}>
          <Card size="small" style={{ marginBottom: 16 }}>
            <Form<Basics> form={form} layout="inline" initialValues={basics}>
              <Form.Item name="name" label={t('form.name')} rules={[{ required: true, pattern: /^[a-z][a-z0-9_]{0,63}$/ }]}>
                <Input disabled={Boolean(existing)} style={{ width: 200 }} data-testid="segment-name" />
              </Form.Item>
              <Form.Item name="title" label={t('form.title')} rules={[{ required: true }]}>
                <Input style={{ width: 220 }} data-testid="segment-title" />
              </Form.Item>
              <Form.Item name="description" label={t('form.description')}>
                <Input style={{ width: 280 }} />
              </Form.Item>
            </Form>
          </Card>
          <Card title={t('builder.title')} size="small">
            <Typography.Paragraph type="secondary" data-testid="rule-summary">
              {t('summary.label')}: {summarize(tree, t, titles)}
            </Typography.Paragraph>
            <RuleBuilder tree={tree} onChange={setTree} catalog={catalog} />
          </Card>
        </Col>
        <Col xs={24} xl={7}>
          <LiveCount rule={rule} complete={complete} />
        </Col>
      </Row>
    </div>
  );
}
