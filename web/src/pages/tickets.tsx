// My tickets with QR codes (the QR endpoint needs the bearer token, so it is fetched and inlined as
// an image blob) and the list of my reservations.
import { useEffect, useState } from 'preact/hooks';
import { formatDateTime } from '../format';
import { t } from '../i18n';
import { api } from '../session';
import type { Reservation, Ticket } from '../types';
import { ErrorBox, Loading, Page, Price, useAsync, useLang } from '../ui';

function Qr({ url, code }: { url: string; code: string }) {
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    let obj: string | null = null;
    let live = true;
    api
      .get<string>(url, { raw: true })
      .then((svg) => {
        if (!live) return;
        obj = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
        setSrc(obj);
      })
      .catch(() => setSrc(null));
    return () => {
      live = false;
      if (obj) URL.revokeObjectURL(obj);
    };
  }, [url]);
  return src ? <img class="qr" src={src} alt={`QR ${code}`} width={160} height={160} data-testid="ticket-qr" /> : <div class="qr placeholder" aria-hidden="true" />;
}

export function TicketsPage() {
  const l = useLang();
  const tickets = useAsync(() => api.get<{ items: Ticket[] }>('/api/v1/tickets'), []);
  return (
    <Page title={t('tickets.title')}>
      <ErrorBox error={tickets.error} onRetry={tickets.reload} />
      {tickets.loading && <Loading />}
      {tickets.data && tickets.data.items.length === 0 && <p class="empty">{t('tickets.empty')}</p>}
      <ul class="grid">
        {(tickets.data?.items ?? []).map((tk) => (
          <li class="card ticket" key={tk.code} data-testid="ticket">
            <Qr url={tk.qrUrl} code={tk.code} />
            <div>
              <h2>{tk.label}</h2>
              <p>
                {t('tickets.code')}: <code>{tk.code}</code>
              </p>
              <p class="muted">{formatDateTime(tk.issuedAt, l)}</p>
              {tk.checkedInAt && <p class="badge">{t('tickets.checkedIn')}</p>}
              <a href={`/reservations/${tk.reservationId}`}>{t('res.detail')}</a>
            </div>
          </li>
        ))}
      </ul>
      <p>
        <a href="/reservations">{t('me.reservations')}</a>
      </p>
    </Page>
  );
}

export function ReservationsPage() {
  const l = useLang();
  const list = useAsync(() => api.get<{ items: Reservation[] }>('/api/v1/reservations'), []);
  return (
    <Page title={t('me.reservations')}>
      <ErrorBox error={list.error} onRetry={list.reload} />
      {list.loading && <Loading />}
      <table class="table">
        <tbody>
          {(list.data?.items ?? []).map((r) => (
            <tr key={r.id}>
              <td>
                <a href={`/reservations/${r.id}`}>{r.items.map((i) => i.label).join(', ')}</a>
              </td>
              <td>{t(`res.status.${r.status}`)}</td>
              <td>
                <Price amount={r.amount} />
              </td>
              <td class="muted">{formatDateTime(r.createdAt, l)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}
