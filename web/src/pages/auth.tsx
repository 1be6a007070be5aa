// Sign up, log in (email + Google button), profile with language, points balance/charge/history.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, newIdempotencyKey } from '../api';
import { completeOnce, loadProviders, rememberNext, startUrl, takeNext, type GoogleOutcome, type Providers } from '../google';
import { formatDateTime, formatKRW } from '../format';
import { setLang, t, type Lang } from '../i18n';
import { navigate, query } from '../router';
import { api, savePending, startSession, user as userSignal } from '../session';
import type { Payment, Session, User } from '../types';
import { ErrorBox, Loading, Page, Price, asApiError, useAsync, useLang, useValue } from '../ui';
import { checkoutHref } from './buy';

function nextPath(): string {
  const n = query().get('next');
  return n && n.startsWith('/') && !n.startsWith('//') ? n : '/';
}

function fieldError(err: ApiError | null, field: string): string | undefined {
  return err?.fields.find((f) => f.field === field)?.message;
}

function Field(props: {
  name: string;
  label: string;
  type?: string;
  autoComplete?: string;
  error?: ApiError | null;
  hint?: string;
  required?: boolean;
  defaultValue?: string;
}) {
  const fe = fieldError(props.error ?? null, props.name);
  const id = `f-${props.name}`;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? 'text'}
        autoComplete={props.autoComplete}
        required={props.required ?? true}
        defaultValue={props.defaultValue}
        aria-invalid={fe ? 'true' : undefined}
        aria-describedby={fe || props.hint ? `${id}-msg` : undefined}
      />
      {(fe || props.hint) && (
        <small id={`${id}-msg`} class={fe ? 'field-error' : 'muted'}>
          {fe ?? props.hint}
        </small>
      )}
    </div>
  );
}

// "Continue with Google", only when GET /providers says the server has it configured.
function GoogleButton() {
  useLang();
  const providers = useAsync(() => loadProviders(() => api.get<Providers>('/api/v1/auth/providers', { auth: false })), []);
  const href = startUrl(providers.data);
  if (!href) return null;
  const go = () => {
    rememberNext(nextPath());
    // A full-page navigation: the start route sets the binding cookie and redirects to Google.
    window.location.href = href;
  };
  return (
    <button type="button" class="google" data-testid="google-signin" onClick={go}>
      <span aria-hidden="true">G</span> {t('auth.google')}
    </button>
  );
}

// /auth/google: where the browser lands after Google with #code=… (or #error=…).
export function GoogleSignInPage() {
  useLang();
  const [outcome, setOutcome] = useState<GoogleOutcome | null>(null);
  useEffect(() => {
    let live = true;
    void completeOnce({
      hash: window.location.hash,
      clearHash: () => history.replaceState(history.state, '', window.location.pathname + window.location.search),
      exchange: (code) => api.post<Session>('/api/v1/auth/google/exchange', { code }, { auth: false }),
      startSession,
      takeNext,
    }).then((o) => {
      if (!live) return;
      if (o.ok) navigate(o.next, true);
      else setOutcome(o);
    });
    return () => {
      live = false;
    };
  }, []);
  if (!outcome || outcome.ok) {
    return (
      <Page title={t('auth.googleSigningIn')}>
        <Loading />
      </Page>
    );
  }
  return (
    <Page title={t('auth.googleFailed')}>
      <div class="narrow card" data-testid="google-error">
        <ErrorBox error={outcome.error} />
        <p>
          <a href="/login">{t('auth.backToLogin')}</a>
        </p>
      </div>
    </Page>
  );
}

// The login and signup forms: post the form to `path` (no bearer token), start the session from the
// answer and go on to ?next=; an error stays on the form for its fields and the error box.
function useSessionForm(path: string, body: (f: FormData) => Record<string, string>) {
  const [err, setErr] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const f = new FormData(ev.target as HTMLFormElement);
    setBusy(true);
    setErr(null);
    try {
      startSession(await api.post<Session>(path, body(f), { auth: false }));
      navigate(nextPath(), true);
    } catch (e) {
      setErr(asApiError(e));
    } finally {
      setBusy(false);
    }
  };
  return { err, busy, submit };
}

export function LoginPage() {
  useLang();
  const { err, busy, submit } = useSessionForm('/api/v1/auth/login', (f) => ({
    email: String(f.get('email')),
    password: String(f.get('password')),
  }));
  return (
    <Page title={t('auth.login')}>
      <form class="narrow card" onSubmit={submit} noValidate>
        <Field name="email" type="email" label={t('auth.email')} autoComplete="email" error={err} />
        <Field name="password" type="password" label={t('auth.password')} autoComplete="current-password" error={err} />
        <ErrorBox error={err} />
        <button type="submit" class="primary wide" disabled={busy}>
          {t('auth.login')}
        </button>
        <GoogleButton />
        <p>
          {t('auth.noAccount')} <a href={`/signup?next=${encodeURIComponent(nextPath())}`}>{t('auth.signup')}</a>
        </p>
      </form>
    </Page>
  );
}

