// Shared hooks and small components.
import type { ComponentChildren } from 'preact';
import { useEffect, useState, useCallback, useRef } from 'preact/hooks';
import { ApiError } from './api';
import { countdown, formatCountdown, formatKRW } from './format';
import { lang, t } from './i18n';
import type { Signal } from './signal';

export function useValue<T>(s: Signal<T>): T {
  const [v, setV] = useState(s.get());
  useEffect(() => {
    setV(s.get());
    return s.subscribe(setV);
  }, [s]);
  return v;
}

export function useLang() {
  return useValue(lang);
}

export interface Async<T> {
  data: T | undefined;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
  setData: (d: T) => void;
}

export function asApiError(e: unknown): ApiError {
  return e instanceof ApiError ? e : new ApiError(0, 'unknown', String(e));
}

export function useAsync<T>(fn: () => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data?: T; error: ApiError | null; loading: boolean }>({ error: null, loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    fn().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (e) => live && setState({ error: asApiError(e), loading: false }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, n]);
  const reload = useCallback(() => setN((x) => x + 1), []);
  const setData = useCallback((data: T) => setState({ data, error: null, loading: false }), []);
  return { data: state.data, error: state.error, loading: state.loading, reload, setData };
}

export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(id);
  }, [intervalMs]);
  return now;
}

export function ErrorBox({ error, onRetry }: { error: ApiError | null | undefined; onRetry?: () => void }) {
  useLang();
  if (!error) return null;
  return (
    <div class="error" role="alert" data-code={error.code}>
      <p>{error.describe()}</p>
      {error.fields.length > 0 && (
        <ul>
          {error.fields.map((f) => (
            <li key={f.field}>
              <code>{f.field}</code>: {f.message}
            </li>
          ))}
        </ul>
      )}
      {error.retryAfter ? <p class="muted">⏱ {error.retryAfter}s</p> : null}
      {onRetry && (
        <button type="button" onClick={onRetry}>
          {t('common.retry')}
        </button>
      )}
    </div>
  );
}

export function Loading() {
  useLang();
  return (
    <p class="loading" role="status" aria-live="polite">
      {t('common.loading')}
    </p>
  );
}

export function Price({ amount }: { amount: number }) {
  return <span class="price">{formatKRW(amount)}</span>;
}

export function CountdownText({ target, onDone }: { target: number; onDone?: () => void }) {
  const l = useLang();
  const now = useNow(1000);
  const c = countdown(target, now);
  const fired = useRef(false);
  useEffect(() => {
    if (c.done && !fired.current) {
      fired.current = true;
      onDone?.();
    }
  }, [c.done]);
  return (
    <time class="countdown" dateTime={new Date(target).toISOString()} aria-live="off">
      {c.done ? t('countdown.expired') : formatCountdown(c, l)}
    </time>
  );
}

export function StatusBadge({ status, soldOut }: { status: string; soldOut?: boolean }) {
  useLang();
  const s = soldOut ? 'sold_out' : status;
  return <span class={`badge badge-${s}`}>{t(`status.${s}`)}</span>;
}

export function Page({ title, children }: { title: string; children: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · Tiketi`;
  }, [title]);
  return (
    <section class="page">
      <h1 tabIndex={-1} id="page-title">
        {title}
      </h1>
      {children}
    </section>
  );
}
