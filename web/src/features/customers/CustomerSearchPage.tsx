import { Card, Empty, Input, Table, Typography } from 'antd';
import { Link, useSearchParams } from 'react-router-dom';
import type { Schemas } from '@/api/client';
import { useI18n } from '@/app/i18n';
import { PageHeader } from '@/components/PageHeader';
import { useCustomerSearch } from './queries';

type Hit = Schemas['CustomerHit'];

/** 客户查询: search by number, phone tail or name, within the caller's scope; a row opens the 360° page. */
export default function CustomerSearchPage() {
  const { t } = useI18n();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const { data, isFetching } = useCustomerSearch(q, 50);
  return (
    <div data-testid="customer-search-page">
      <PageHeader title={t('customers.title')} />
      <Card>
        <Typography.Paragraph type="secondary">{t('customers.hint')}</Typography.Paragraph>
        <Input.Search
          defaultValue={q}
          allowClear
          enterButton={t('customers.search')}
          placeholder={t('shell.search.placeholder')}
          onSearch={(value) => setParams(value.trim() ? { q: value.trim() } : {})}
          style={{ maxWidth: 480, marginBottom: 16 }}
          data-testid="customer-search-input"
        />
        <Table<Hit>
          rowKey="customer_no"
          size="middle"
          loading={isFetching}
          dataSource={q ? (data ?? []) : []}
          pagination={false}
          locale={{ emptyText: <Empty description={q ? t('customers.none') : t('customers.hint')} /> }}
          data-testid="customer-results"
          columns={[
            {
              title: t('customers.col.no'),
              dataIndex: 'customer_no',
              render: (no: string) => <Link to={`/customers/${encodeURIComponent(no)}`}>{no}</Link>,
            },
            { title: t('customers.col.name'), dataIndex: 'name' },
            { title: t('customers.col.phone'), dataIndex: 'phone' },
            { title: t('customers.col.branch'), dataIndex: 'branch_id' },
            { title: t('customers.col.advisor'), dataIndex: 'advisor_id' },
            { title: t('customers.col.risk'), dataIndex: 'risk_level' },
            { title: t('customers.col.openDate'), dataIndex: 'open_date' },
          ]}
        />
      </Card>
    </div>
  );
}
