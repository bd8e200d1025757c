import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';

export type Schemas = components['schemas'];
export type ErrorDetail = Schemas['ErrorDetail'];

/** An answer that is not 2xx, in the API's one error shape (or a network failure: status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken: string | null = null;

/** The session's CSRF token (from sign-in or /auth/me), sent back on every change. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

const csrf: Middleware = {
  onRequest({ request }) {
    if (csrfToken && request.method !== 'GET' && request.method !== 'HEAD') {
      request.headers.set('X-CSRF-Token', csrfToken);
    }
    return request;
  },
};

/** The typed client of the API (types generated from docs/openapi.json: `npm run api`). */
export const api = createClient<paths>({ baseUrl: '', credentials: 'same-origin' });
api.use(csrf);

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The data of a 2xx answer; otherwise an ApiError carrying the API's code, message and faulty fields. */
export async function unwrap<T>(pending: Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await pending;
  } catch (cause) {
    throw new ApiError(0, 'network', cause instanceof Error ? cause.message : String(cause));
  }
  if (answer.response.ok) return answer.data as T;
  throw toApiError(answer.response.status, answer.error);
}

/** Read the API's error body (`{error: {code, message, details}}`) or make one from the status. */
export function toApiError(status: number, body: unknown): ApiError {
  const info = (body as { error?: Schemas['ErrorInfo'] } | undefined)?.error;
  if (info && typeof info.code === 'string') {
    return new ApiError(status, info.code, info.message, info.details ?? []);
  }
  return new ApiError(status, status >= 500 ? 'server' : 'other', `HTTP ${status}`);
}

/** Fetch a body that is not JSON (CSV exports) with the same credentials and error handling. */
export async function fetchText(path: string): Promise<string> {
  const response = await fetch(path, { credentials: 'same-origin' });
  if (!response.ok) {
    const body = await response.json().catch(() => undefined);
    throw toApiError(response.status, body);
  }
  return response.text();
}

/** POST a multipart form (file uploads) with the session's CSRF token; the JSON answer or an ApiError. */
export async function postForm<T>(path: string, form: FormData): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method: 'POST',
      body: form,
      credentials: 'same-origin',
      headers: csrfToken ? { 'X-CSRF-Token': csrfToken } : {},
    });
  } catch (cause) {
    throw new ApiError(0, 'network', cause instanceof Error ? cause.message : String(cause));
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) throw toApiError(response.status, body);
  return body as T;
}
