// Google sign-in, the browser half (docs/auth.md "UI contract"):
//  - GET /api/v1/auth/providers decides whether the "Continue with Google" button is shown (the
//    start URL is never probed: every call to it creates a state record on the server);
//  - the button remembers where the user was heading and navigates the whole page to the start URL;
//  - the provider sends the browser back through our callback to /auth/google#code=… (or #error=…);
//    that page reads the fragment, removes it from the address bar and history at once, exchanges
//    the one-time code (POST /api/v1/auth/google/exchange, same origin so the binding cookie goes
//    along) and stores the session exactly like a password login.
// The DOM-free parts live here so Vitest can drive them (tests/google.test.ts).
import { ApiError } from './api';
import type { Session } from './types';

export const GOOGLE_PAGE = '/auth/google';
export const DEFAULT_START_URL = '/api/v1/auth/google/start';
const NEXT_KEY = 'tiketi.google.next';

export interface Providers {
  password: boolean;
  google: boolean;
  googleStartUrl?: string;
}

export type GoogleFragment = { code: string } | { error: string } | null;

// "#code=…" / "#error=…" (also with a leading "?" or nothing). Unknown shapes give null; an error
// code that is not a plain identifier becomes "unknown" (it is only ever used to pick words).
export function parseGoogleFragment(hash: string): GoogleFragment {
  const raw = hash.replace(/^[#?]/, '');
  if (!raw) return null;
  const p = new URLSearchParams(raw);
  const error = p.get('error');
  if (error !== null) return { error: /^[a-z][a-z0-9_]{0,63}$/.test(error) ? error : 'unknown' };
  const code = p.get('code');
  if (code !== null && /^[A-Za-z0-9_-]{16,256}$/.test(code)) return { code };
  return null;
}

// Only same-origin paths; anything else (absolute URLs, "//host", the callback page itself) goes home.
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  if (next.split(/[?#]/)[0] === GOOGLE_PAGE) return '/';
  return next;
}

// The start URL advertised by the server, if it is a path on this origin.
export function startUrl(p: Providers | null | undefined): string | null {
  if (!p || p.google !== true) return null;
  const u = p.googleStartUrl;
  return typeof u === 'string' && u.startsWith('/') && !u.startsWith('//') ? u : DEFAULT_START_URL;
}

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

function storage(): KeyValueStore | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null;
  }
}

export function rememberNext(next: string, store: KeyValueStore | null = storage()): void {
  try {
    store?.setItem(NEXT_KEY, safeNext(next));
  } catch {
    // private mode: the user lands on the home page instead
  }
}

export function takeNext(store: KeyValueStore | null = storage()): string {
  try {
    const v = store?.getItem(NEXT_KEY) ?? null;
    store?.removeItem(NEXT_KEY);
    return safeNext(v);
  } catch {
    return '/';
  }
}

export interface CompleteDeps {
  hash: string; // location.hash as the page loaded
  clearHash: () => void; // history.replaceState without the fragment
  exchange: (code: string) => Promise<Session>;
  startSession: (s: Session) => void;
  takeNext: () => string;
}

export type GoogleOutcome = { ok: true; next: string; session: Session } | { ok: false; error: ApiError };

// The whole /auth/google page logic. The fragment is removed before anything else happens (even
// when it is unusable), so a code never stays in the address bar, history or a bookmark.
export async function completeGoogleSignIn(d: CompleteDeps): Promise<GoogleOutcome> {
  const f = parseGoogleFragment(d.hash);
  if (d.hash) d.clearHash();
  if (!f) return { ok: false, error: new ApiError(400, 'oidc_code_invalid', 'no sign-in code in the address') };
  if ('error' in f) {
    d.takeNext();
    return { ok: false, error: new ApiError(400, f.error, '') };
  }
  try {
    const s = await d.exchange(f.code);
    if (!s || typeof s.accessToken !== 'string' || typeof s.refreshToken !== 'string' || !s.user) {
      return { ok: false, error: new ApiError(200, 'malformed_response', 'exchange answered without a session') };
    }
    d.startSession(s);
    return { ok: true, next: d.takeNext(), session: s };
  } catch (e) {
    return { ok: false, error: e instanceof ApiError ? e : new ApiError(0, 'network_error', String(e)) };
  }
}

// One exchange per arrival: the page component can mount again (re-render, language switch) after
// the fragment was cleared; it then gets the same outcome instead of "no code". A new fragment
// (a new arrival) starts a new attempt.
let pending: Promise<GoogleOutcome> | null = null;

export function completeOnce(d: CompleteDeps): Promise<GoogleOutcome> {
  if (!pending || d.hash) pending = completeGoogleSignIn(d);
  return pending;
}

// /providers is asked once per page load; failure (an older server) means "no Google button".
let providers: Promise<Providers | null> | null = null;

export function loadProviders(get: () => Promise<Providers>): Promise<Providers | null> {
  if (!providers) {
    providers = get().catch(() => {
      providers = null; // ask again on the next page that needs it
      return null;
    });
  }
  return providers;
}

export function resetGoogleState(): void {
  pending = null;
  providers = null;
}
