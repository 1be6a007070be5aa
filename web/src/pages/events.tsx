// Event list (search, filters, cursor pagination) and event detail (dates, venue, prices, sale
// status, countdown to the sale).
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { formatDate, formatDateTime } from '../format';
import { t } from '../i18n';
import { navigate, query } from '../router';
import { admissionFor, api, user as userSignal } from '../session';
import type { EventDetail, EventSummary, News, Page as ApiPage } from '../types';
import { CountdownText, ErrorBox, Loading, Page, Price, StatusBadge, asApiError, useAsync, useLang, useNow, useValue } from '../ui';

export const CATEGORIES = ['concert', 'musical', 'theater', 'classical', 'sports', 'exhibition', 'festival', 'other'];
const STATUSES = ['on_sale', 'scheduled', 'closed', 'ended'];

export function EventCard({ e }: { e: EventSummary }) {
  const l = useLang();
  return (
    <li class="card event-card">
      <a href={`/events/${e.id}`} class="card-link">
        <div class="card-top">
          <span class="chip">{t(`cat.${e.category}`)}</span>
          <StatusBadge status={e.status} />
        </div>
        <h2 class="card-title">{e.title}</h2>
        {e.artist && <p class="muted">{e.artist}</p>}
        <p>{formatDateTime(e.performance_start, l)}</p>
        <p class="muted">{e.venue?.name ?? t('detail.noVenue')}</p>
        {e.price && <p class="strong">{t('events.from_price', { price: new Intl.NumberFormat('ko-KR', { style: 'currency', currency: 'KRW' }).format(e.price.min) })}</p>}
      </a>
    </li>
  );
}

