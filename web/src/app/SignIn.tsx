import { LockOutlined, UserOutlined } from '@ant-design/icons';
import { Button, Card, Form, Input, Typography } from 'antd';
import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { useSignIn } from './auth';
import { reportError } from './errors';
import { useI18n } from './i18n';
import { landingPath } from './routes';

interface Credentials {
  username: string;
  password: string;
}

/** 登录: username and password; the server sets an HttpOnly session cookie. */
export default function SignIn() {
  const { t, locale, setLocale } = useI18n();
  const signIn = useSignIn();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const submit = async ({ username, password }: Credentials) => {
    setBusy(true);
    try {
      const me = await signIn(username, password);
      const next = new URLSearchParams(window.location.search).get('next');
      if (me.must_change_password) navigate('/account/password');
      else navigate(next?.startsWith('/') && !next.startsWith('//') ? next : (landingPath(me) ?? '/'));
    } catch (error) {
      reportError(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="sign-in">
      <Card style={{ width: 380 }}>
        <Typography.Title level={3} style={{ marginTop: 0 }}>
          {t('app.title')}
        </Typography.Title>
        <Typography.Paragraph type="secondary">{t('signIn.subtitle')}</Typography.Paragraph>
        <Form<Credentials> layout="vertical" onFinish={submit} requiredMark={false}>
          <Form.Item
            name="username"
            label={t('signIn.username')}
            rules={[{ required: true, message: t('signIn.required', { field: t('signIn.username') }) }]}
          >
            <Input prefix={<UserOutlined />} autoComplete="username" data-testid="sign-in-username" />
          </Form.Item>
          <Form.Item
            name="password"
            label={t('signIn.password')}
            rules={[{ required: true, message: t('signIn.required', { field: t('signIn.password') }) }]}
          >
            <Input.Password prefix={<LockOutlined />} autoComplete="current-password" data-testid="sign-in-password" />
          </Form.Item>
          <Button type="primary" htmlType="submit" block loading={busy} data-testid="sign-in-submit">
            {t('signIn.submit')}
          </Button>
        </Form>
        <Button type="link" style={{ marginTop: 12, paddingLeft: 0 }} onClick={() => setLocale(locale === 'zh-CN' ? 'en-US' : 'zh-CN')}>
          {locale === 'zh-CN' ? 'English' : '中文'}
        </Button>
      </Card>
    </div>
  );
}
