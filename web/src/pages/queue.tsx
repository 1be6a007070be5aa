// The waiting room: position, people ahead, ETA, live over WebSocket (SSE / polling fallback), with
// the connection state always on screen. Admission stores the signed token and moves on to seats.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { formatEta } from '../format';
import { t } from '../i18n';
import { QueueChannel, type ConnState } from '../live';
import { navigate } from '../router';
import { api, saveAdmission } from '../session';
import type { EventDetail, QueueStanding } from '../types';
import { ErrorBox, Loading, Page, useAsync, useLang, useValue } from '../ui';

function ConnBadge({ ch }: { ch: QueueChannel }) {
  useLang();
  const s: ConnState = useValue(ch.state);
  return (
    <p class="conn" data-state={s} data-testid="conn-state" role="status" aria-live="polite">
      <span class="dot" aria-hidden="true" /> {t(`conn.${s}`)}
    </p>
  );
}

export function QueuePage({ id }: { id: string }) {
  const l = useLang();
  const ev = useAsync(() => api.get<EventDetail>(`/api/v1/events/${encodeURIComponent(id)}`, { auth: false }), [id]);
  const [standing, setStanding] = useState<QueueStanding | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  const chRef = useRef<QueueChannel | null>(null);
  if (!chRef.current) {
    chRef.current = new QueueChannel({
      eventId: id,
      onStanding: (s) => {
        setStanding(s);
        setErr(null);
        if (s.state === 'admitted' && s.admissionToken) {
          saveAdmission(id, { token: s.admissionToken, expiresAt: s.sessionExpiresAt ?? Date.now() + 600_000 });
          setTimeout(() => navigate(`/events/${id}/seats`, true), 800);
        }
      },
      onError: setErr,
    });
  }
  useEffect(() => {
    const ch = chRef.current!;
    void ch.start();
    return () => ch.stop();
  }, [id]);
  const leave = async () => {
    chRef.current?.stop();
    await api.del(`/api/v1/events/${encodeURIComponent(id)}/queue`).catch(() => undefined);
    navigate(`/events/${id}`);
  };
  const eta = formatEta(standing?.etaSeconds ?? null, l);
  return (
    <Page title={`${t('queue.title')}${ev.data ? ` · ${ev.data.title}` : ''}`}>
      <ConnBadge ch={chRef.current} />
      <ErrorBox error={err} />
      {!standing && !err && <Loading />}
      {standing?.state === 'waiting' && (
        <div class="card queue" data-testid="queue-waiting">
          <p>{t('queue.position')}</p>
          <p class="huge" data-testid="queue-position">
            {standing.position ?? '—'}
          </p>
          <p data-testid="queue-ahead">{t('queue.ahead', { n: standing.peopleAhead ?? 0 })}</p>
          <p>
            {t('queue.eta')}: <strong data-testid="queue-eta">{standing.paused ? '—' : (eta ?? t('queue.etaUnknown'))}</strong>
          </p>
          {standing.paused && <p class="notice">{t('queue.paused')}</p>}
          <progress max={Math.max(1, (standing.position ?? 1) + 10)} value={10} aria-hidden="true" />
          <p class="muted">{t('queue.keepOpen')}</p>
          <button type="button" class="secondary" onClick={() => void leave()}>
            {t('queue.leave')}
          </button>
        </div>
      )}
      {standing?.state === 'admitted' && (
        <div class="card queue" role="alert" data-testid="queue-admitted">
          <p class="big">{t('queue.admitted')}</p>
          <a class="button primary" href={`/events/${id}/seats`}>
            {t('seats.title')}
          </a>
        </div>
      )}
      {standing?.state === 'closed' && <p class="notice">{t('queue.closed')}</p>}
    </Page>
  );
}
