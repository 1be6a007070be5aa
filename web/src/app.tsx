// Layout (header with language switch, skip link) and the route table.
import { useEffect } from 'preact/hooks';
import { lang, setLang, t } from './i18n';
import { location, match, navigate } from './router';
import { loadUser, logout, sessionNotice, user } from './session';
import { ErrorBox, Page, useLang, useValue } from './ui';
import { ApiError } from './api';
import { EventDetailPage, EventList } from './pages/events';
import { GoogleSignInPage, LoginPage, ProfilePage, SignupPage } from './pages/auth';
import { ConfirmationPage, PaymentFailPage, PaymentSuccessPage, ReservationPage, SeatsPage } from './pages/buy';
import { ReservationsPage, TicketsPage } from './pages/tickets';
import { QueuePage } from './pages/queue';
import {
  AdminCheckin,
  AdminDashboard,
  AdminEventEdit,
  AdminEventNew,
  AdminEvents,
  AdminNews,
  AdminNotifications,
  AdminQueue,
  AdminReservations,
} from './pages/admin';
import type { JSX } from 'preact';

type Render = (p: Record<string, string>) => JSX.Element;
interface Route {
  path: string;
  render: Render;
  auth?: boolean;
}

const routes: Route[] = [
  { path: '/', render: () => <EventList /> },
  { path: '/events/:id', render: (p) => <EventDetailPage id={p.id} /> },
  { path: '/events/:id/queue', render: (p) => <QueuePage id={p.id} />, auth: true },
  { path: '/events/:id/seats', render: (p) => <SeatsPage id={p.id} />, auth: true },
  { path: '/reservations', render: () => <ReservationsPage />, auth: true },
  { path: '/reservations/:id', render: (p) => <ReservationPage id={p.id} />, auth: true },
  { path: '/reservations/:id/done', render: (p) => <ConfirmationPage id={p.id} />, auth: true },
  { path: '/payments/success', render: () => <PaymentSuccessPage />, auth: true },
  { path: '/payments/fail', render: () => <PaymentFailPage /> },
  { path: '/tickets', render: () => <TicketsPage />, auth: true },
  { path: '/login', render: () => <LoginPage /> },
  { path: '/signup', render: () => <SignupPage /> },
  { path: '/auth/google', render: () => <GoogleSignInPage /> },
  { path: '/me', render: () => <ProfilePage />, auth: true },
  { path: '/admin', render: () => <AdminDashboard />, auth: true },
  { path: '/admin/events', render: () => <AdminEvents />, auth: true },
  { path: '/admin/events/new', render: () => <AdminEventNew />, auth: true },
  { path: '/admin/events/:id', render: (p) => <AdminEventEdit id={p.id} />, auth: true },
  { path: '/admin/news', render: () => <AdminNews />, auth: true },
  { path: '/admin/reservations', render: () => <AdminReservations />, auth: true },
  { path: '/admin/queues/:id', render: (p) => <AdminQueue id={p.id} />, auth: true },
  { path: '/admin/notifications', render: () => <AdminNotifications />, auth: true },
  { path: '/admin/checkin', render: () => <AdminCheckin />, auth: true },
];

function Header() {
  const l = useLang();
  const me = useValue(user);
  return (
    <header class="site-header">
      <a class="skip" href="#main">
        {t('nav.skip')}
      </a>
      <a href="/" class="brand">
        {t('brand')}
      </a>
      <nav aria-label="main">
        <a href="/">{t('nav.events')}</a>
        {me && <a href="/tickets">{t('nav.tickets')}</a>}
        {me && <a href="/me">{t('nav.me')}</a>}
        {me?.role === 'admin' && <a href="/admin">{t('nav.admin')}</a>}
        {!me && <a href="/login">{t('nav.login')}</a>}
        {!me && <a href="/signup">{t('nav.signup')}</a>}
        {me && (
          <button type="button" class="link" onClick={() => void logout().then(() => navigate('/'))}>
            {t('nav.logout')}
          </button>
        )}
        <button type="button" class="lang" onClick={() => setLang(l === 'ko' ? 'en' : 'ko')} lang={l === 'ko' ? 'en' : 'ko'} data-testid="lang-switch">
          {t('lang.switch')}
        </button>
      </nav>
    </header>
  );
}

export function App() {
  useLang();
  const path = useValue(location);
  const me = useValue(user);
  const notice = useValue(sessionNotice);
  useEffect(() => {
    document.documentElement.lang = lang.get();
    void loadUser();
  }, []);
  const pathname = path.split('?')[0];
  // Focus the new page's heading so screen readers and keyboard users land on it.
  useEffect(() => {
    document.getElementById('page-title')?.focus({ preventScroll: true });
  }, [pathname]);
  let body: JSX.Element | null = null;
  for (const r of routes) {
    const p = match(r.path, pathname);
    if (!p) continue;
    if (r.auth && !me && !localStorage.getItem('tiketi.session')) {
      queueMicrotask(() => navigate(`/login?next=${encodeURIComponent(path)}`, true));
      return null;
    }
    body = r.render(p);
    break;
  }
  return (
    <>
      <Header />
      <main id="main">
        {notice && <ErrorBox error={new ApiError(401, notice, '')} />}
        {body ?? (
          <Page title={t('notfound.title')}>
            <a href="/">{t('common.home')}</a>
          </Page>
        )}
      </main>
      <footer class="site-footer muted small">Tiketi</footer>
    </>
  );
}
