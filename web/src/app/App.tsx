import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { App as AntApp, Button, Result } from 'antd';
import { Suspense, lazy, type ReactNode } from 'react';
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { ApiError } from '@/api/client';
import { MeProvider, useMe, useMeQuery, ME_KEY } from './auth';
import { ErrorCenter, reportError } from './errors';
import { I18nProvider, useI18n } from './i18n';
import { PageLoading } from './PageLoading';
import { landingPath, opens, ROUTES, type PageRoute } from './routes';
import { Shell } from './Shell';

const SignIn = lazy(() => import('./SignIn'));
const ChangePassword = lazy(() => import('./ChangePassword'));

const client: QueryClient = new QueryClient({
  defaultOptions: { queries: { staleTime: 30_000, refetchOnWindowFocus: false } },
  // One place for every failed request: a notification in the user's language; a lapsed session signs out.
  queryCache: new QueryCache({
    onError: (error, query) => {
      if (!query.meta?.silent || (error instanceof ApiError && error.status === 401)) onRequestError(error);
    },
  }),
  mutationCache: new MutationCache({
    // An editor that shows a refusal on its own fields marks its mutation `meta: { silent: true }`.
    onError: (error, _variables, _context, mutation) => {
      if (!mutation.meta?.silent || (error instanceof ApiError && error.status === 401)) onRequestError(error);
    },
  }),
});

function onRequestError(error: unknown): void {
  if (error instanceof ApiError && error.status === 401) {
    client.setQueryData(ME_KEY, null);
    return;
  }
  reportError(error);
}

/** The console: providers, then the routes. */
export function App() {
  return (
    <QueryClientProvider client={client}>
      <I18nProvider>
        <AntApp>
          <ErrorCenter />
          <BrowserRouter>
            <Suspense fallback={<PageLoading />}>
              <AppRoutes />
            </Suspense>
          </BrowserRouter>
        </AntApp>
      </I18nProvider>
    </QueryClientProvider>
  );
}

function AppRoutes() {
  const { data: me, isPending } = useMeQuery();
  const location = useLocation();
  if (isPending) return <PageLoading />;
  if (!me) {
    return (
      <Routes>
        <Route path="/sign-in" element={<SignIn />} />
        <Route
          path="*"
          element={<Navigate to={`/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`} replace />}
        />
      </Routes>
    );
  }
  if (me.must_change_password && location.pathname !== '/account/password') {
    return <Navigate to="/account/password" replace />;
  }
  return (
    <MeProvider me={me}>
      <Routes>
        <Route element={<Shell />}>
          <Route path="/account/password" element={<ChangePassword />} />
          {ROUTES.map((route) => (
            <Route key={route.path} path={route.path} element={<Guarded route={route} />} />
          ))}
          <Route path="/" element={<Landing />} />
          <Route path="/sign-in" element={<Landing />} />
          <Route path="*" element={<NotFound />} />
        </Route>
      </Routes>
    </MeProvider>
  );
}

function Guarded({ route }: { route: PageRoute }): ReactNode {
  const me = useMe();
  if (!opens(route, me)) return <Forbidden />;
  const Page = route.page;
  return <Page />;
}

function Landing() {
  const me = useMe();
  const path = landingPath(me);
  return path ? <Navigate to={path} replace /> : <Forbidden />;
}

function Forbidden() {
  const { t } = useI18n();
  return <Result status="403" title="403" subTitle={t('error.forbidden.page')} extra={<BackHome />} />;
}

function NotFound() {
  const { t } = useI18n();
  return <Result status="404" title="404" subTitle={t('error.notFound.page')} extra={<BackHome />} />;
}

function BackHome() {
  const { t } = useI18n();
  return (
    <Button type="primary" href="/">
      {t('error.back')}
    </Button>
  );
}
