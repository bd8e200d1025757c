import { useQueryClient } from '@tanstack/react-query';
import { Alert, App, Button, Card, Form, Input } from 'antd';
import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { api, unwrap } from '@/api/client';
import { ME_KEY, useMe } from './auth';
import { reportError } from './errors';
import { useI18n } from './i18n';
import { landingPath } from './routes';

interface Change {
  current: string;
  password: string;
  confirm: string;
}

/** 修改密码, required first after a generated or reset password. */
export default function ChangePassword() {
  const me = useMe();
  const { t } = useI18n();
  const { message } = App.useApp();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const submit = async (values: Change) => {
    setBusy(true);
    try {
      await unwrap(
        api.POST('/api/v1/auth/password', { body: { current: values.current, new: values.password } }),
      );
      message.success(t('password.done'));
      await client.invalidateQueries({ queryKey: ME_KEY });
      navigate(landingPath(me) ?? '/');
    } catch (error) {
      reportError(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title={t('password.title')} style={{ maxWidth: 480 }}>
      {me.must_change_password && <Alert type="warning" title={t('password.mustChange')} style={{ marginBottom: 16 }} />}
      <Form<Change> layout="vertical" onFinish={submit}>
        <Form.Item name="current" label={t('password.current')} rules={[{ required: true }]}>
          <Input.Password autoComplete="current-password" />
        </Form.Item>
        <Form.Item name="password" label={t('password.new')} extra={t('password.rules')} rules={[{ required: true }]}>
          <Input.Password autoComplete="new-password" />
        </Form.Item>
        <Form.Item
          name="confirm"
          label={t('password.confirm')}
          dependencies={['password']}
          rules={[
            { required: true },
            ({ getFieldValue }) => ({
              validator: (_, value) =>
                !value || getFieldValue('password') === value ? Promise.resolve() : Promise.reject(new Error(t('password.mismatch'))),
            }),
          ]}
        >
          <Input.Password autoComplete="new-password" />
        </Form.Item>
        <Button type="primary" htmlType="submit" loading={busy}>
          {t('password.submit')}
        </Button>
      </Form>
    </Card>
  );
}
