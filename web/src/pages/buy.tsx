// The purchase spine: seat map (or GA quantity) -> hold with countdown -> checkout (points and/or
// card through the gateway's checkout page) -> confirmation.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, newIdempotencyKey } from '../api';
import { formatDateTime, formatKRW } from '../format';
import { t } from '../i18n';
import { navigate, query } from '../router';
import { admissionFor, api, clearAdmission, pendingFor, savePending } from '../session';
import { SeatChannel } from '../seatlive';
import { bounds, categoryColor, clampQuantity, decodePlan, reconcileSelection, seatTotal, statusMap, toggleSeat } from '../seats';
import type { EventDetail, Payment, Reservation, SeatingPlan, SeatsSnapshot } from '../types';
import { CountdownText, ErrorBox, Loading, Page, Price, asApiError, useAsync, useLang, useNow, useValue } from '../ui';

// The gateway builds successUrl/failUrl from server settings that may be relative ("/payments/success"):
// a browser on the gateway's origin needs them absolute, pointing back at this app.
export function checkoutHref(checkoutUrl: string, origin = window.location.origin): string {
  try {
    const u = new URL(checkoutUrl, origin);
    for (const k of ['successUrl', 'failUrl']) {
      const v = u.searchParams.get(k);
      if (v && v.startsWith('/')) u.searchParams.set(k, origin + v);
    }
    return u.toString();
  } catch {
    return checkoutUrl;
  }
}

const GA_REFRESH_MS = 3_000;
// Plan units to CSS pixels at least: an 8-unit seat is drawn no smaller than 16 px (a finger-sized
// target on a phone); a map wider than the screen scrolls inside its own box, not the page.
const SEAT_SCALE = 2;

// Live seat status: WebSocket pushes merged over GET /seats, polling when the socket is down.
function useSeats(eventId: string) {
  const [snap, setSnap] = useState<SeatsSnapshot | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const ch = useMemo(() => new SeatChannel({ eventId, onSnapshot: setSnap, onError: setError }), [eventId]);
  const live = useValue(ch.state);
  useEffect(() => {
    ch.start();
    return () => ch.stop();
  }, [ch]);
  return { snap, error, live, refresh: () => ch.refresh() };
}

async function hold(eventId: string, body: Record<string, unknown>): Promise<Reservation> {
  const a = admissionFor(eventId);
  const headers: Record<string, string> = { 'Idempotency-Key': newIdempotencyKey() };
  if (a) headers['X-Admission-Token'] = a.token;
  return api.post<Reservation>('/api/v1/reservations', { eventId, ...body }, { headers });
}

