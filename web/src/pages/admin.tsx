// The admin console: dashboard, events CRUD with the seating generator + preview, ticket types,
// publish; news; reservations; waiting-room controls; notification log; check-in.
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { formatDateTime, formatKRW, msToSeoulLocal, seoulLocalToMs } from '../format';
import { t } from '../i18n';
import { navigate } from '../router';
import { buildPlanSpec, previewSeats, type SimplePlan } from '../plan';
import { categoryColor } from '../seats';
import { api, user as userSignal } from '../session';
import type { EventDetail, EventSummary, News, Page as ApiPage, Reservation, TicketType } from '../types';
import { ErrorBox, Loading, Page, Price, asApiError, useAsync, useLang, useValue } from '../ui';
import { CATEGORIES } from './events';

const enc = encodeURIComponent;

function AdminNav() {
  useLang();
  const links: [string, string][] = [
    ['/admin', 'admin.dashboard'],
    ['/admin/events', 'admin.events'],
    ['/admin/news', 'admin.news'],
    ['/admin/reservations', 'admin.reservations'],
    ['/admin/notifications', 'admin.notifications'],
    ['/admin/checkin', 'admin.checkin'],
  ];
  return (
    <nav class="subnav" aria-label={t('admin.title')}>
      {links.map(([href, key]) => (
        <a href={href} key={href} aria-current={window.location.pathname === href ? 'page' : undefined}>
          {t(key)}
        </a>
      ))}
    </nav>
  );
}

export function AdminShell({ title, children }: { title: string; children: ComponentChildren }) {
  useLang();
  const me = useValue(userSignal);
  return (
    <Page title={`${t('admin.title')} · ${title}`}>
      <AdminNav />
      {me && me.role !== 'admin' && me.role !== 'staff' ? <ErrorBox error={new ApiError(403, 'forbidden', '')} /> : children}
    </Page>
  );
}

interface Sales {
  seats: { available: number; held: number; sold: number };
  revenue: number;
  ticketsSold: number;
  reservations: Record<string, number>;
}
interface QueueView {
  length: number;
  active: number;
  rate: number;
  paused: boolean;
  maxActive: number;
  status?: string;
}

function EventStats({ id }: { id: string }) {
  useLang();
  const [sales, setSales] = useState<Sales | null>(null);
  const [queue, setQueue] = useState<QueueView | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  useEffect(() => {
    let stop = false;
    const tick = async () => {
      const [s, q] = await Promise.allSettled([
        api.get<Sales>(`/api/v1/admin/events/${enc(id)}/sales`),
        api.get<QueueView>(`/api/v1/admin/queues/${enc(id)}`),
      ]);
      if (stop) return;
      if (s.status === 'fulfilled') setSales(s.value);
      else setErr(asApiError(s.reason));
      if (q.status === 'fulfilled') setQueue(q.value);
      setTimeout(() => void (stop || tick()), 5000);
    };
    void tick();
    return () => {
      stop = true;
    };
  }, [id]);
  return (
    <div class="stats">
      {sales ? (
        <>
          <span>
            {t('admin.revenue')}: <Price amount={sales.revenue} />
          </span>
          <span>
            {t('admin.sold')} {sales.seats.sold} · {t('admin.held')} {sales.seats.held} · {t('admin.available')} {sales.seats.available}
          </span>
        </>
      ) : (
        err && <ErrorBox error={err} />
      )}
      {queue && (
        <span>
          {t('admin.queueLength')} {queue.length} · {t('admin.rate')} {queue.rate} {queue.paused ? `· ${t('queue.paused')}` : ''}
        </span>
      )}
    </div>
  );
}

export function AdminDashboard() {
  useLang();
  const list = useAsync(() => api.get<ApiPage<EventSummary>>('/api/v1/admin/events?status=on_sale&limit=20'), []);
  return (
    <AdminShell title={t('admin.dashboard')}>
      <ErrorBox error={list.error} onRetry={list.reload} />
      {list.loading && <Loading />}
      <ul class="plain">
        {(list.data?.items ?? []).map((e) => (
          <li key={e.id} class="card">
            <h2>
              <a href={`/admin/events/${e.id}`}>{e.title}</a>
            </h2>
            <EventStats id={e.id} />
            <a href={`/admin/queues/${e.id}`}>{t('admin.queues')}</a>
          </li>
        ))}
      </ul>
      {list.data && list.data.items.length === 0 && <p class="empty">{t('events.empty')}</p>}
    </AdminShell>
  );
}

