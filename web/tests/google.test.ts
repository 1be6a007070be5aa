// Google sign-in, browser half: the #code / #error fragment, clearing it before anything else,
// the one-time code exchange through the real ApiClient, where the user goes next, and the
// Google button's decision from GET /providers.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError, memoryTokenStore } from '../src/api';
import {
  completeGoogleSignIn,
  completeOnce,
  loadProviders,
  parseGoogleFragment,
  rememberNext,
  resetGoogleState,
  safeNext,
  startUrl,
  takeNext,
  type KeyValueStore,
} from '../src/google';
import { ERROR_MESSAGES, errorMessage } from '../src/i18n';
import type { Session } from '../src/types';

const CODE = 'Abc_defGHIJ-klmnopqrstuvwxyz0123456789ABCDE'; // 43 chars, like the server's
const session: Session = {
  user: { id: 'u1', email: 'fan@gmail.com', name: 'Fan', role: 'user' } as Session['user'],
  accessToken: 'at-1',
  refreshToken: 'rt-1',
  expiresIn: 900,
};

function memStore(): KeyValueStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

beforeEach(() => resetGoogleState());

describe('parseGoogleFragment', () => {
  it('reads a code', () => {
    expect(parseGoogleFragment(`#code=${CODE}`)).toEqual({ code: CODE });
    expect(parseGoogleFragment(`code=${CODE}`)).toEqual({ code: CODE });
  });
  it('reads an error code, and an odd one becomes "unknown"', () => {
    expect(parseGoogleFragment('#error=google_denied')).toEqual({ error: 'google_denied' });
    expect(parseGoogleFragment('#error=id_token_bad_signature&code=' + CODE)).toEqual({ error: 'id_token_bad_signature' });
    expect(parseGoogleFragment('#error=%3Cscript%3E')).toEqual({ error: 'unknown' });
    expect(parseGoogleFragment('#error=')).toEqual({ error: 'unknown' });
  });
  it('refuses anything else', () => {
    for (const h of ['', '#', '#code=', '#code=short', '#code=has%20space%20in%20it%20xxxxxxx', '#token=abc', `#code=${'a'.repeat(300)}`]) {
      expect(parseGoogleFragment(h), h).toBeNull();
    }
  });
});

describe('where the user goes next', () => {
  it('keeps same-origin paths only', () => {
    expect(safeNext('/events/7/seats?x=1')).toBe('/events/7/seats?x=1');
    for (const bad of [null, '', 'https://evil.example/', '//evil.example/x', '/\\evil.example', 'javascript:alert(1)', '/auth/google', '/auth/google#code=x']) {
      expect(safeNext(bad), String(bad)).toBe('/');
    }
  });
  it('is remembered across the trip to Google and used once', () => {
    const s = memStore();
    rememberNext('/events/42/seats', s);
    expect(takeNext(s)).toBe('/events/42/seats');
    expect(takeNext(s)).toBe('/');
    rememberNext('https://evil.example/', s);
    expect(takeNext(s)).toBe('/');
  });
});

