import { PlusOutlined } from '@ant-design/icons';
import { Button, Card, Input, Table, Typography } from 'antd';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import type { Schemas } from '@/api/client';
import { can, useMe } from '@/app/auth';
import { useI18n } from '@/app/i18n';
import { PageHeader } from '@/components/PageHeader';
import { fromRule } from './ruleTree';
import { summarize } from './summary';
import { useSegments } from './queries';

type Row = Schemas['SegmentDefinitionRead'];

/** 人群列表: every saved segment with its rule in words; a row opens its page. */
export default function SegmentsPage() {
  const { t } = useI18n();
  const me = useMe();
  const navigate = useNavigate();
  const { data, isPending } = useSegments();
  const [text, setText] = useState('');
  const rows = (data ?? []).filter((s) => !text || s.name.includes(text) || s.title.includes(text));
  return (
    <div data-testid="segments-page">
      <PageHeader
        title={t('seg.title')}
        extra={
          can(me, 'segment:write') && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate('/segments/new')} data-testid="segment-new">
              {t('seg.new')}
            </Button>
          )
        }
      />
      <Card size="small">
        <Input.Search allowClear onChange={(e) => setText(e.target.value.trim())} style={{ maxWidth: 320, marginBottom: 12 }} />
        <Table<Row>
          rowKey="name"
          loading={isPending}
          dataSource={rows}
          pagination={{ pageSize: 20 }}
          columns={[
            { title: t('form.title'), dataIndex: 'title', render: (title: string, r) => <Link to={`/segments/${r.name}`}>{title}</Link> },
            { title: t('catalog.col.name'), dataIndex: 'name', render: (n: string) => <Typography.Text code>{n}</Typography.Text> },
            { title: t('seg.col.kind'), dataIndex: 'kind', render: (k: string) => t(k === 'static' ? 'seg.kind.static' : 'seg.kind.dynamic') },
            {
              title: t('seg.rule'),
              dataIndex: 'rule',
              render: (rule: Record<string, unknown>) => (
                <Typography.Text ellipsis style={{ maxWidth: 420 }}>
                  {summarize(fromRule(rule), t)}
                </Typography.Text>
              ),
            },
            { title: t('catalog.col.owner'), dataIndex: 'owner' },
          ]}
        />
      </Card>
    </div>
  );
}
