import { Spin } from 'antd';
import { useI18n } from './i18n';

/** What a page shows while its chunk or first data loads. */
export function PageLoading() {
  const { t } = useI18n();
  return (
    <div style={{ padding: 48, textAlign: 'center' }}>
      <Spin description={t('common.loading')} />
    </div>
  );
}