export function SeatsPage({ id }: { id: string }) {
  const l = useLang();
  const ev = useAsync(() => api.get<EventDetail>(`/api/v1/events/${encodeURIComponent(id)}`, { auth: false }), [id]);
  const plan = useAsync(
    () =>
      api.get<SeatingPlan>(`/api/v1/events/${encodeURIComponent(id)}/seating`, { auth: false }).catch((e) => {
        if (e instanceof ApiError && e.status === 404) return null; // GA-only event
        throw e;
      }),
    [id],
  );
  const { snap, error: seatsErr, live, refresh } = useSeats(id);
  const [selected, setSelected] = useState<string[]>([]);
  const [notice, setNotice] = useState<string | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [qty, setQty] = useState<Record<string, number>>({});

  const seats = useMemo(() => (plan.data ? decodePlan(plan.data) : []), [plan.data]);
  const statuses = useMemo(() => statusMap(snap), [snap]);
  const limit = ev.data?.per_user_limit ?? 4;

  // Someone else took a seat I had picked: drop it and say so.
  useEffect(() => {
    const { kept, lost } = reconcileSelection(selected, statuses);
    if (lost.length && snap) {
      setSelected(kept);
      // After a refused hold the error box already says it in words: no second message.
      if (err?.code !== 'seat_unavailable')
        setNotice(`${t('seats.held')}: ${lost.join(', ')} — ${new ApiError(409, 'seat_unavailable', '').describe(l)}`);
    }
  }, [statuses]);

  // The live channel carries seat changes only: general-admission counts are re-read every few
  // seconds (and just after a refused hold, once the server's snapshot has caught up).
  const hasGa = (ev.data?.ticket_types ?? []).some((tt) => tt.kind === 'general_admission');
  useEffect(() => {
    if (!hasGa) return;
    const timer = setInterval(refresh, GA_REFRESH_MS);
    return () => clearInterval(timer);
  }, [hasGa]);

  if (ev.error) return <ErrorBox error={ev.error} onRetry={ev.reload} />;
  if (!ev.data || plan.loading) return <Loading />;
  const e = ev.data;
  if (e.waiting_room.enabled && !admissionFor(id)) {
    return (
      <Page title={t('seats.title')}>
        <ErrorBox error={new ApiError(403, 'admission_required', '')} />
        <a class="button primary" href={`/events/${id}/queue`}>
          {t('detail.joinQueue')}
        </a>
      </Page>
    );
  }
  const catIndex = new Map((plan.data?.categories ?? []).map((c, i) => [c.code, i]));
  const catColor = (code: string) => categoryColor(plan.data?.categories[catIndex.get(code) ?? 0]?.color, catIndex.get(code) ?? 0);
  const b = bounds(seats);

  const click = (seatId: string) => {
    const r = toggleSeat(selected, seatId, statuses.get(seatId), limit);
    setSelected(r.selected);
    setNotice(r.rejected === 'limit' ? t('seats.limit', { max: limit }) : null);
  };

  const submitSeats = async () => {
    setBusy(true);
    setErr(null);
    try {
      const r = await hold(id, { seatIds: selected });
      navigate(`/reservations/${r.id}`);
    } catch (x) {
      const a = asApiError(x);
      setErr(a);
      if (a.code === 'admission_expired' || a.code === 'admission_invalid') clearAdmission(id);
      refresh();
    } finally {
      setBusy(false);
    }
  };

  const submitQuota = async (ticketTypeId: string, quantity: number) => {
    setBusy(true);
    setErr(null);
    try {
      const r = await hold(id, { ticketTypeId, quantity });
      navigate(`/reservations/${r.id}`);
    } catch (x) {
      setErr(asApiError(x));
      refresh();
      setTimeout(refresh, 700);
    } finally {
      setBusy(false);
    }
  };

  const gaTypes = e.ticket_types.filter((tt) => tt.kind === 'general_admission');
  return (
    <Page title={`${t('seats.title')} · ${e.title}`}>
      <p class="conn" data-state={live} data-testid="seats-conn" role="status" aria-live="polite">
        <span class="dot" aria-hidden="true" /> {t('seats.live')}: {t(`conn.${live}`)}
      </p>
      <ErrorBox error={seatsErr && !snap ? seatsErr : null} />
      <ErrorBox error={err} />
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {seats.length > 0 && (
        <div class="seatmap-wrap">
          <div class="legend" aria-label={t('seats.legend')}>
            {(plan.data?.categories ?? []).map((c) => {
              const tt = e.ticket_types.find((x) => x.category === c.code);
              return (
                <span key={c.code} class="legend-item">
                  <svg width="14" height="14" aria-hidden="true">
                    <rect width="14" height="14" rx="3" fill={catColor(c.code)} />
                  </svg>{' '}
                  {c.name} {tt && <Price amount={tt.price} />}
                </span>
              );
            })}
            <span class="legend-item">
              <svg width="14" height="14" aria-hidden="true">
                <rect width="14" height="14" rx="3" class="seat-taken" />
              </svg>{' '}
              {t('seats.sold')}/{t('seats.held')}
            </span>
            <span class="legend-item">
              <svg width="14" height="14" aria-hidden="true">
                <rect width="14" height="14" rx="3" class="seat-mine" />
              </svg>{' '}
              {t('seats.mine')}
            </span>
          </div>
          <div class="seatmap-scroll">
            <svg
              class="seatmap"
              viewBox={`${b.minX} ${b.minY} ${b.width} ${b.height}`}
              style={{ minWidth: `${Math.round(b.width * SEAT_SCALE)}px` }}
              role="group"
              aria-label={t('seats.title')}
              data-testid="seatmap"
            >
              {(plan.data?.sections ?? []).map((s) => {
                const first = seats.find((x) => x.section === s.code);
                return first ? (
                  <text key={s.code} x={first.x} y={first.y - 8} class="section-label">
                    {s.name}
                  </text>
                ) : null;
              })}
              {seats.map((s) => {
                const st = statuses.get(s.id) ?? (snap ? 'sold' : 'available');
                const mine = selected.includes(s.id);
                const free = st === 'available';
                return (
                  <rect
                    key={s.id}
                    x={s.x - 4}
                    y={s.y - 4}
                    width="8"
                    height="8"
                    rx="2"
                    class={`seat ${mine ? 'seat-mine' : free ? 'seat-free' : 'seat-taken'}`}
                    fill={mine || !free ? undefined : catColor(s.category)}
                    data-seat={s.id}
                    data-status={mine ? 'selected' : st}
                    tabindex={free || mine ? 0 : -1}
                    role="checkbox"
                    aria-checked={mine}
                    aria-disabled={!free && !mine}
                    aria-label={`${s.section} ${s.row}-${s.number} ${t(`seats.${mine ? 'mine' : st}`)}`}
                    onClick={() => click(s.id)}
                    onKeyDown={(k) => {
                      if (k.key === 'Enter' || k.key === ' ') {
                        k.preventDefault();
                        click(s.id);
                      }
                    }}
                  >
                    <title>{`${s.section} ${s.row}-${s.number}`}</title>
                  </rect>
                );
              })}
            </svg>
          </div>
          <div class="selection card">
            <p>{t('seats.selected', { n: selected.length, max: limit })}</p>
            <p class="muted">{selected.join(', ') || '—'}</p>
            <p>
              {t('seats.total')}: <Price amount={seatTotal(selected, snap)} />
            </p>
            <button type="button" class="primary" disabled={busy || selected.length === 0} onClick={() => void submitSeats()}>
              {t('seats.hold')}
            </button>
          </div>
        </div>
      )}
      {seats.length === 0 && gaTypes.length === 0 && <p>{t('seats.noPlan')}</p>}
      {gaTypes.map((tt) => {
        const quota = snap?.quotas.find((q) => q.ticketTypeId === tt.id);
        const available = quota?.available ?? tt.quota ?? 0;
        const q = clampQuantity(qty[tt.id] ?? 1, limit, available);
        return (
          <div class="card ga" key={tt.id}>
            <h2>
              {tt.name} · {t('seats.ga')}
            </h2>
            <p>
              <Price amount={tt.price} /> · {available > 0 ? t('seats.remaining', { n: available }) : t('status.sold_out')}
            </p>
            <label>
              {t('seats.quantity')}{' '}
              <input
                type="number"
                min={1}
                max={Math.min(limit, available)}
                value={q}
                onInput={(x) => setQty({ ...qty, [tt.id]: Number((x.target as HTMLInputElement).value) })}
              />
            </label>{' '}
            <span>
              {t('seats.total')}: {formatKRW(q * tt.price)}
            </span>{' '}
            <button type="button" class="primary" disabled={busy || q < 1} onClick={() => void submitQuota(tt.id, q)}>
              {t('seats.hold')}
            </button>
          </div>
        );
      })}
      <p class="muted small">{formatDateTime(e.performance_start, l)}</p>
    </Page>
  );
}

