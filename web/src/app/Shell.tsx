import { GlobalOutlined, LogoutOutlined, SafetyCertificateOutlined, UserOutlined } from '@ant-design/icons';
import { AutoComplete, Button, Dropdown, Input, Layout, Menu, Space, Tag, Typography } from 'antd';
import { Suspense, useMemo, useState } from 'react';
import { Outlet, useLocation, useNavigate } from 'react-router-dom';
import { useCustomerSearch } from '@/features/customers/queries';
import { can, useMe, useSignOut } from './auth';
import { reportError } from './errors';
import { useI18n } from './i18n';
import { PageLoading } from './PageLoading';
import { opens, SECTIONS } from './routes';

const { Header, Sider, Content } = Layout;

/** The frame of every page: menu by permission, customer search, data scope, language, account. */
export function Shell() {
  const me = useMe();
  const { t } = useI18n();
  const navigate = useNavigate();
  const location = useLocation();
  const items = useMemo(
    () =>
      SECTIONS.map((section) => ({
        section,
        routes: section.routes.filter((r) => r.menu && opens(r, me)),
      }))
        .filter(({ routes }) => routes.length > 0)
        .map(({ section, routes }) =>
          routes.length === 1 && routes[0]!.title === section.title
            ? { key: routes[0]!.path, icon: section.icon, label: t(section.title) }
            : {
                key: section.key,
                icon: section.icon,
                label: t(section.title),
                children: routes.map((r) => ({ key: r.path, label: t(r.title) })),
              },
        ),
    [me, t],
  );
  const selected = SECTIONS.flatMap((s) => s.routes)
    .filter((r) => r.menu && (location.pathname === r.path || location.pathname.startsWith(`${r.path}/`)))
    .map((r) => r.path);
  return (
    <Layout style={{ minHeight: '100vh' }}>
      <Sider width={232} breakpoint="lg" collapsedWidth={56} theme="light">
        <div className="brand" data-testid="brand">
          {t('app.short')}
        </div>
        <Menu
          mode="inline"
          items={items}
          selectedKeys={selected}
          defaultOpenKeys={SECTIONS.map((s) => s.key)}
          onClick={({ key }) => navigate(key)}
        />
      </Sider>
      <Layout>
        <Header className="topbar">
          {can(me, 'customer:read') && <div className="topbar-search"><CustomerSearch /></div>}
          <Space size="middle" className="topbar-tools" style={{ marginLeft: 'auto' }}>
            <ScopeChip />
            <LanguageSwitch />
            <AccountMenu />
          </Space>
        </Header>
        <Content className="content">
          <Suspense fallback={<PageLoading />}>
            <Outlet />
          </Suspense>
        </Content>
      </Layout>
    </Layout>
  );
}

/** 数据范围: what part of the customers the caller sees (enforced by the server). */
function ScopeChip() {
  const me = useMe();
  const { t } = useI18n();
  const text = me.advisor_id
    ? t('shell.scope.advisor', { advisor: me.advisor_id })
    : me.branches.length > 0
      ? t('shell.scope.branches', { branches: me.branches.join('、') })
      : t('shell.scope.all');
  return (
    <Tag icon={<SafetyCertificateOutlined />} color={me.scoped ? 'orange' : 'blue'} data-testid="scope-chip">
      {text}
    </Tag>
  );
}

function LanguageSwitch() {
  const { locale, setLocale, t } = useI18n();
  return (
    <Button
      type="text"
      icon={<GlobalOutlined />}
      aria-label={t('shell.language')}
      data-testid="language-switch"
      onClick={() => setLocale(locale === 'zh-CN' ? 'en-US' : 'zh-CN')}
    >
      {locale === 'zh-CN' ? 'English' : '中文'}
    </Button>
  );
}

function AccountMenu() {
  const me = useMe();
  const { t } = useI18n();
  const navigate = useNavigate();
  const signOut = useSignOut();
  const items = [
    { key: 'roles', label: `${t('shell.roles')}: ${me.roles.join(', ')}`, disabled: true },
    { key: 'password', label: t('shell.changePassword') },
    { key: 'sign-out', icon: <LogoutOutlined />, label: t('shell.signOut') },
  ];
  const onClick = ({ key }: { key: string }) => {
    if (key === 'password') navigate('/account/password');
    if (key === 'sign-out') {
      signOut()
        .then(() => navigate('/sign-in'))
        .catch(reportError);
    }
  };
  return (
    <Dropdown menu={{ items, onClick }} trigger={['click']}>
      <Button type="text" icon={<UserOutlined />} data-testid="account-menu">
        <Typography.Text ellipsis style={{ maxWidth: 180 }}>
          {me.display_name}
        </Typography.Text>
      </Button>
    </Dropdown>
  );
}

/** 客户查询 in the top bar: type a number, the last 4 phone digits or a name; pick to open the 360° page. */
function CustomerSearch() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const [text, setText] = useState('');
  const { data } = useCustomerSearch(text.trim(), 8);
  const options = (data ?? []).map((hit) => ({
    value: hit.customer_no,
    label: (
      <Space>
        <span>{hit.customer_no}</span>
        <span>{hit.name ?? ''}</span>
        <Typography.Text type="secondary">{hit.phone ?? ''}</Typography.Text>
      </Space>
    ),
  }));
  return (
    <AutoComplete
      options={options}
      value={text}
      onChange={setText}
      onSelect={(value: string) => {
        setText('');
        navigate(`/customers/${encodeURIComponent(value)}`);
      }}
      style={{ width: 320 }}
    >
      <Input.Search
        placeholder={t('shell.search.placeholder')}
        data-testid="topbar-search"
        onSearch={(value) => value.trim() && navigate(`/customers?q=${encodeURIComponent(value.trim())}`)}
      />
    </AutoComplete>
  );
}
