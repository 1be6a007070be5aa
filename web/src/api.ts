// The API client: JSON in and out, bearer tokens, one refresh on 401 token_expired (shared by all
// requests that fail at the same time), and every failure as an ApiError with a code the UI can
// put into words (i18n.ts ERROR_MESSAGES).
import { codeForStatus, errorMessage, type Lang } from './i18n';

export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly serverMessage: string,
    readonly fields: FieldError[] = [],
    readonly retryAfter: number | null = null,
  ) {
    super(`${code}: ${serverMessage}`);
    this.name = 'ApiError';
  }

  // The sentence for the user, in their language.
  describe(lang?: Lang): string {
    return errorMessage(this.code, lang, this.status);
  }
}

export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

export interface TokenStore {
  get(): Tokens | null;
  set(tokens: Tokens | null): void;
}

export function memoryTokenStore(initial: Tokens | null = null): TokenStore {
  let v = initial;
  return { get: () => v, set: (t) => void (v = t) };
}

export function localTokenStore(key = 'tiketi.session'): TokenStore {
  return {
    get() {
      try {
        const raw = localStorage.getItem(key);
        if (!raw) return null;
        const v = JSON.parse(raw) as Tokens;
        return v && typeof v.accessToken === 'string' && typeof v.refreshToken === 'string' ? v : null;
      } catch {
        return null;
      }
    },
    set(t) {
      try {
        if (t) localStorage.setItem(key, JSON.stringify({ accessToken: t.accessToken, refreshToken: t.refreshToken }));
        else localStorage.removeItem(key);
      } catch {
        // private mode: the session lasts as long as the page
      }
    },
  };
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  auth?: boolean; // send the bearer token when there is one (default true)
  signal?: AbortSignal;
  raw?: boolean; // return the Response text instead of JSON
}

// 401 codes that a refresh can cure. Others (bad signature, unknown user) mean: sign in again.
const REFRESHABLE = new Set(['token_expired']);

export async function toApiError(res: Response): Promise<ApiError> {
  let body: unknown = null;
  const text = await res.text().catch(() => '');
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const retryAfterHeader = res.headers.get('Retry-After');
  const retryAfter = retryAfterHeader && /^\d+$/.test(retryAfterHeader) ? Number(retryAfterHeader) : null;
  const err = (body as { error?: { code?: unknown; message?: unknown; fields?: unknown } } | null)?.error;
  if (err && typeof err.code === 'string') {
    const message = typeof err.message === 'string' ? err.message : '';
    const fields = Array.isArray(err.fields)
      ? (err.fields as FieldError[]).filter((f) => f && typeof f.field === 'string')
      : [];
    // A route the server does not know: a backend part that is not deployed yet.
    const code = err.code === 'not_found' && /^route not found/i.test(message) ? 'not_available_yet' : err.code;
    return new ApiError(res.status, code, message, fields, retryAfter);
  }
  return new ApiError(res.status, codeForStatus(res.status), text.slice(0, 200), [], retryAfter);
}

export interface ClientOptions {
  baseUrl?: string;
  fetch?: typeof fetch;
  store: TokenStore;
  onSessionEnded?: (reason: ApiError) => void;
}

export class ApiClient {
  private refreshing: Promise<boolean> | null = null;
  private readonly f: typeof fetch;
  readonly baseUrl: string;

  constructor(private readonly opts: ClientOptions) {
    this.baseUrl = opts.baseUrl ?? '';
    this.f = opts.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  }

  get tokens(): Tokens | null {
    return this.opts.store.get();
  }

  setTokens(t: Tokens | null): void {
    this.opts.store.set(t);
  }

  async request<T = unknown>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, o, true);
    if (res.status === 204) {
      return undefined as T;
    }
    const text = await res.text();
    if (o.raw) {
      return text as T;
    }
    try {
      return (text ? JSON.parse(text) : undefined) as T;
    } catch {
      throw new ApiError(res.status, 'malformed_response', text.slice(0, 200));
    }
  }

  get<T = unknown>(path: string, o?: RequestOptions) {
    return this.request<T>('GET', path, o);
  }
  post<T = unknown>(path: string, body?: unknown, o?: RequestOptions) {
    return this.request<T>('POST', path, { ...o, body });
  }
  patch<T = unknown>(path: string, body?: unknown, o?: RequestOptions) {
    return this.request<T>('PATCH', path, { ...o, body });
  }
  put<T = unknown>(path: string, body?: unknown, o?: RequestOptions) {
    return this.request<T>('PUT', path, { ...o, body });
  }
  del<T = unknown>(path: string, o?: RequestOptions) {
    return this.request<T>('DELETE', path, o);
  }

  private async send(method: string, path: string, o: RequestOptions, mayRefresh: boolean): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json', ...o.headers };
    if (o.body !== undefined) {
      headers['Content-Type'] = 'application/json';
    }
    const tokens = this.opts.store.get();
    const useAuth = o.auth !== false && tokens !== null;
    if (useAuth) {
      headers.Authorization = `Bearer ${tokens.accessToken}`;
    }
    let res: Response;
    try {
      res = await this.f(this.baseUrl + path, {
        method,
        headers,
        body: o.body === undefined ? undefined : JSON.stringify(o.body),
        signal: o.signal,
      });
    } catch (e) {
      if ((e as Error)?.name === 'AbortError') throw e;
      throw new ApiError(0, 'network_error', String(e));
    }
    if (res.ok) {
      return res;
    }
    const err = await toApiError(res);
    if (res.status === 401 && useAuth && mayRefresh && REFRESHABLE.has(err.code)) {
      if (await this.refresh(tokens)) {
        return this.send(method, path, o, false);
      }
      throw err;
    }
    if (res.status === 401 && useAuth && err.code !== 'invalid_credentials') {
      // The token is dead for good (revoked key, deleted user): forget it.
      this.endSession(err);
    }
    throw err;
  }

  // One refresh at a time; everyone who hit token_expired waits for the same one. True when new
  // tokens are stored. `stale` is what the caller used: if another request already rotated, reuse.
  refresh(stale: Tokens | null = this.opts.store.get()): Promise<boolean> {
    const current = this.opts.store.get();
    if (current && stale && current.accessToken !== stale.accessToken) {
      return Promise.resolve(true);
    }
    if (!current) {
      return Promise.resolve(false);
    }
    if (!this.refreshing) {
      this.refreshing = (async () => {
        try {
          const res = await this.f(this.baseUrl + '/api/v1/auth/refresh', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
            body: JSON.stringify({ refreshToken: current.refreshToken }),
          });
          if (!res.ok) {
            this.endSession(await toApiError(res));
            return false;
          }
          const body = (await res.json()) as Tokens;
          this.opts.store.set({ accessToken: body.accessToken, refreshToken: body.refreshToken });
          return true;
        } catch {
          // Network trouble: keep the session; the caller sees the original error.
          return false;
        } finally {
          this.refreshing = null;
        }
      })();
    }
    return this.refreshing;
  }

  private endSession(reason: ApiError): void {
    this.opts.store.set(null);
    this.opts.onSessionEnded?.(reason);
  }
}

// A fresh Idempotency-Key per user action (retries of the same action reuse it).
export function newIdempotencyKey(): string {
  const c = globalThis.crypto;
  if (c && 'randomUUID' in c) {
    return c.randomUUID();
  }
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