export function ReservationPage({ id }: { id: string }) {
  const l = useLang();
  const r = useAsync(() => api.get<Reservation>(`/api/v1/reservations/${encodeURIComponent(id)}`), [id]);
  const points = useAsync(() => api.get<{ balance: number }>('/api/v1/points').catch(() => ({ balance: 0 })), []);
  const [usePoints, setUsePoints] = useState(0);
  const [err, setErr] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [expired, setExpired] = useState(false);
  const now = useNow(1000);
  const key = useRef(newIdempotencyKey());
  if (r.error) return <ErrorBox error={r.error} onRetry={r.reload} />;
  if (!r.data) return <Loading />;
  const res = r.data;
  const isExpired = res.status === 'EXPIRED' || (res.status === 'PENDING' && (expired || res.expiresAt <= now));
  const maxPoints = Math.min(points.data?.balance ?? 0, res.amount);
  const pts = Math.max(0, Math.min(usePoints, maxPoints));
  const card = res.amount - pts;

  const pay = async () => {
    setBusy(true);
    setErr(null);
    try {
      const p = await api.post<Payment>('/api/v1/payments', { reservationId: res.id, points: pts }, { headers: { 'Idempotency-Key': key.current } });
      savePending(p.orderId, { paymentId: p.id, reservationId: res.id, purpose: 'reservation' });
      if (p.checkoutUrl && p.cardAmount > 0) {
        window.location.href = checkoutHref(p.checkoutUrl);
        return;
      }
      // Points only: nothing to enter at the gateway.
      await api.post<Payment>(`/api/v1/payments/${p.id}/confirm`, {});
      navigate(`/reservations/${res.id}/done`);
    } catch (e) {
      const a = asApiError(e);
      setErr(a);
      if (a.code === 'hold_expired') setExpired(true);
      key.current = newIdempotencyKey();
    } finally {
      setBusy(false);
    }
  };

  const cancel = async () => {
    if (!window.confirm(t('res.cancelConfirm'))) return;
    setErr(null);
    try {
      r.setData(await api.post<Reservation>(`/api/v1/reservations/${res.id}/cancel`, {}));
    } catch (e) {
      setErr(asApiError(e));
    }
  };

  return (
    <Page title={res.status === 'PENDING' && !isExpired ? t('hold.title') : t('res.detail')}>
      <div class="two-col">
        <div class="card">
          <p>
            <span class={`badge res-${isExpired ? 'EXPIRED' : res.status}`} data-testid="reservation-status">
              {t(`res.status.${isExpired ? 'EXPIRED' : res.status}`)}
            </span>
          </p>
          <ul class="plain">
            {res.items.map((it, i) => (
              <li key={i}>
                {it.label} × {it.quantity} — <Price amount={it.unitPrice * it.quantity} />
              </li>
            ))}
          </ul>
          <p class="big">
            {t('seats.total')}: <Price amount={res.amount} />
          </p>
          <p class="muted small">{formatDateTime(res.createdAt, l)}</p>
          {res.status === 'CONFIRMED' && res.tickets && (
            <p>
              <a href="/tickets">{t('confirm.viewTickets')}</a>
            </p>
          )}
          {res.status === 'CANCELLED' && res.paymentId && <RefundInfo paymentId={res.paymentId} />}
          {(res.status === 'CONFIRMED' || (res.status === 'PENDING' && !isExpired)) && (
            <button type="button" class="secondary" onClick={() => void cancel()}>
              {res.status === 'CONFIRMED' ? t('res.cancel') : t('hold.cancel')}
            </button>
          )}
        </div>
        {res.status === 'PENDING' && !isExpired && (
          <div class="card">
            <p>
              {t('hold.expiresIn')}{' '}
              <strong class="big" data-testid="hold-countdown">
                <CountdownText
                  target={res.expiresAt}
                  onDone={() => {
                    setExpired(true);
                    // The server's sweeper releases the seats about now: show its word on it.
                    setTimeout(() => r.reload(), 2_000);
                  }}
                />
              </strong>
            </p>
            <label class="field">
              {t('hold.usePoints')} ({t('me.balance')}: {formatKRW(points.data?.balance ?? 0)})
              <input
                type="number"
                min={0}
                max={maxPoints}
                step={100}
                value={pts}
                onInput={(x) => setUsePoints(Number((x.target as HTMLInputElement).value) || 0)}
              />
            </label>
            <p>
              {t('hold.card')}: <Price amount={card} />
            </p>
            <ErrorBox error={err} />
            <button type="button" class="primary wide" disabled={busy} onClick={() => void pay()}>
              {card > 0 ? t('hold.pay', { amount: formatKRW(card) }) : t('hold.payPoints')}
            </button>
            <p class="muted small">{t('hold.testMode')}</p>
          </div>
        )}
        {isExpired && (
          <div class="card" role="alert">
            <p data-testid="hold-expired">{t('hold.expired')}</p>
            <a class="button primary" href={`/events/${res.eventId}/seats`}>
              {t('hold.pickAgain')}
            </a>
          </div>
        )}
        {res.status !== 'PENDING' && <ErrorBox error={err} />}
      </div>
    </Page>
  );
}