export function AdminEvents() {
  const l = useLang();
  const list = useAsync(() => api.get<ApiPage<EventSummary>>('/api/v1/admin/events?limit=100&sort=newest'), []);
  return (
    <AdminShell title={t('admin.events')}>
      <a class="button primary" href="/admin/events/new">
        {t('admin.newEvent')}
      </a>
      <ErrorBox error={list.error} onRetry={list.reload} />
      <table class="table">
        <tbody>
          {(list.data?.items ?? []).map((e) => (
            <tr key={e.id}>
              <td>
                <a href={`/admin/events/${e.id}`}>{e.title}</a>
              </td>
              <td>{t(`status.${e.status}`)}</td>
              <td>{formatDateTime(e.performance_start, l)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </AdminShell>
  );
}

function eventBody(f: FormData) {
  const ms = (k: string) => seoulLocalToMs(String(f.get(k) ?? ''));
  const venue = String(f.get('venue_id') ?? '');
  return {
    ...(venue ? { venue_id: venue } : {}),
    title: String(f.get('title') ?? ''),
    description: String(f.get('description') ?? ''),
    category: String(f.get('category') ?? 'concert'),
    artist: String(f.get('artist') ?? ''),
    performance_start: ms('performance_start'),
    performance_end: ms('performance_end'),
    sale_start: ms('sale_start'),
    sale_end: ms('sale_end'),
    per_user_limit: Number(f.get('per_user_limit') ?? 4),
    hold_minutes: Number(f.get('hold_minutes') ?? 10),
    waiting_room: {
      enabled: f.get('wr_enabled') === 'on',
      admission_per_minute: Number(f.get('wr_rate') ?? 600),
      max_active: Number(f.get('wr_max') ?? 1000),
    },
  };
}

function EventForm({ e, onSubmit, err }: { e?: EventDetail; onSubmit: (f: FormData) => void; err: ApiError | null }) {
  useLang();
  const now = Date.now();
  const day = 86_400_000;
  const venues = useAsync(() => api.get<{ items: { id: string; name: string }[] }>('/api/v1/admin/venues'), []);
  const dt = (name: string, v: number) => (
    <label class="field">
      {name}
      <input type="datetime-local" name={name} step={1} defaultValue={msToSeoulLocal(v)} required />
    </label>
  );
  return (
    <form
      class="card form-grid"
      onSubmit={(ev) => {
        ev.preventDefault();
        onSubmit(new FormData(ev.target as HTMLFormElement));
      }}
    >
      <label class="field">
        title
        <input name="title" defaultValue={e?.title} required maxLength={200} />
      </label>
      <label class="field">
        artist
        <input name="artist" defaultValue={e?.artist} />
      </label>
      <label class="field">
        category
        <select name="category" defaultValue={e?.category ?? 'concert'}>
          {CATEGORIES.map((c) => (
            <option value={c} key={c}>
              {t(`cat.${c}`)}
            </option>
          ))}
        </select>
      </label>
      <label class="field">
        venue
        <select name="venue_id" defaultValue={e?.venue?.id ?? ''} key={venues.data ? 'v' : 'n'}>
          <option value="">—</option>
          {(venues.data?.items ?? []).map((v) => (
            <option value={v.id} key={v.id}>
              {v.name}
            </option>
          ))}
        </select>
      </label>
      {dt('sale_start', e?.sale_start ?? now + 60_000)}
      {dt('sale_end', e?.sale_end ?? now + 7 * day)}
      {dt('performance_start', e?.performance_start ?? now + 8 * day)}
      {dt('performance_end', e?.performance_end ?? now + 8 * day + 3 * 3600_000)}
      <label class="field">
        per_user_limit
        <input type="number" name="per_user_limit" min={1} max={20} defaultValue={String(e?.per_user_limit ?? 4)} />
      </label>
      <label class="field">
        hold_minutes
        <input type="number" name="hold_minutes" min={1} max={30} defaultValue={String(e?.hold_minutes ?? 10)} />
      </label>
      <label class="field check">
        <input type="checkbox" name="wr_enabled" defaultChecked={e?.waiting_room.enabled ?? false} /> waiting_room.enabled
      </label>
      <label class="field">
        admission_per_minute
        <input type="number" name="wr_rate" min={1} defaultValue={String(e?.waiting_room.admission_per_minute ?? 600)} />
      </label>
      <label class="field">
        max_active
        <input type="number" name="wr_max" min={1} defaultValue={String(e?.waiting_room.max_active ?? 1000)} />
      </label>
      <label class="field full">
        description
        <textarea name="description" rows={3} defaultValue={e?.description} />
      </label>
      <ErrorBox error={err} />
      <button type="submit" class="primary">
        {t('common.save')}
      </button>
    </form>
  );
}

export function AdminEventNew() {
  useLang();
  const [err, setErr] = useState<ApiError | null>(null);
  return (
    <AdminShell title={t('admin.newEvent')}>
      <EventForm
        err={err}
        onSubmit={async (f) => {
          setErr(null);
          try {
            const e = await api.post<EventDetail>('/api/v1/admin/events', eventBody(f));
            navigate(`/admin/events/${e.id}`);
          } catch (x) {
            setErr(asApiError(x));
          }
        }}
      />
    </AdminShell>
  );
}

function SeatingGenerator({ id, disabled, onSaved }: { id: string; disabled: boolean; onSaved: () => void }) {
  useLang();
  const [p, setP] = useState<SimplePlan>({ sections: 2, rows: 5, seatsPerRow: 10, categories: 'VIP:1-2, R:3-5' });
  const [err, setErr] = useState<ApiError | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const built = useMemo(() => buildPlanSpec(p), [p]);
  const seats = useMemo(() => (built.spec ? previewSeats(built.spec) : []), [built]);
  const cats = built.spec?.categories.map((c) => c.code) ?? [];
  const maxX = Math.max(100, ...seats.map((s) => s.x)) + 10;
  const maxY = Math.max(50, ...seats.map((s) => s.y)) + 10;
  const num = (k: keyof SimplePlan) => (ev: Event) => setP({ ...p, [k]: Number((ev.target as HTMLInputElement).value) });
  const save = async () => {
    setErr(null);
    setMsg(null);
    try {
      const r = await api.put<{ seat_count: number }>(`/api/v1/admin/events/${enc(id)}/seating`, built.spec);
      setMsg(`${r.seat_count} seats`);
      onSaved();
    } catch (x) {
      setErr(asApiError(x));
    }
  };
  return (
    <section class="card">
      <h2>{t('admin.seating')}</h2>
      <div class="form-grid">
        <label class="field">
          sections
          <input type="number" min={1} max={26} value={p.sections} onInput={num('sections')} name="sections" />
        </label>
        <label class="field">
          rows
          <input type="number" min={1} max={500} value={p.rows} onInput={num('rows')} name="rows" />
        </label>
        <label class="field">
          seats_per_row
          <input type="number" min={1} max={1000} value={p.seatsPerRow} onInput={num('seatsPerRow')} name="seats_per_row" />
        </label>
        <label class="field full">
          categories (CODE:from-to)
          <input value={p.categories} onInput={(e) => setP({ ...p, categories: (e.target as HTMLInputElement).value })} name="plan_categories" />
        </label>
      </div>
      {built.error && <p class="field-error">{built.error}</p>}
      <h3>
        {t('admin.preview')} ({seats.length})
      </h3>
      <svg class="seatmap preview" viewBox={`0 0 ${maxX} ${maxY}`} aria-label={t('admin.preview')} data-testid="plan-preview">
        {seats.length <= 20_000 &&
          seats.map((s, i) => <rect key={i} x={s.x - 4} y={s.y - 4} width={8} height={8} rx={2} fill={categoryColor(undefined, cats.indexOf(s.category))} />)}
      </svg>
      <ErrorBox error={err} />
      {msg && <p role="status">{msg}</p>}
      <button type="button" class="primary" disabled={disabled || !built.spec} onClick={() => void save()} data-testid="seating-save">
        {t('common.save')}
      </button>
    </section>
  );
}

function TicketTypes({ e, reload }: { e: EventDetail; reload: () => void }) {
  useLang();
  const [err, setErr] = useState<ApiError | null>(null);
  const add = async (ev: Event) => {
    ev.preventDefault();
    const f = new FormData(ev.target as HTMLFormElement);
    const kind = String(f.get('kind'));
    const body: Record<string, unknown> = { name: String(f.get('name')), kind, price: Number(f.get('price')) };
    if (kind === 'seated') body.category = String(f.get('category'));
    else body.quota = Number(f.get('quota'));
    setErr(null);
    try {
      await api.post<TicketType>(`/api/v1/admin/events/${enc(e.id)}/ticket-types`, body);
      (ev.target as HTMLFormElement).reset();
      reload();
    } catch (x) {
      setErr(asApiError(x));
    }
  };
  const del = async (tid: string) => {
    try {
      await api.del(`/api/v1/admin/events/${enc(e.id)}/ticket-types/${enc(tid)}`);
      reload();
    } catch (x) {
      setErr(asApiError(x));
    }
  };
  return (
    <section class="card">
      <h2>{t('admin.ticketTypes')}</h2>
      <table class="table">
        <tbody>
          {e.ticket_types.map((tt) => (
            <tr key={tt.id}>
              <td>{tt.name}</td>
              <td>{tt.kind === 'seated' ? tt.category : `GA ${tt.quota ?? ''}`}</td>
              <td>{formatKRW(tt.price)}</td>
              <td>
                {e.status === 'draft' && (
                  <button type="button" class="small secondary" onClick={() => void del(tt.id)}>
                    {t('common.delete')}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {e.status === 'draft' && (
        <form class="form-grid" onSubmit={add} data-testid="ticket-type-form">
          <label class="field">
            name
            <input name="name" required />
          </label>
          <label class="field">
            kind
            <select name="kind">
              <option value="seated">seated</option>
              <option value="general_admission">general_admission</option>
            </select>
          </label>
          <label class="field">
            category
            <input name="category" placeholder="VIP" />
          </label>
          <label class="field">
            quota
            <input name="quota" type="number" min={1} />
          </label>
          <label class="field">
            price (KRW)
            <input name="price" type="number" min={0} step={1000} required />
          </label>
          <button type="submit">{t('admin.addTicketType')}</button>
        </form>
      )}
      <ErrorBox error={err} />
    </section>
  );
}

export function AdminEventEdit({ id }: { id: string }) {
  useLang();
  const ev = useAsync(() => api.get<EventDetail>(`/api/v1/admin/events/${enc(id)}`), [id]);
  const [err, setErr] = useState<ApiError | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  if (ev.error) return <AdminShell title={t('admin.events')}>{<ErrorBox error={ev.error} onRetry={ev.reload} />}</AdminShell>;
  if (!ev.data) return <Loading />;
  const e = ev.data;
  const publish = async () => {
    setErr(null);
    try {
      ev.setData(await api.post<EventDetail>(`/api/v1/admin/events/${enc(id)}/publish`, {}));
      setMsg(t('admin.published'));
    } catch (x) {
      setErr(asApiError(x));
    }
  };
  return (
    <AdminShell title={e.title}>
      <p>
        <span class={`badge badge-${e.status}`} data-testid="admin-event-status">
          {t(`status.${e.status}`)}
        </span>{' '}
        <a href={`/events/${e.id}`}>/events/{e.id}</a>
      </p>
      {msg && <p role="status">{msg}</p>}
      <ErrorBox error={err} />
      {e.status === 'draft' && (
        <button type="button" class="primary" onClick={() => void publish()} data-testid="publish">
          {t('admin.publish')}
        </button>
      )}
      {e.status !== 'draft' && <EventStats id={e.id} />}
      <EventForm
        e={e}
        err={null}
        onSubmit={async (f) => {
          setErr(null);
          try {
            const body = eventBody(f);
            ev.setData(await api.patch<EventDetail>(`/api/v1/admin/events/${enc(id)}`, e.status === 'draft' ? body : { title: body.title, description: body.description, artist: body.artist, category: body.category }));
            setMsg(t('me.saved'));
          } catch (x) {
            setErr(asApiError(x));
          }
        }}
      />
      <SeatingGenerator id={id} disabled={e.status !== 'draft'} onSaved={ev.reload} />
      <TicketTypes e={e} reload={ev.reload} />
    </AdminShell>
  );
}

export function AdminNews() {
  const l = useLang();
  const list = useAsync(() => api.get<ApiPage<News>>('/api/v1/news?limit=50'), []);
  const [err, setErr] = useState<ApiError | null>(null);
  const create = async (ev: Event) => {
    ev.preventDefault();
    const f = new FormData(ev.target as HTMLFormElement);
    setErr(null);
    try {
      await api.post('/api/v1/admin/news', { title: String(f.get('title')), body: String(f.get('body')), pinned: f.get('pinned') === 'on' });
      (ev.target as HTMLFormElement).reset();
      list.reload();
    } catch (x) {
      setErr(asApiError(x));
    }
  };
  const del = async (id: string) => {
    try {
      await api.del(`/api/v1/admin/news/${enc(id)}`);
      list.reload();
    } catch (x) {
      setErr(asApiError(x));
    }
  };
  return (
    <AdminShell title={t('admin.news')}>
      <form class="card form-grid" onSubmit={create}>
        <label class="field">
          title
          <input name="title" required />
        </label>
        <label class="field check">
          <input type="checkbox" name="pinned" /> pinned
        </label>
        <label class="field full">
          body
          <textarea name="body" rows={3} required />
        </label>
        <button type="submit" class="primary">
          {t('common.save')}
        </button>
      </form>
      <ErrorBox error={err ?? list.error} />
      <ul class="plain">
        {(list.data?.items ?? []).map((n) => (
          <li key={n.id} class="card">
            <strong>{n.title}</strong> <span class="muted">{formatDateTime(n.published_at, l)}</span>
            <p>{n.body}</p>
            <button type="button" class="small secondary" onClick={() => void del(n.id)}>
              {t('common.delete')}
            </button>
          </li>
        ))}
      </ul>
    </AdminShell>
  );
}

export function AdminReservations() {
  const l = useLang();
  const [filter, setFilter] = useState('');
  const list = useAsync(() => api.get<{ items: Reservation[] }>(`/api/v1/admin/reservations?${filter}`), [filter]);
  const [err, setErr] = useState<ApiError | null>(null);
  const cancel = async (id: string) => {
    setErr(null);
    try {
      await api.post(`/api/v1/reservations/${enc(id)}/cancel`, {});
      list.reload();
    } catch (x) {
      setErr(asApiError(x));
    }
  };
  return (
    <AdminShell title={t('admin.reservations')}>
      <form
        class="filters"
        onSubmit={(ev) => {
          ev.preventDefault();
          const f = new FormData(ev.target as HTMLFormElement);
          const p = new URLSearchParams();
          for (const k of ['eventId', 'userId', 'status']) if (f.get(k)) p.set(k, String(f.get(k)));
          setFilter(p.toString());
        }}
      >
        <input name="eventId" placeholder="eventId" aria-label="eventId" />
        <input name="userId" placeholder="userId" aria-label="userId" />
        <select name="status" aria-label="status">
          <option value="">{t('events.all')}</option>
          {['PENDING', 'CONFIRMED', 'EXPIRED', 'CANCELLED'].map((s) => (
            <option value={s} key={s}>
              {t(`res.status.${s}`)}
            </option>
          ))}
        </select>
        <button type="submit">{t('common.search')}</button>
      </form>
      <ErrorBox error={err ?? list.error} />
      <table class="table">
        <tbody>
          {(list.data?.items ?? []).map((r) => (
            <tr key={r.id}>
              <td>
                <code>{r.id.slice(-8)}</code>
              </td>
              <td>{r.items.map((i) => i.label).join(', ')}</td>
              <td>{t(`res.status.${r.status}`)}</td>
              <td>{formatKRW(r.amount)}</td>
              <td>{formatDateTime(r.createdAt, l)}</td>
              <td>
                {(r.status === 'PENDING' || r.status === 'CONFIRMED') && (
                  <button type="button" class="small secondary" onClick={() => void cancel(r.id)}>
                    {t('res.cancel')}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </AdminShell>
  );
}

export function AdminQueue({ id }: { id: string }) {
  useLang();
  const q = useAsync(() => api.get<QueueView>(`/api/v1/admin/queues/${enc(id)}`), [id]);
  const [err, setErr] = useState<ApiError | null>(null);
  const act = async (fn: () => Promise<QueueView>) => {
    setErr(null);
    try {
      q.setData(await fn());
    } catch (x) {
      setErr(asApiError(x));
    }
  };
  return (
    <AdminShell title={t('admin.queues')}>
      <ErrorBox error={err ?? q.error} onRetry={q.reload} />
      {q.data && (
        <div class="card">
          <p>
            {t('admin.queueLength')}: <strong>{q.data.length}</strong> · active {q.data.active}/{q.data.maxActive} · {t('admin.rate')} {q.data.rate}
          </p>
          <p>{q.data.paused ? t('queue.paused') : ''}</p>
          <button type="button" onClick={() => void act(() => api.post<QueueView>(`/api/v1/admin/queues/${enc(id)}/${q.data!.paused ? 'resume' : 'pause'}`, {}))}>
            {q.data.paused ? t('admin.resume') : t('admin.pause')}
          </button>
          <form
            class="inline"
            onSubmit={(ev) => {
              ev.preventDefault();
              const f = new FormData(ev.target as HTMLFormElement);
              void act(() => api.patch<QueueView>(`/api/v1/admin/queues/${enc(id)}`, { rate: Number(f.get('rate')), maxActive: Number(f.get('maxActive')) }));
            }}
          >
            <label>
              {t('admin.rate')} <input name="rate" type="number" min={0.1} step={0.1} defaultValue={String(q.data.rate)} />
            </label>
            <label>
              maxActive <input name="maxActive" type="number" min={1} defaultValue={String(q.data.maxActive)} />
            </label>
            <button type="submit">{t('common.save')}</button>
          </form>
        </div>
      )}
    </AdminShell>
  );
}

interface Delivery {
  id?: string;
  eventId?: string;
  event_id?: string;
  template?: string;
  to?: string;
  recipient?: string;
  status?: string;
  attempts?: number;
  createdAt?: number;
  created_at?: number;
}

export function AdminNotifications() {
  const l = useLang();
  const list = useAsync(() => api.get<{ items: Delivery[] }>('/api/v1/admin/notifications?limit=100'), []);
  return (
    <AdminShell title={t('admin.notifications')}>
      <ErrorBox error={list.error} onRetry={list.reload} />
      <table class="table">
        <tbody>
          {(list.data?.items ?? []).map((d, i) => (
            <tr key={d.id ?? i}>
              <td>{d.template ?? '—'}</td>
              <td>{d.to ?? d.recipient ?? '—'}</td>
              <td>{d.status ?? '—'}</td>
              <td>{d.attempts ?? ''}</td>
              <td>{d.createdAt ?? d.created_at ? formatDateTime((d.createdAt ?? d.created_at)!, l) : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </AdminShell>
  );
}

export function AdminCheckin() {
  const l = useLang();
  const [result, setResult] = useState<{ result: string; firstScanAt?: number; ticket?: { label: string } } | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const form = ev.target as HTMLFormElement;
    const code = String(new FormData(form).get('code')).trim();
    setErr(null);
    setResult(null);
    try {
      setResult(await api.post('/api/v1/admin/checkins', { code }));
      form.reset();
      (form.querySelector('input') as HTMLInputElement).focus();
    } catch (x) {
      setErr(asApiError(x));
    }
  };
  const msg = result && { valid: 'admin.checkinValid', already_used: 'admin.checkinUsed', invalid: 'admin.checkinInvalid' }[result.result];
  return (
    <AdminShell title={t('admin.checkin')}>
      <form class="card inline" onSubmit={submit}>
        <label>
          {t('admin.checkinCode')} <input name="code" required autoFocus autoComplete="off" />
        </label>
        <button type="submit" class="primary">
          OK
        </button>
      </form>
      <ErrorBox error={err} />
      {result && (
        <p class={`checkin checkin-${result.result}`} role="alert" data-testid="checkin-result">
          {msg ? t(msg) : result.result} {result.ticket?.label}
          {result.firstScanAt ? ` (${formatDateTime(result.firstScanAt, l)})` : ''}
        </p>
      )}
    </AdminShell>
  );
}