describe('completeGoogleSignIn', () => {
  function deps(hash: string, exchange: (code: string) => Promise<Session>) {
    const calls: string[] = [];
    const store = memStore();
    rememberNext('/tickets', store);
    let started: Session | null = null;
    return {
      calls,
      get started() {
        return started;
      },
      d: {
        hash,
        clearHash: () => calls.push('clearHash'),
        exchange: (code: string) => {
          calls.push(`exchange:${code}`);
          return exchange(code);
        },
        startSession: (s: Session) => {
          calls.push('startSession');
          started = s;
        },
        takeNext: () => takeNext(store),
      },
    };
  }

  it('clears the fragment before exchanging, stores the session, goes where the user was heading', async () => {
    const x = deps(`#code=${CODE}`, async () => session);
    const out = await completeGoogleSignIn(x.d);
    expect(x.calls).toEqual(['clearHash', `exchange:${CODE}`, 'startSession']);
    expect(out).toEqual({ ok: true, next: '/tickets', session });
    expect(x.started).toBe(session);
  });

  it('an #error= is shown as that code and nothing is exchanged', async () => {
    const x = deps('#error=email_not_verified', async () => session);
    const out = await completeGoogleSignIn(x.d);
    expect(x.calls).toEqual(['clearHash']);
    expect(out.ok).toBe(false);
    if (!out.ok) {
      expect(out.error.code).toBe('email_not_verified');
      expect(out.error.describe('en')).toBe(ERROR_MESSAGES.en.email_not_verified);
    }
  });

  it('a rejected code (expired, used, other browser) gives its words and no session', async () => {
    const x = deps(`#code=${CODE}`, async () => {
      throw new ApiError(400, 'oidc_code_invalid', 'The sign-in code is unknown, expired or already used.');
    });
    const out = await completeGoogleSignIn(x.d);
    expect(x.calls).toEqual(['clearHash', `exchange:${CODE}`]);
    expect(x.started).toBeNull();
    expect(out.ok ? null : out.error.code).toBe('oidc_code_invalid');
  });

  it('no usable fragment: cleared anyway, no request, told to sign in again', async () => {
    for (const hash of ['', '#code=bad', '#whatever']) {
      const x = deps(hash, async () => session);
      const out = await completeGoogleSignIn(x.d);
      expect(x.calls).toEqual(hash ? ['clearHash'] : []);
      expect(out.ok ? null : out.error.code).toBe('oidc_code_invalid');
    }
  });

  it('an answer without tokens is not a session', async () => {
    const x = deps(`#code=${CODE}`, async () => ({ user: session.user }) as unknown as Session);
    const out = await completeGoogleSignIn(x.d);
    expect(x.started).toBeNull();
    expect(out.ok ? null : out.error.code).toBe('malformed_response');
  });

  it('through the real ApiClient: POST /exchange {code}, tokens stored, server error codes kept', async () => {
    const store = memoryTokenStore();
    const fetchMock = vi.fn(async (_url: RequestInfo | URL, _init?: RequestInit) => json(200, session));
    const api = new ApiClient({ store, fetch: fetchMock as unknown as typeof fetch });
    const out = await completeGoogleSignIn({
      hash: `#code=${CODE}`,
      clearHash: () => {},
      exchange: (code) => api.post<Session>('/api/v1/auth/google/exchange', { code }, { auth: false }),
      startSession: (s) => api.setTokens({ accessToken: s.accessToken, refreshToken: s.refreshToken }),
      takeNext: () => '/',
    });
    expect(out.ok).toBe(true);
    expect(fetchMock).toHaveBeenCalledTimes(1);
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe('/api/v1/auth/google/exchange');
    expect(init?.method).toBe('POST');
    expect(JSON.parse(String(init?.body))).toEqual({ code: CODE });
    expect(store.get()).toEqual({ accessToken: 'at-1', refreshToken: 'rt-1' });

    fetchMock.mockImplementationOnce(async () => json(400, { error: { code: 'oidc_code_invalid', message: 'used' } }));
    const again = await completeGoogleSignIn({
      hash: `#code=${CODE}`,
      clearHash: () => {},
      exchange: (code) => api.post<Session>('/api/v1/auth/google/exchange', { code }, { auth: false }),
      startSession: () => {
        throw new Error('must not start a session');
      },
      takeNext: () => '/',
    });
    expect(again.ok ? null : again.error.code).toBe('oidc_code_invalid');
  });

  it('completeOnce: a second mount after the fragment was cleared gets the same outcome, one exchange', async () => {
    const exchange = vi.fn(async () => session);
    const base = { clearHash: () => {}, exchange, startSession: () => {}, takeNext: () => '/me' };
    const a = completeOnce({ ...base, hash: `#code=${CODE}` });
    const b = completeOnce({ ...base, hash: '' });
    expect(b).toBe(a);
    expect((await b).ok).toBe(true);
    expect(exchange).toHaveBeenCalledTimes(1);
  });
});

describe('the Google button follows GET /providers', () => {
  it('shown only when google is true; the advertised start URL when it is a local path', () => {
    expect(startUrl({ password: true, google: false })).toBeNull();
    expect(startUrl(null)).toBeNull();
    expect(startUrl({ password: true, google: true, googleStartUrl: '/api/v1/auth/google/start' })).toBe('/api/v1/auth/google/start');
    expect(startUrl({ password: true, google: true })).toBe('/api/v1/auth/google/start');
    expect(startUrl({ password: true, google: true, googleStartUrl: 'https://evil.example/start' })).toBe('/api/v1/auth/google/start');
  });
  it('asks once; a failure hides the button and is asked again later', async () => {
    const get = vi.fn(async () => ({ password: true, google: true }));
    await loadProviders(get);
    await loadProviders(get);
    expect(get).toHaveBeenCalledTimes(1);
    resetGoogleState();
    const failing = vi.fn(async () => {
      throw new ApiError(404, 'not_available_yet', '');
    });
    expect(await loadProviders(failing)).toBeNull();
    expect(await loadProviders(get)).toEqual({ password: true, google: true });
  });
});

describe('every Google sign-in error code has words', () => {
  const codes = [
    'google_not_configured', 'oidc_state_invalid', 'oidc_code_invalid', 'google_denied', 'google_code_rejected',
    'id_token_malformed', 'id_token_unsupported_alg', 'id_token_unknown_kid', 'id_token_bad_signature',
    'id_token_wrong_issuer', 'id_token_wrong_audience', 'id_token_expired', 'id_token_not_yet_valid',
    'id_token_too_old', 'id_token_wrong_nonce', 'id_token_invalid', 'email_not_verified',
    'account_exists_unverified', 'bad_gateway', 'gateway_timeout',
  ];
  it.each(codes)('%s in Korean and English', (c) => {
    expect(ERROR_MESSAGES.ko[c]).toBeTruthy();
    expect(ERROR_MESSAGES.en[c]).toBeTruthy();
    expect(ERROR_MESSAGES.ko[c]).not.toEqual(ERROR_MESSAGES.en[c]);
  });
  it('an unknown code from the fragment still gets a sentence', () => {
    expect(errorMessage('unknown', 'ko')).toBe(ERROR_MESSAGES.ko.unknown);
  });
});
