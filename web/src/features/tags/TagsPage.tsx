import { PlusOutlined } from '@ant-design/icons';
import { Button, Card, Col, Input, Row, Table, Tag, Tree, Typography } from 'antd';
import type { DataNode } from 'antd/es/tree';
import { useMemo, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import type { Schemas } from '@/api/client';
import { can, useMe } from '@/app/auth';
import { useI18n } from '@/app/i18n';
import { PageHeader } from '@/components/PageHeader';
import type { MessageKey } from '@/locales/zh-CN';
import { useTags, useTagTree, type TagDef } from './queries';

type CategoryNode = Schemas['CategoryNode'];
const ALL = '__all__';

/** The tag taxonomy (标签体系): the category tree with search on the left, the tags of the chosen branch. */
export default function TagsPage() {
  const { t } = useI18n();
  const me = useMe();
  const navigate = useNavigate();
  const tree = useTagTree();
  const tags = useTags();
  const [category, setCategory] = useState(ALL);
  const [text, setText] = useState('');
  const treeData = useMemo<DataNode[]>(
    () => [{ key: ALL, title: t('catalog.tags.all'), children: (tree.data ?? []).map((n) => toNode(n, '')) }],
    [tree.data, t],
  );
  const rows = (tags.data ?? []).filter(
    (tag) =>
      (category === ALL || tag.category === category || tag.category.startsWith(`${category}/`)) &&
      (!text || tag.title.includes(text) || tag.name.includes(text.toLowerCase())),
  );
  return (
    <div data-testid="tags-page">
      <PageHeader
        title={t('catalog.tags.title')}
        extra={
          can(me, 'tag:write') && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate('/catalog/tags/new')}>
              {t('catalog.tags.new')}
            </Button>
          )
        }
      />
      <Row gutter={16}>
        <Col xs={24} md={7} xl={5}>
          <Card size="small">
            <Tree
              key={tree.data ? 'loaded' : 'loading'}
              blockNode
              defaultExpandAll
              selectedKeys={[category]}
              treeData={treeData}
              onSelect={(keys) => setCategory(String(keys[0] ?? ALL))}
            />
          </Card>
        </Col>
        <Col xs={24} md={17} xl={19}>
          <Card size="small">
            <Input.Search
              allowClear
              placeholder={t('catalog.tags.search')}
              onChange={(e) => setText(e.target.value.trim())}
              style={{ maxWidth: 360, marginBottom: 12 }}
              data-testid="tag-search"
            />
            <Table<TagDef>
              rowKey="name"
              size="middle"
              loading={tags.isPending}
              dataSource={rows}
              pagination={{ pageSize: 20, showSizeChanger: true, pageSizeOptions: [20, 50, 100] }}
              columns={[
                {
                  title: t('catalog.col.title'),
                  dataIndex: 'title',
                  render: (title: string, tag) => <Link to={`/catalog/tags/${tag.name}`}>{title}</Link>,
                },
                { title: t('catalog.col.name'), dataIndex: 'name', render: (n: string) => <Typography.Text code>{n}</Typography.Text> },
                { title: t('catalog.col.kind'), dataIndex: 'kind', render: (k: string) => <KindTag kind={k} /> },
                { title: t('catalog.col.category'), dataIndex: 'category' },
                {
                  title: t('catalog.col.sensitive'),
                  dataIndex: 'sensitive',
                  render: (s: boolean) => (s ? <Tag color="red">{t('common.yes')}</Tag> : t('common.no')),
                },
                { title: t('catalog.col.owner'), dataIndex: 'owner' },
              ]}
            />
          </Card>
        </Col>
      </Row>
    </div>
  );
}

function toNode(node: CategoryNode, parent: string): DataNode {
  const path = parent ? `${parent}/${node.name}` : node.name;
  return { key: path, title: node.name, children: node.children.map((child) => toNode(child, path)) };
}

const KIND_COLORS: Record<string, string> = { rule: 'blue', bucket: 'cyan', model: 'purple', imported: 'gold' };

/** A tag kind as a coloured label (规则标签, 分档标签, 模型标签, 导入标签). */
export function KindTag({ kind }: { kind: string }) {
  const { t } = useI18n();
  const key = `catalog.kind.${kind}` as MessageKey;
  return <Tag color={KIND_COLORS[kind]}>{kind in KIND_COLORS ? t(key) : kind}</Tag>;
}
