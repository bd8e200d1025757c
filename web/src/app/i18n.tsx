import { ConfigProvider } from 'antd';
import enGB from 'antd/locale/en_US';
import zhCNPack from 'antd/locale/zh_CN';
import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { enUS } from '@/locales/en-US';
import { type MessageKey, zhCN } from '@/locales/zh-CN';

export type Locale = 'zh-CN' | 'en-US';
type Vars = Record<string, string | number>;

const STORAGE_KEY = 'touchpoint.locale';
const MESSAGES: Record<Locale, Record<MessageKey, string>> = { 'zh-CN': zhCN, 'en-US': enUS };

/** Fill `{name}` placeholders of a message with values. */
export function format(template: string, vars?: Vars): string {
  if (!vars) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in vars ? String(vars[name]) : whole,
  );
}

interface I18n {
  locale: Locale;
  setLocale: (locale: Locale) => void;
  t: (key: MessageKey, vars?: Vars) => string;
}

const I18nContext = createContext<I18n | null>(null);

function initialLocale(): Locale {
  const saved = window.localStorage.getItem(STORAGE_KEY);
  return saved === 'en-US' ? 'en-US' : 'zh-CN';
}

/** The user's language (zh-CN unless they chose English), for our strings and Ant Design's own. */
export function I18nProvider({ children }: { children: ReactNode }) {
  const [locale, setLocaleState] = useState<Locale>(initialLocale);
  const setLocale = useCallback((next: Locale) => {
    window.localStorage.setItem(STORAGE_KEY, next);
    document.documentElement.lang = next;
    setLocaleState(next);
  }, []);
  const value = useMemo<I18n>(() => {
    dayjs.locale(locale === 'zh-CN' ? 'zh-cn' : 'en');
    const messages = MESSAGES[locale];
    return { locale, setLocale, t: (key, vars) => format(messages[key], vars) };
  }, [locale, setLocale]);
  return (
    <I18nContext.Provider value={value}>
      <ConfigProvider locale={locale === 'zh-CN' ? zhCNPack : enGB} theme={{ token: { colorPrimary: '#1f5fbf' } }}>
        {children}
      </ConfigProvider>
    </I18nContext.Provider>
  );
}

/** The current language and its translate function. */
export function useI18n(): I18n {
  const value = useContext(I18nContext);
  if (!value) throw new Error('useI18n outside I18nProvider');
  return value;
}