// The latest announcements (admin console > news) above the list; nothing when there are none or
// the news cannot be loaded (the list matters more).
function NewsStrip() {
  const l = useLang();
  const news = useAsync(() => api.get<ApiPage<News>>('/api/v1/news?limit=3', { auth: false }), []);
  const items = news.data?.items ?? [];
  if (items.length === 0) return null;
  return (
    <section class="news card" aria-label={t('news.title')} data-testid="news">
      <h2 class="small-title">{t('news.title')}</h2>
      <ul class="plain">
        {items.map((n) => (
          <li key={n.id}>
            {n.pinned && <span class="chip">{t('news.pinned')}</span>} <strong>{n.title}</strong>{' '}
            <span class="muted small">{formatDate(n.published_at, l)}</span>
            <p class="muted">{n.body}</p>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function EventList() {
  useLang();
  const q0 = query();
  const [filters, setFilters] = useState({
    q: q0.get('q') ?? '',
    category: q0.get('category') ?? '',
    status: q0.get('status') ?? '',
    from: q0.get('from') ?? '',
    to: q0.get('to') ?? '',
  });
  const [items, setItems] = useState<EventSummary[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<ApiError | null>(null);

  const params = (c: string | null) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) p.set(k, v);
    p.set('limit', '12');
    if (c) p.set('cursor', c);
    return p;
  };

  const load = async (c: string | null) => {
    setLoading(true);
    setError(null);
    try {
      const page = await api.get<ApiPage<EventSummary>>(`/api/v1/events?${params(c)}`, { auth: false });
      setItems((prev) => (c ? [...prev, ...page.items] : page.items));
      setCursor(page.next_cursor);
    } catch (e) {
      const err = asApiError(e);
      setError(err);
      if (err.code === 'invalid_cursor') {
        setCursor(null);
      }
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    void load(null);
  }, [filters]);

  const onSubmit = (ev: Event) => {
    ev.preventDefault();
    const form = new FormData(ev.target as HTMLFormElement);
    const next = {
      q: String(form.get('q') ?? '').trim(),
      category: String(form.get('category') ?? ''),
      status: String(form.get('status') ?? ''),
      from: String(form.get('from') ?? ''),
      to: String(form.get('to') ?? ''),
    };
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(next)) if (v) p.set(k, v);
    history.replaceState(null, '', p.toString() ? `/?${p}` : '/');
    setFilters(next);
  };

  return (
    <Page title={t('events.title')}>
      <NewsStrip />
      <form class="filters" onSubmit={onSubmit} role="search">
        <label>
          <span class="sr-only">{t('events.search')}</span>
          <input type="search" name="q" placeholder={t('events.search')} defaultValue={filters.q} maxLength={100} />
        </label>
        <label>
          {t('events.category')}
          <select name="category" defaultValue={filters.category}>
            <option value="">{t('events.all')}</option>
            {CATEGORIES.map((c) => (
              <option value={c} key={c}>
                {t(`cat.${c}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('events.status')}
          <select name="status" defaultValue={filters.status}>
            <option value="">{t('events.all')}</option>
            {STATUSES.map((s) => (
              <option value={s} key={s}>
                {t(`status.${s}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('events.from')}
          <input type="date" name="from" defaultValue={filters.from} />
        </label>
        <label>
          {t('events.to')}
          <input type="date" name="to" defaultValue={filters.to} />
        </label>
        <button type="submit">{t('common.search')}</button>
      </form>
      <ErrorBox error={error} onRetry={() => void load(null)} />
      <ul class="grid" aria-busy={loading}>
        {items.map((e) => (
          <EventCard e={e} key={e.id} />
        ))}
      </ul>
      {!loading && !error && items.length === 0 && <p class="empty">{t('events.empty')}</p>}
      {loading && <Loading />}
      {cursor && !loading && (
        <button type="button" class="secondary load-more" onClick={() => void load(cursor)}>
          {t('events.loadMore')}
        </button>
      )}
    </Page>
  );
}

export function EventDetailPage({ id }: { id: string }) {
  const l = useLang();
  const me = useValue(userSignal);
  const now = useNow(1000);
  const ev = useAsync(() => api.get<EventDetail>(`/api/v1/events/${encodeURIComponent(id)}`, { auth: false }), [id]);
  // The sale start has passed but the server has not switched the status yet (its scheduler runs
  // every second): ask again until it says on sale.
  const waitingForSale = ev.data?.status === 'scheduled' && now >= ev.data.sale_start && now < ev.data.sale_end;
  useEffect(() => {
    if (!waitingForSale) return;
    const timer = setInterval(ev.reload, 1_500);
    return () => clearInterval(timer);
  }, [waitingForSale]);
  if (ev.loading && !ev.data) return <Loading />;
  if (ev.error || !ev.data) return <ErrorBox error={ev.error ?? new ApiError(404, 'not_found', '')} onRetry={ev.reload} />;
  const e = ev.data;
  const onSale = e.status === 'on_sale' && !e.sold_out && now >= e.sale_start && now < e.sale_end;
  const before = now < e.sale_start;
  // The waiting room may open before the sale: let fans take a place (the server says when it opens).
  const canBook = onSale || (e.waiting_room.enabled && before && !e.sold_out);
  const book = () => {
    if (!me) {
      navigate(`/login?next=${encodeURIComponent(`/events/${e.id}`)}`);
      return;
    }
    if (e.waiting_room.enabled && !admissionFor(e.id)) navigate(`/events/${e.id}/queue`);
    else navigate(`/events/${e.id}/seats`);
  };
  return (
    <Page title={e.title}>
      <div class="detail">
        <div class="detail-main">
          <p>
            <span class="chip">{t(`cat.${e.category}`)}</span> <StatusBadge status={e.status} soldOut={e.sold_out} />
          </p>
          {e.artist && <p class="lead">{e.artist}</p>}
          <dl class="facts">
            <dt>{t('detail.when')}</dt>
            <dd>
              {formatDateTime(e.performance_start, l)} – {formatDateTime(e.performance_end, l)}
            </dd>
            <dt>{t('detail.venue')}</dt>
            <dd>{e.venue?.name || t('detail.noVenue')}</dd>
            <dt>{t('detail.sale')}</dt>
            <dd>
              {formatDateTime(e.sale_start, l)} – {formatDateTime(e.sale_end, l)}
            </dd>
          </dl>
          {e.description && <p class="description">{e.description}</p>}
          <h2>{t('detail.prices')}</h2>
          <table class="prices">
            <tbody>
              {e.ticket_types.map((tt) => (
                <tr key={tt.id}>
                  <th scope="row">{tt.name}</th>
                  <td>{tt.kind === 'general_admission' ? t('seats.ga') : tt.category}</td>
                  <td>
                    <Price amount={tt.price} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="muted">{t('detail.limit', { n: e.per_user_limit })}</p>
        </div>
        <aside class="detail-side card" aria-label={t('detail.book')}>
          {before && (
            <p>
              {t('detail.countdown')}
              <br />
              <strong class="big">
                <CountdownText target={e.sale_start} onDone={ev.reload} />
              </strong>
            </p>
          )}
          {onSale && (
            <p>
              {t('detail.closesIn')} <CountdownText target={e.sale_end} />
            </p>
          )}
          {e.waiting_room.enabled && <p class="muted">{t('detail.waitingRoom')}</p>}
          {canBook ? (
            <button type="button" class="primary wide" onClick={book} data-testid="book">
              {!me ? t('detail.signInToBook') : e.waiting_room.enabled ? t('detail.joinQueue') : t('detail.book')}
            </button>
          ) : (
            <p class="muted">{e.sold_out ? t('status.sold_out') : t('detail.notOnSale')}</p>
          )}
          <p class="muted small">{formatDate(e.sale_start, l)}</p>
        </aside>
      </div>
    </Page>
  );
}
