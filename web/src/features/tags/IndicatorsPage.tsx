import { EditOutlined, PlusOutlined } from '@ant-design/icons';
import { Button, Card, Descriptions, Drawer, Input, Select, Space, Table, Tag, Typography } from 'antd';
import { useMemo, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import type { Schemas } from '@/api/client';
import { can, useMe } from '@/app/auth';
import { useI18n } from '@/app/i18n';
import { PageHeader } from '@/components/PageHeader';
import { formatValue } from '@/lib/format';
import { windowText } from './indicatorForm';
import { useIndicator, useIndicators, useIndicatorUsedBy } from './queries';

type Indicator = Schemas['IndicatorDef'];

/** 指标: every indicator with search and a category filter; a row opens its definition and users. */
export default function IndicatorsPage() {
  const { t } = useI18n();
  const me = useMe();
  const navigate = useNavigate();
  const { data, isPending } = useIndicators();
  const [text, setText] = useState('');
  const [category, setCategory] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const categories = useMemo(() => [...new Set((data ?? []).map((i) => i.category))].sort(), [data]);
  const rows = (data ?? []).filter(
    (i) => (!category || i.category === category) && (!text || i.title.includes(text) || i.name.includes(text.toLowerCase())),
  );
  return (
    <div data-testid="indicators-page">
      <PageHeader
        title={t('ind.title')}
        extra={
          can(me, 'indicator:write') && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate('/catalog/indicators/new')}>
              {t('ind.new')}
            </Button>
          )
        }
      />
      <Card size="small">
        <Space style={{ marginBottom: 12 }} wrap>
          <Input.Search allowClear placeholder={t('ind.search')} onChange={(e) => setText(e.target.value.trim())} style={{ width: 320 }} />
          <Select
            allowClear
            placeholder={t('catalog.col.category')}
            style={{ width: 200 }}
            options={categories.map((c) => ({ value: c, label: c }))}
            onChange={(c?: string) => setCategory(c ?? null)}
          />
        </Space>
        <Table<Indicator>
          rowKey="name"
          size="middle"
          loading={isPending}
          dataSource={rows}
          pagination={{ pageSize: 20, showSizeChanger: true, pageSizeOptions: [20, 50, 100] }}
          onRow={(r) => ({ onClick: () => setOpen(r.name), style: { cursor: 'pointer' } })}
          columns={[
            { title: t('catalog.col.title'), dataIndex: 'title' },
            { title: t('catalog.col.name'), dataIndex: 'name', render: (n: string) => <Typography.Text code>{n}</Typography.Text> },
            { title: t('catalog.col.category'), dataIndex: 'category' },
            { title: t('catalog.col.source'), dataIndex: 'source' },
            { title: t('catalog.col.aggregation'), dataIndex: 'aggregation' },
            { title: t('catalog.col.window'), render: (_: unknown, r) => windowText(r.window, t) },
            { title: t('catalog.col.unit'), dataIndex: 'unit' },
          ]}
        />
      </Card>
      <IndicatorDrawer name={open} onClose={() => setOpen(null)} />
    </div>
  );
}

function IndicatorDrawer({ name, onClose }: { name: string | null; onClose: () => void }) {
  const { t } = useI18n();
  const me = useMe();
  const navigate = useNavigate();
  const { data } = useIndicator(name);
  const usedBy = useIndicatorUsedBy(name);
  return (
    <Drawer
      open={name !== null}
      onClose={onClose}
      size={560}
      title={data ? `${data.title} · ${data.name}` : name}
      extra={
        name &&
        can(me, 'indicator:write') && (
          <Button icon={<EditOutlined />} onClick={() => navigate(`/catalog/indicators/${name}/edit`)}>
            {t('tag.edit')}
          </Button>
        )
      }
    >
      {data && (
        <Descriptions column={1} size="small" bordered data-testid="indicator-detail">
          <Descriptions.Item label={t('catalog.col.category')}>{data.category}</Descriptions.Item>
          <Descriptions.Item label={t('editor.description')}>{data.description || '—'}</Descriptions.Item>
          <Descriptions.Item label={t('catalog.col.source')}>{data.source}</Descriptions.Item>
          <Descriptions.Item label={t('catalog.col.aggregation')}>{data.aggregation}</Descriptions.Item>
          {data.column && <Descriptions.Item label={t('ind.column')}>{data.column}</Descriptions.Item>}
          {data.event && <Descriptions.Item label={t('ind.event')}>{data.event}</Descriptions.Item>}
          {data.formula && <Descriptions.Item label={t('ind.formula')}>{data.formula}</Descriptions.Item>}
          <Descriptions.Item label={t('catalog.col.window')}>{windowText(data.window, t)}</Descriptions.Item>
          {(data.filters ?? []).length > 0 && (
            <Descriptions.Item label={t('ind.filters')}>
              {(data.filters ?? []).map((f, i) => (
                <Tag key={i}>
                  {f.column ?? f.property} {f.op} {formatValue(f.value)}
                </Tag>
              ))}
            </Descriptions.Item>
          )}
          <Descriptions.Item label={t('catalog.col.unit')}>{data.unit || '—'}</Descriptions.Item>
          <Descriptions.Item label={t('ind.readBy')}>
            {data.read_by.length === 0
              ? '—'
              : data.read_by.map((r) => {
                  const [kind, target] = r.split(' ');
                  return kind === 'tag' ? (
                    <Link key={r} to={`/catalog/tags/${target}`} style={{ marginRight: 8 }}>
                      {r}
                    </Link>
                  ) : (
                    <Tag key={r}>{r}</Tag>
                  );
                })}
          </Descriptions.Item>
          <Descriptions.Item label={t('ind.usedBy')}>
            {[...(usedBy.data?.segments ?? []).map((s) => `segment ${s}`), ...(usedBy.data?.journeys ?? []).map((j) => `journey ${j}`)].join(
              '、',
            ) || '—'}
          </Descriptions.Item>
        </Descriptions>
      )}
    </Drawer>
  );
}
