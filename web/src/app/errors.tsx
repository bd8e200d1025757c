import { App } from 'antd';
import { useEffect } from 'react';
import { ApiError } from '@/api/client';
import type { MessageKey } from '@/locales/zh-CN';
import { useI18n } from './i18n';

type Reporter = (error: unknown) => void;
let reporter: Reporter = (error) => console.warn(error);

/** Show an error in the one place errors appear (a notification in the user's language). */
export function reportError(error: unknown): void {
  reporter(error);
}

const TITLES: Record<string, MessageKey> = {
  invalid: 'error.title.invalid',
  validation: 'error.title.invalid',
  not_found: 'error.title.not_found',
  conflict: 'error.title.conflict',
  forbidden: 'error.title.forbidden',
  unauthorized: 'error.title.unauthenticated',
  rate_limited: 'error.title.rate_limited',
  server: 'error.title.server',
  internal: 'error.title.server',
  network: 'error.title.network',
};

/** The field an error detail concerns, without the request part (`body`, `query`, `path`). */
export function fieldOf(loc: (string | number)[]): string {
  const rest = ['body', 'query', 'path'].includes(String(loc[0])) ? loc.slice(1) : loc;
  return rest.join('.');
}

/** Installs the reporter: mounted once inside Ant Design's App, so notifications follow the theme. */
export function ErrorCenter() {
  const { notification } = App.useApp();
  const { t } = useI18n();
  useEffect(() => {
    reporter = (error: unknown) => {
      const api = error instanceof ApiError ? error : null;
      const key = (api && TITLES[api.code]) ?? (api && api.status >= 500 ? 'error.title.server' : 'error.title.other');
      const message = api?.message ?? (error instanceof Error ? error.message : String(error));
      const fields = (api?.details ?? []).map((d) => `${t('error.field', { field: fieldOf(d.loc) })}: ${d.msg}`);
      notification.error({
        key: `${api?.code ?? 'error'}:${message}`,
        title: t(key),
        description: (
          <div data-testid="api-error">
            <div>{message}</div>
            {fields.map((line) => (
              <div key={line}>{line}</div>
            ))}
          </div>
        ),
        duration: 8,
      });
    };
  }, [notification, t]);
  return null;
}
