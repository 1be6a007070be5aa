// The admin console: dashboard, events CRUD with the seating generator + preview, ticket types,
// publish; news; reservations; waiting-room controls; notification log; check-in.
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { formatDateTime, formatKRW, msToSeoulLocal, seoulLocalToMs } from '../format';
import { t } from '../i18n';
import { navigate } from '../router';
import { buildPlanSpec, previewSeats, type SimplePlan } from '../plan';
import { bounds, categoryColor, decodePlan } from '../seats';
import { ScanLoop, createDetector, scannerSupported } from '../scan';
import { api, user as userSignal } from '../session';
import type { EventDetail, EventSummary, News, Page as ApiPage, Reservation, SeatingPlan, TicketType } from '../types';
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
    <div class="stats" data-testid="event-stats" data-event={id}>
      {sales ? (
        <>
          <span data-testid="stats-revenue" data-value={sales.revenue}>
            {t('admin.revenue')}: <Price amount={sales.revenue} />
          </span>
          <span data-testid="stats-seats" data-sold={sales.seats.sold} data-held={sales.seats.held} data-available={sales.seats.available}>
            {t('admin.sold')} {sales.seats.sold} · {t('admin.held')} {sales.seats.held} · {t('admin.available')} {sales.seats.available}
          </span>
          <span>
            {t('admin.ticketsSold')} {sales.ticketsSold}
          </span>
        </>
      ) : (
        err && <ErrorBox error={err} />
      )}
      {queue && (
        <span data-testid="stats-queue" data-length={queue.length} data-rate={queue.rate}>
          {t('admin.queueLength')} {queue.length} · {t('admin.rate')} {queue.rate} {queue.paused ? `· ${t('admin.paused')}` : ''}
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
      {t(`admin.f.${name}`)}
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
        {t('admin.f.title')}
        <input name="title" defaultValue={e?.title} required maxLength={200} />
      </label>
      <label class="field">
        {t('admin.f.artist')}
        <input name="artist" defaultValue={e?.artist} />
      </label>
      <label class="field">
        {t('admin.f.category')}
        <select name="category" defaultValue={e?.category ?? 'concert'}>
          {CATEGORIES.map((c) => (
            <option value={c} key={c}>
              {t(`cat.${c}`)}
            </option>
          ))}
        </select>
      </label>
      <label class="field">
        {t('admin.f.venue')}
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
        {t('admin.f.per_user_limit')}
        <input type="number" name="per_user_limit" min={1} max={20} defaultValue={String(e?.per_user_limit ?? 4)} />
      </label>
      <label class="field">
        {t('admin.f.hold_minutes')}
        <input type="number" name="hold_minutes" min={1} max={30} defaultValue={String(e?.hold_minutes ?? 10)} />
      </label>
      <label class="field check">
        <input type="checkbox" name="wr_enabled" defaultChecked={e?.waiting_room.enabled ?? false} /> {t('admin.f.wr_enabled')}
      </label>
      <label class="field">
        {t('admin.f.wr_rate')}
        <input type="number" name="wr_rate" min={1} defaultValue={String(e?.waiting_room.admission_per_minute ?? 600)} />
      </label>
      <label class="field">
        {t('admin.f.wr_max')}
        <input type="number" name="wr_max" min={1} defaultValue={String(e?.waiting_room.max_active ?? 1000)} />
      </label>
      <label class="field full">
        {t('admin.f.description')}
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

// A published event's seating is fixed: show the plan on sale (as fans see it), not the generator.
function SavedPlan({ id }: { id: string }) {
  useLang();
  const plan = useAsync(() => api.get<SeatingPlan>(`/api/v1/events/${enc(id)}/seating`, { auth: false }), [id]);
  if (plan.error) return plan.error.status === 404 ? null : <ErrorBox error={plan.error} onRetry={plan.reload} />;
  if (!plan.data) return <Loading />;
  const seats = decodePlan(plan.data);
  const cats = plan.data.categories.map((c) => c.code);
  const b = bounds(seats);
  return (
    <section class="card">
      <h2>{t('admin.seating')}</h2>
      <h3>
        {t('admin.preview')} ({seats.length})
      </h3>
      <svg class="seatmap preview" viewBox={`${b.minX} ${b.minY} ${b.width} ${b.height}`} aria-label={t('admin.preview')} data-testid="plan-saved">
        {seats.length <= 20_000 &&
          seats.map((s) => (
            <rect key={s.id} x={s.x - 4} y={s.y - 4} width={8} height={8} rx={2} fill={categoryColor(plan.data!.categories[cats.indexOf(s.category)]?.color, cats.indexOf(s.category))} />
          ))}
      </svg>
    </section>
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
      setMsg(t('admin.seatCount', { n: r.seat_count }));
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
          {t('admin.f.sections')}
          <input type="number" min={1} max={26} value={p.sections} onInput={num('sections')} name="sections" />
        </label>
        <label class="field">
          {t('admin.f.rows')}
          <input type="number" min={1} max={500} value={p.rows} onInput={num('rows')} name="rows" />
        </label>
        <label class="field">
          {t('admin.f.seats_per_row')}
          <input type="number" min={1} max={1000} value={p.seatsPerRow} onInput={num('seatsPerRow')} name="seats_per_row" />
        </label>
        <label class="field full">
          {t('admin.f.plan_categories')}
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
              <td>{tt.kind === 'seated' ? tt.category : `${t('admin.f.kind.general_admission')} ${tt.quota ?? ''}`}</td>
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
            {t('admin.f.name')}
            <input name="name" required />
          </label>
          <label class="field">
            {t('admin.f.kind')}
            <select name="kind">
              <option value="seated">{t('admin.f.kind.seated')}</option>
              <option value="general_admission">{t('admin.f.kind.general_admission')}</option>
            </select>
          </label>
          <label class="field">
            {t('admin.f.tt_category')}
            <input name="category" placeholder="VIP" />
          </label>
          <label class="field">
            {t('admin.f.quota')}
            <input name="quota" type="number" min={1} />
          </label>
          <label class="field">
            {t('admin.f.price')}
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
  // Only drafts can be deleted (the API refuses anything published, in words).
  const remove = async () => {
    if (!window.confirm(t('admin.deleteConfirm'))) return;
    setErr(null);
    try {
      await api.del(`/api/v1/admin/events/${enc(id)}`);
      navigate('/admin/events', true);
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
        <p class="actions">
          <button type="button" class="primary" onClick={() => void publish()} data-testid="publish">
            {t('admin.publish')}
          </button>{' '}
          <button type="button" class="secondary" onClick={() => void remove()} data-testid="delete-event">
            {t('admin.deleteEvent')}
          </button>
        </p>
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
      {e.status === 'draft' ? <SeatingGenerator id={id} disabled={false} onSaved={ev.reload} /> : <SavedPlan id={id} />}
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
          {t('admin.f.news_title')}
          <input name="title" required maxLength={200} />
        </label>
        <label class="field check">
          <input type="checkbox" name="pinned" /> {t('admin.f.pinned')}
        </label>
        <label class="field full">
          {t('admin.f.body')}
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
    if (!window.confirm(t('res.cancelConfirm'))) return;
    setErr(null);
    try {
      await api.post(`/api/v1/reservations/${enc(id)}/cancel`, {});
      list.reload();
    } catch (x) {
      setErr(asApiError(x));
    }
  };
  const rows = list.data?.items ?? [];
  return (
    <AdminShell title={t('admin.reservations')}>
      <form
        class="filters"
        role="search"
        onSubmit={(ev) => {
          ev.preventDefault();
          const f = new FormData(ev.target as HTMLFormElement);
          const p = new URLSearchParams();
          for (const k of ['eventId', 'userId', 'status']) if (f.get(k)) p.set(k, String(f.get(k)).trim());
          setFilter(p.toString());
        }}
      >
        <label>
          {t('admin.f.eventId')}
          <input name="eventId" autoComplete="off" />
        </label>
        <label>
          {t('admin.f.userId')}
          <input name="userId" autoComplete="off" />
        </label>
        <label>
          {t('admin.f.status')}
          <select name="status">
            <option value="">{t('events.all')}</option>
            {['PENDING', 'CONFIRMED', 'EXPIRED', 'CANCELLED'].map((s) => (
              <option value={s} key={s}>
                {t(`res.status.${s}`)}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">{t('common.search')}</button>
      </form>
      <ErrorBox error={err ?? list.error} onRetry={list.reload} />
      {list.loading && <Loading />}
      {!list.loading && rows.length === 0 && !list.error && <p class="empty">{t('admin.noRows')}</p>}
      {rows.length > 0 && (
        <table class="table" data-testid="admin-reservations">
          <thead>
            <tr>
              <th scope="col">{t('admin.col.reservation')}</th>
              <th scope="col">{t('admin.col.items')}</th>
              <th scope="col">{t('admin.f.status')}</th>
              <th scope="col">{t('admin.col.amount')}</th>
              <th scope="col">{t('admin.col.created')}</th>
              <th scope="col">
                <span class="sr-only">{t('res.cancel')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} data-id={r.id} data-status={r.status}>
                <td>
                  <code title={r.id}>{r.id.slice(-8)}</code>
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
      )}
    </AdminShell>
  );
}

export function AdminQueue({ id }: { id: string }) {
  useLang();
  const q = useAsync(() => api.get<QueueView>(`/api/v1/admin/queues/${enc(id)}`), [id]);
  const [err, setErr] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);
  const act = async (fn: () => Promise<QueueView>) => {
    setErr(null);
    setSaved(false);
    try {
      q.setData(await fn());
      setSaved(true);
    } catch (x) {
      setErr(asApiError(x));
    }
  };
  // The line moves on its own: refresh the figures every few seconds.
  useEffect(() => {
    const timer = setInterval(() => {
      api.get<QueueView>(`/api/v1/admin/queues/${enc(id)}`).then(
        (v) => q.setData(v),
        () => undefined,
      );
    }, 5_000);
    return () => clearInterval(timer);
  }, [id]);
  return (
    <AdminShell title={t('admin.queues')}>
      <ErrorBox error={err ?? q.error} onRetry={q.reload} />
      {q.data && (
        <div class="card" data-testid="admin-queue">
          <p>
            {t('admin.queueLength')}: <strong data-testid="admin-queue-length">{q.data.length}</strong> · {t('admin.active')}{' '}
            {q.data.active}/{q.data.maxActive} · {t('admin.rate')} <span data-testid="admin-queue-rate">{q.data.rate}</span>
          </p>
          <p role="status" data-testid="admin-queue-state" data-paused={String(q.data.paused)}>
            {q.data.paused ? t('admin.paused') : t('admin.running')}
          </p>
          <button
            type="button"
            data-testid="admin-queue-toggle"
            onClick={() => void act(() => api.post<QueueView>(`/api/v1/admin/queues/${enc(id)}/${q.data!.paused ? 'resume' : 'pause'}`, {}))}
          >
            {q.data.paused ? t('admin.resume') : t('admin.pause')}
          </button>
          <form
            class="inline"
            key={`${q.data.rate}/${q.data.maxActive}`}
            onSubmit={(ev) => {
              ev.preventDefault();
              const f = new FormData(ev.target as HTMLFormElement);
              void act(() => api.patch<QueueView>(`/api/v1/admin/queues/${enc(id)}`, { rate: Number(f.get('rate')), maxActive: Number(f.get('maxActive')) }));
            }}
          >
            <label>
              {t('admin.f.rate')} <input name="rate" type="number" min={0.1} step={0.1} defaultValue={String(q.data.rate)} />
            </label>
            <label>
              {t('admin.f.maxActive')} <input name="maxActive" type="number" min={1} defaultValue={String(q.data.maxActive)} />
            </label>
            <button type="submit">{t('common.save')}</button>
          </form>
          {saved && <p class="muted">{t('me.saved')}</p>}
        </div>
      )}
    </AdminShell>
  );
}

interface Delivery {
  id: string;
  event_id?: string;
  recipient?: string;
  topic?: string;
  template?: string;
  status?: string;
  attempts?: number;
  last_error?: string | null;
  email?: string | null;
  subject?: string | null;
  created_at?: number;
  sent_at?: number | null;
}

export function AdminNotifications() {
  const l = useLang();
  const [status, setStatus] = useState('');
  const list = useAsync(
    () => api.get<{ items: Delivery[] }>(`/api/v1/admin/notifications?limit=100${status ? `&status=${enc(status)}` : ''}`),
    [status],
  );
  const [err, setErr] = useState<ApiError | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const resend = async (id: string) => {
    setErr(null);
    setMsg(null);
    try {
      await api.post(`/api/v1/admin/notifications/${enc(id)}/resend`, {});
      setMsg(t('admin.resent'));
      list.reload();
    } catch (x) {
      setErr(asApiError(x));
    }
  };
  const rows = list.data?.items ?? [];
  return (
    <AdminShell title={t('admin.notifications')}>
      <p class="filters">
        <label>
          {t('admin.f.status')}
          <select value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)} name="status">
            <option value="">{t('events.all')}</option>
            {['PENDING', 'SENT', 'FAILED'].map((s) => (
              <option value={s} key={s}>
                {t(`admin.nstatus.${s}`)}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="secondary" onClick={list.reload}>
          {t('common.retry')}
        </button>
      </p>
      <ErrorBox error={err ?? list.error} onRetry={list.reload} />
      {msg && <p role="status">{msg}</p>}
      {list.loading && <Loading />}
      {!list.loading && rows.length === 0 && !list.error && <p class="empty">{t('admin.noRows')}</p>}
      {rows.length > 0 && (
        <table class="table" data-testid="notification-log">
          <thead>
            <tr>
              <th scope="col">{t('admin.col.template')}</th>
              <th scope="col">{t('admin.col.recipient')}</th>
              <th scope="col">{t('admin.col.subject')}</th>
              <th scope="col">{t('admin.f.status')}</th>
              <th scope="col">{t('admin.col.attempts')}</th>
              <th scope="col">{t('admin.col.created')}</th>
              <th scope="col">{t('admin.col.error')}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr key={d.id} data-status={d.status} data-template={d.template}>
                <td>{d.template ?? '—'}</td>
                <td>{d.email || d.recipient || '—'}</td>
                <td>{d.subject ?? '—'}</td>
                <td>{d.status ? t(`admin.nstatus.${d.status}`) : '—'}</td>
                <td>{d.attempts ?? ''}</td>
                <td>{d.created_at ? formatDateTime(d.created_at, l) : ''}</td>
                <td>
                  {d.last_error ?? ''}
                  {d.status === 'FAILED' && (
                    <button type="button" class="small secondary" onClick={() => void resend(d.id)}>
                      {t('admin.resend')}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </AdminShell>
  );
}

// Camera scanning where the browser can read QR codes (see src/scan.ts); elsewhere only the field.
function CameraScanner({ onCode }: { onCode: (code: string) => void }) {
  useLang();
  const [on, setOn] = useState(false);
  const [failed, setFailed] = useState(false);
  const video = useRef<HTMLVideoElement | null>(null);
  useEffect(() => {
    if (!on) return;
    let stream: MediaStream | null = null;
    let loop: ScanLoop | null = null;
    let live = true;
    void navigator.mediaDevices
      .getUserMedia({ video: { facingMode: 'environment' }, audio: false })
      .then(async (s) => {
        stream = s;
        if (!live || !video.current) return;
        video.current.srcObject = s;
        await video.current.play().catch(() => undefined);
        const detector = createDetector();
        if (!detector) throw new Error('no detector');
        loop = new ScanLoop({ detector, source: video.current, onCode });
        loop.start();
      })
      .catch(() => {
        if (live) {
          setFailed(true);
          setOn(false);
        }
      });
    return () => {
      live = false;
      loop?.stop();
      stream?.getTracks().forEach((tr) => tr.stop());
    };
  }, [on]);
  if (!scannerSupported()) return null;
  return (
    <div class="card scanner" data-testid="camera-scanner">
      <button type="button" class="secondary" onClick={() => (setFailed(false), setOn(!on))} aria-pressed={on}>
        {on ? t('admin.scanStop') : t('admin.scanStart')}
      </button>
      {failed && <p class="field-error">{t('admin.scanDenied')}</p>}
      {on && <video ref={video} class="scanner-video" muted playsInline aria-label={t('admin.scanStart')} />}
    </div>
  );
}

export function AdminCheckin() {
  const l = useLang();
  const [result, setResult] = useState<{ result: string; firstScanAt?: number; ticket?: { label: string } } | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  const check = async (code: string) => {
    setErr(null);
    setResult(null);
    try {
      setResult(await api.post('/api/v1/admin/checkins', { code }));
      return true;
    } catch (x) {
      setErr(asApiError(x));
      return false;
    }
  };
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const form = ev.target as HTMLFormElement;
    const code = String(new FormData(form).get('code')).trim();
    if (await check(code)) form.reset();
    (form.querySelector('input') as HTMLInputElement).focus();
  };
  const msg = result && { valid: 'admin.checkinValid', already_used: 'admin.checkinUsed', invalid: 'admin.checkinInvalid' }[result.result];
  return (
    <AdminShell title={t('admin.checkin')}>
      <form class="card inline" onSubmit={submit}>
        <label>
          {t('admin.checkinCode')} <input name="code" required autoFocus autoComplete="off" />
        </label>
        <button type="submit" class="primary">
          {t('admin.checkinSubmit')}
        </button>
      </form>
      <CameraScanner onCode={(code) => void check(code)} />
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
