import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, type ReactNode } from 'react';
import { api, ApiError, setCsrfToken, unwrap, type Schemas } from '@/api/client';

export type Me = Schemas['MeRead'];

export const ME_KEY = ['auth', 'me'] as const;

/** The signed-in caller, or null when nobody is signed in (401). */
export async function fetchMe(): Promise<Me | null> {
  try {
    const me = await unwrap(api.GET('/api/v1/auth/me'));
    setCsrfToken(me.csrf_token);
    return me;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

/** The caller's identity as the query cache holds it. */
export function useMeQuery() {
  return useQuery({ queryKey: ME_KEY, queryFn: fetchMe, staleTime: 60_000, retry: false });
}

const MeContext = createContext<Me | null>(null);

/** Makes the signed-in caller available below (rendered only once someone is signed in). */
export function MeProvider({ me, children }: { me: Me; children: ReactNode }) {
  return <MeContext.Provider value={me}>{children}</MeContext.Provider>;
}

/** The signed-in caller (inside the shell). */
export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error('useMe outside MeProvider');
  return me;
}

/** Whether the caller holds a permission (the server enforces it; the console only hides what would fail). */
export function can(me: Me, permission: string): boolean {
  return me.permissions.includes(permission);
}

/** Sign in with a password: the session cookie is set by the answer; the caller is cached. */
export function useSignIn() {
  const client = useQueryClient();
  return async (username: string, password: string): Promise<Me> => {
    const me = await unwrap(api.POST('/api/v1/auth/sign-in', { body: { username, password } }));
    setCsrfToken(me.csrf_token);
    client.setQueryData(ME_KEY, me);
    return me;
  };
}

/** Sign out: the session ends on the server and every cached answer is dropped. */
export function useSignOut() {
  const client = useQueryClient();
  return async (): Promise<void> => {
    await unwrap(api.POST('/api/v1/auth/sign-out'));
    setCsrfToken(null);
    client.clear();
    client.setQueryData(ME_KEY, null);
  };
}