// After a cancellation the payment service refunds asynchronously (points at once, the card
// through the gateway): follow the payment until the refund is done and show what came back.
function RefundInfo({ paymentId }: { paymentId: string }) {
  const l = useLang();
  const [p, setP] = useState<Payment | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  useEffect(() => {
    let stop = false;
    let tries = 0;
    let timer: ReturnType<typeof setTimeout>;
    const tick = async () => {
      try {
        const x = await api.get<Payment>(`/api/v1/payments/${encodeURIComponent(paymentId)}`);
        if (stop) return;
        setP(x);
        setErr(null);
        const st = x.status.toUpperCase(); // the payment service spells statuses REFUNDED, REFUND_FAILED
        if (st !== 'REFUNDED' && st !== 'REFUND_FAILED' && tries++ < 60) timer = setTimeout(() => void tick(), 500);
      } catch (e) {
        if (!stop) setErr(asApiError(e));
      }
    };
    void tick();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [paymentId]);
  if (err) return <ErrorBox error={err} />;
  if (!p) return <Loading />;
  const status = p.status.toLowerCase();
  if (status === 'refund_failed') {
    return (
      <div class="error" role="alert" data-testid="refund" data-status={status}>
        <p>{t('res.refundFailed')}</p>
        {p.failureReason && <p class="muted">{p.failureReason}</p>}
      </div>
    );
  }
  if (status !== 'refunded') {
    return (
      <p role="status" data-testid="refund" data-status={status}>
        {t('res.refundPending')}
      </p>
    );
  }
  return (
    <div class="card notice" role="status" data-testid="refund" data-status={status}>
      <p>
        <strong>{t('res.refunded', { amount: formatKRW(p.pointsAmount + p.cardAmount) })}</strong>
      </p>
      <ul class="plain">
        {p.pointsAmount > 0 && (
          <li>
            {t('res.refundPoints')}: {formatKRW(p.pointsAmount)}
          </li>
        )}
        {p.cardAmount > 0 && (
          <li>
            {t('res.refundCard')}: {formatKRW(p.cardAmount)}
          </li>
        )}
      </ul>
      {p.updatedAt ? <p class="muted small">{formatDateTime(p.updatedAt, l)}</p> : null}
    </div>
  );
}

// The gateway sends the browser back here with ?paymentKey&orderId&amount.
export function PaymentSuccessPage() {
  useLang();
  const q = query();
  const orderId = q.get('orderId') ?? '';
  const paymentKey = q.get('paymentKey') ?? '';
  const [err, setErr] = useState<ApiError | null>(null);
  useEffect(() => {
    const p = pendingFor(orderId);
    if (!p) {
      setErr(new ApiError(404, 'not_found', 'payment'));
      return;
    }
    api
      .post<Payment>(`/api/v1/payments/${encodeURIComponent(p.paymentId)}/confirm`, { paymentKey })
      .then(() => {
        navigate(p.purpose === 'point_charge' ? '/me' : `/reservations/${p.reservationId}/done`, true);
      })
      .catch((e) => setErr(asApiError(e)));
  }, [orderId, paymentKey]);
  return (
    <Page title={err ? t('pay.failed') : t('pay.confirming')}>
      {err ? <ErrorBox error={err} /> : <Loading />}
      {err && pendingFor(orderId)?.reservationId && <a href={`/reservations/${pendingFor(orderId)?.reservationId}`}>{t('res.detail')}</a>}
    </Page>
  );
}

export function PaymentFailPage() {
  useLang();
  const q = query();
  const p = pendingFor(q.get('orderId') ?? '');
  return (
    <Page title={t('pay.failed')}>
      <div class="error" role="alert">
        <p>{new ApiError(402, 'payment_failed', '').describe()}</p>
        {q.get('message') && <p class="muted">{q.get('message')}</p>}
      </div>
      {p?.reservationId && (
        <a class="button primary" href={`/reservations/${p.reservationId}`}>
          {t('common.retry')}
        </a>
      )}
    </Page>
  );
}

export function ConfirmationPage({ id }: { id: string }) {
  useLang();
  // Confirmation happens on payment.completed; poll briefly until the reservation says CONFIRMED.
  const [res, setRes] = useState<Reservation | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  useEffect(() => {
    let stop = false;
    let tries = 0;
    const tick = async () => {
      try {
        const r = await api.get<Reservation>(`/api/v1/reservations/${encodeURIComponent(id)}`);
        if (stop) return;
        setRes(r);
        if (r.status === 'PENDING' && tries++ < 30) setTimeout(() => void tick(), 500);
      } catch (e) {
        if (!stop) setErr(asApiError(e));
      }
    };
    void tick();
    return () => {
      stop = true;
    };
  }, [id]);
  if (err) return <ErrorBox error={err} />;
  if (!res || res.status === 'PENDING') return <Loading />;
  return (
    <Page title={res.status === 'CONFIRMED' ? t('confirm.title') : t('res.detail')}>
      <div class="card">
        <p data-testid="reservation-status" class={`badge res-${res.status}`}>
          {t(`res.status.${res.status}`)}
        </p>
        {res.status === 'CONFIRMED' && <p>{t('confirm.thanks')}</p>}
        <ul class="plain">
          {res.items.map((it, i) => (
            <li key={i}>
              {it.label} × {it.quantity}
            </li>
          ))}
        </ul>
        <p>
          {t('seats.total')}: <Price amount={res.amount} />
        </p>
        <a class="button primary" href="/tickets">
          {t('confirm.viewTickets')}
        </a>
      </div>
    </Page>
  );
}
