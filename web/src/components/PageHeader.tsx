import { Space, Typography } from 'antd';
import type { ReactNode } from 'react';

/** A page's title, a line under it and its actions on the right. */
export function PageHeader({ title, sub, extra }: { title: ReactNode; sub?: ReactNode; extra?: ReactNode }) {
  return (
    <div className="page-header">
      <Typography.Title level={3}>{title}</Typography.Title>
      {sub && <Typography.Text type="secondary">{sub}</Typography.Text>}
      {extra && <Space style={{ marginLeft: 'auto' }}>{extra}</Space>}
    </div>
  );
}
