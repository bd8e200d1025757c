import { Alert, Card, Space, Statistic, Tag, Typography } from 'antd';
import { ApiError } from '@/api/client';
import { useMe } from '@/app/auth';
import { useI18n } from '@/app/i18n';
import { formatCount, formatTime } from '@/lib/format';
import { usePreview } from './queries';

/** 预估人数: the rule's live count (300 ms after the last edit), its share, a masked sample and when it was
 * computed; “规则未完成” while a condition is unfinished, never a misleading 0. */
export function LiveCount({ rule, complete }: { rule: unknown; complete: boolean }) {
  const { t, locale } = useI18n();
  const me = useMe();
  const preview = usePreview(rule, complete);
  const data = complete ? preview.data : undefined;
  return (
    <Card title={t('count.title')} size="small" className="sticky-card" data-testid="live-count">
      {!complete && <Typography.Text type="warning" data-testid="count-incomplete">{t('count.incomplete')}</Typography.Text>}
      {complete && preview.error && (
        <Alert
          type="error"
          showIcon
          title={t('count.failed')}
          description={preview.error instanceof ApiError ? preview.error.message : String(preview.error)}
          data-testid="count-error"
        />
      )}
      {data && (
        <Space direction="vertical" style={{ width: '100%' }}>
          <Statistic
            value={t('count.people', { count: formatCount(data.count, locale) })}
            loading={preview.isFetching}
            data-testid="count-value"
            data-count={data.count}
          />
          <Typography.Text>
            {t(me.scoped ? 'count.scopeShare' : 'count.share', {
              share: data.base ? `${((data.count / data.base) * 100).toFixed(1)}%` : '—',
            })}
          </Typography.Text>
          <Typography.Text type="secondary">
            {t('count.at', { time: formatTime(data.at), ms: data.elapsed_ms })}
          </Typography.Text>
          {data.snapshot_date && <Typography.Text type="secondary">{t('count.snapshot', { date: data.snapshot_date })}</Typography.Text>}
          {data.sample.length > 0 && (
            <div>
              <Typography.Text type="secondary">{t('count.sample')}: </Typography.Text>
              {data.sample.map((s) => (
                <Tag key={s}>{s}</Tag>
              ))}
            </div>
          )}
        </Space>
      )}
    </Card>
  );
}