export function SignupPage() {
  useLang();
  const { err, busy, submit } = useSessionForm('/api/v1/auth/signup', (f) => ({
    email: String(f.get('email')),
    password: String(f.get('password')),
    name: String(f.get('name')),
  }));
  return (
    <Page title={t('auth.signup')}>
      <form class="narrow card" onSubmit={submit} noValidate>
        <Field name="name" label={t('auth.name')} autoComplete="name" error={err} />
        <Field name="email" type="email" label={t('auth.email')} autoComplete="email" error={err} />
        <Field
          name="password"
          type="password"
          label={t('auth.password')}
          autoComplete="new-password"
          hint={t('auth.passwordHint')}
          error={err}
        />
        <ErrorBox error={err} />
        <button type="submit" class="primary wide" disabled={busy}>
          {t('auth.signup')}
        </button>
        <GoogleButton />
        <p>
          {t('auth.haveAccount')} <a href={`/login?next=${encodeURIComponent(nextPath())}`}>{t('auth.login')}</a>
        </p>
      </form>
    </Page>
  );
}

interface PointEntry {
  id: string;
  kind: string;
  amount: number;
  balanceAfter: number;
  reference: string;
  createdAt: number;
}

export function ProfilePage() {
  const l = useLang();
  const me = useValue(userSignal);
  const [err, setErr] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);
  const points = useAsync(() => api.get<{ balance: number }>('/api/v1/points'), []);
  const history = useAsync(() => api.get<{ items: PointEntry[] }>('/api/v1/points/history?limit=20'), []);
  const [chargeErr, setChargeErr] = useState<ApiError | null>(null);
  if (!me) return <Loading />;
  const save = async (ev: Event) => {
    ev.preventDefault();
    const f = new FormData(ev.target as HTMLFormElement);
    setErr(null);
    setSaved(false);
    try {
      const u = await api.patch<User>('/api/v1/auth/me', { name: String(f.get('name')), language: String(f.get('language')) });
      userSignal.set(u);
      if (u.language === 'ko' || u.language === 'en') setLang(u.language as Lang);
      setSaved(true);
    } catch (e) {
      setErr(asApiError(e));
    }
  };
  const charge = async (ev: Event) => {
    ev.preventDefault();
    const f = new FormData(ev.target as HTMLFormElement);
    setChargeErr(null);
    try {
      const p = await api.post<Payment>('/api/v1/points/charge', { amount: Number(f.get('amount')) }, { headers: { 'Idempotency-Key': newIdempotencyKey() } });
      savePending(p.orderId, { paymentId: p.id, purpose: 'point_charge' });
      if (p.checkoutUrl) window.location.href = checkoutHref(p.checkoutUrl);
      else points.reload();
    } catch (e) {
      setChargeErr(asApiError(e));
    }
  };
  return (
    <Page title={t('me.title')}>
      <div class="two-col">
        <form class="card" onSubmit={save}>
          <p class="muted">{me.email}</p>
          <Field name="name" label={t('auth.name')} defaultValue={me.name} error={err} />
          <div class="field">
            <label for="f-language">{t('me.language')}</label>
            <select id="f-language" name="language" defaultValue={me.language ?? l}>
              <option value="ko">한국어</option>
              <option value="en">English</option>
            </select>
          </div>
          <ErrorBox error={err} />
          {saved && <p role="status">{t('me.saved')}</p>}
          <button type="submit" class="primary">
            {t('common.save')}
          </button>
          <p>
            <a href="/tickets">{t('nav.tickets')}</a> · <a href="/reservations">{t('me.reservations')}</a>
          </p>
        </form>
        <div class="card">
          <h2>{t('me.points')}</h2>
          {points.error ? (
            <ErrorBox error={points.error} onRetry={points.reload} />
          ) : points.data ? (
            <p class="big" data-testid="points-balance">
              {t('me.balance')}: <Price amount={points.data.balance} />
            </p>
          ) : (
            <Loading />
          )}
          <form onSubmit={charge} class="inline">
            <label>
              {t('me.chargeAmount')}
              <input name="amount" type="number" min={1000} step={1000} defaultValue="10000" required />
            </label>
            <button type="submit">{t('me.charge')}</button>
          </form>
          <ErrorBox error={chargeErr} />
          <h3>{t('me.history')}</h3>
          {history.error ? (
            <ErrorBox error={history.error} />
          ) : (
            <ul class="plain" data-testid="points-history">
              {(history.data?.items ?? []).map((h) => (
                <li key={h.id} data-kind={h.kind}>
                  {formatDateTime(h.createdAt, l)} · {t(`points.${h.kind}`)} · {formatKRW(h.amount)} → {formatKRW(h.balanceAfter)}
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
    </Page>
  );
}
