// Browser end-to-end tests of the web UI against the real binary (embedded shape: SQLite +
// in-process coordination, the built UI served by `tiketi serve --web-root`).
// Drives Debian's /usr/bin/chromium through playwright-core (never a downloaded browser).
//
//   TIKETI_BIN=build/release/src/app/tiketi node tests/e2e/run.mjs
//
// Journeys (each fails loudly; screenshots of each main page go to tests/e2e/artifacts/):
//  - sign-up with field errors in words, browse/search/language switch, event detail, seat map;
//  - the complete purchase: hold with countdown -> points charged through the gateway simulator's
//    hosted checkout page -> points + card for the seats -> confirmation -> my tickets with QR SVGs
//    -> the email read from <data-dir>/outbox/*.eml (recipient, title, codes) -> reservation detail
//    -> cancel with the refund (points and card) shown, points back in the history;
//  - two browsers racing for one seat: exactly one wins, the other is told in words, sees the seat
//    taken on its live map (WebSocket when the server has /seats/ws, else polling) and picks another;
//  - a waiting room (one shopper slot): position, people ahead, ETA, connection state, a reload keeps
//    the place, admission goes on to seats and the hold carries X-Admission-Token;
//  - the admin creates an event (sale start 25 s ahead), seating, ticket types, publishes; a fan sees
//    the countdown and then the event on sale without reloading;
//  - hold expiry: a 1-minute hold (the shortest per-event hold_minutes) taken first, watched to zero
//    from inside the page, the expiry said in words, the seat available again.
//  - Google sign-in: no button where /providers says google=false; on a second, short-lived server
//    configured against tests/e2e/fake_oidc.py (a stdlib OIDC provider that approves at once): /me ->
//    login -> "Continue with Google" -> provider -> callback -> /auth/google#code=… -> exchange ->
//    back on /me signed in (fragment gone, code never sent in a URL); the spent code replayed, an
//    #error= and a forged callback each shown in words.
//  - profile: name and language saved on the server (the UI follows the language); wrong password;
//  - GA quantity (clamped to the limit), points-only checkout (no gateway page), sold out in words;
//  - the admin console: dashboard figures per on-sale event (and a new hold showing up live),
//    reservations search + cancel, the delivery log, check-in by keyboard, news (seen by fans),
//    waiting-room pause / rate / resume, a draft deleted, the saved plan shown once published;
//  - the waiting room over SSE (WebSocket removed), over polling (both removed) and after a dropped
//    socket (offline shown, live again, same place, no second join), at 375 px;
//  - every main page (fan and admin) at 375 px: no sideways scrolling, seats finger-sized, every
//    form control labelled in words; a keyboard-only seat pick (Tab, Space, Enter, focus ring);
//  - the event list paged through its cursor ("더 보기") to the end, no gaps or repeats;
//  - errors in words: rate limited (429 + Retry-After), network down, not found, ended session,
//    token expired (silent refresh; a refused refresh in words), hold_expired on a stale page's payment.
// E2E_ONLY=<regex> runs only the matching journeys (for working on one; never in CI).
// The run bounds itself (E2E_BUDGET_MS, default 230 s). Exit status 0 only if every journey passed.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createServer as createNetServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
// playwright-core is pinned in web/package.json (one install for the UI and its tests).
const { chromium } = createRequire(join(root, 'web/package.json'))('playwright-core');

const BIN = resolve(root, process.env.TIKETI_BIN ?? 'build/release/src/app/tiketi');
const WEB_ROOT = resolve(process.env.E2E_WEB_ROOT ?? join(root, 'web/dist'));
const ARTIFACTS = join(here, 'artifacts');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const STEP_TIMEOUT = 15_000;
// The whole run stops by itself: every journey has its own bounds, and this is the last resort.
const RUN_BUDGET_MS = Number(process.env.E2E_BUDGET_MS ?? 230_000);

const results = [];
let server = null;
let browser = null;
const work = mkdtempSync(join(tmpdir(), 'tiketi-e2e-'));
const dataDir = join(work, 'data');
const runStarted = Date.now();

function log(...a) {
  console.log('[e2e]', ...a);
}

function fail(msg) {
  throw new Error(msg);
}

async function startServer() {
  mkdirSync(dataDir, { recursive: true });
  const help = spawnSync(BIN, ['--help'], { encoding: 'utf8' }).stdout ?? '';
  if (/\bseed\b/.test(help)) {
    const r = spawnSync(BIN, ['seed', '--demo', '--data-dir', dataDir, '--log-level', 'warn'], { encoding: 'utf8' });
    log('seed --demo:', r.status === 0 ? 'ok' : `exit ${r.status} ${r.stderr.slice(0, 300)}`);
  }
  const pwFile = join(work, 'admin-password');
  writeFileSync(pwFile, 'e2e-admin-password-1\n');
  const admin = spawnSync(
    BIN,
    ['admin', 'create', '--email', 'admin@e2e.test', '--name', 'E2E Admin', '--password-file', pwFile, '--data-dir', dataDir, '--log-level', 'warn'],
    { encoding: 'utf8' },
  );
  if (admin.status !== 0) fail(`tiketi admin create failed: ${admin.stderr}`);

  const started = await spawnTiketi({ listen: '127.0.0.1:0', dir: dataDir, logName: 'server.log' });
  server = started.proc;
  return `http://127.0.0.1:${started.port}`;
}

// `tiketi serve` with the built UI; resolves with the port once it logs "ready". Its output goes to
// artifacts/<logName> when the run ends.
async function spawnTiketi({ listen, dir, logName, env = {} }) {
  const proc = spawn(
    BIN,
    ['serve', '--listen', listen, '--data-dir', dir, '--web-root', WEB_ROOT, '--log-level', 'info', '--threads', '1'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  const logFile = [];
  proc.stderr.on('data', (d) => logFile.push(d.toString()));
  process.on('exit', () => writeFileSync(join(ARTIFACTS, logName), logFile.join('\n')));
  const port = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error('tiketi serve did not print its port within 20 s')), 20_000);
    const rl = createInterface({ input: proc.stdout });
    let readyPort = null;
    rl.on('line', (line) => {
      logFile.push(line);
      try {
        const j = JSON.parse(line);
        if (j.msg === 'listening' && j.port) readyPort = j.port;
        if (j.msg === 'ready' && readyPort) {
          clearTimeout(timer);
          res(readyPort);
        }
      } catch {
        // not JSON
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`tiketi serve exited early (${code}): ${logFile.join('').slice(-2000)}`));
    });
  });
  return { proc, port };
}

// Google sign-in needs its own server: the callback URL registered with the provider carries the
// port, so it listens on a port picked here (bound to port 0, read back, released), with Google
// configured against tests/e2e/fake_oidc.py (a stdlib OpenID Connect provider that approves at once).
const GOOGLE = { clientId: 'e2e.apps.googleusercontent.com', clientSecret: 'e2e-google-secret', email: 'google.fan@e2e.test', name: '구글 팬' };
const extraProcs = []; // stopped at the end of the run (and by the watchdog)

function freePort() {
  return new Promise((res, rej) => {
    const srv = createNetServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

async function startGoogleStack() {
  const provider = spawn(
    'python3',
    [join(here, 'fake_oidc.py'), '--client-id', GOOGLE.clientId, '--client-secret', GOOGLE.clientSecret, '--email', GOOGLE.email, '--name', GOOGLE.name],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  extraProcs.push(provider);
  const providerErr = [];
  provider.stderr.on('data', (d) => providerErr.push(d.toString()));
  const issuer = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`fake OIDC provider not ready in 20 s: ${providerErr.join('')}`)), 20_000);
    createInterface({ input: provider.stdout }).once('line', (line) => {
      clearTimeout(timer);
      try {
        res(JSON.parse(line).issuer);
      } catch {
        rej(new Error(`fake OIDC provider said: ${line}`));
      }
    });
    provider.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`fake OIDC provider exited (${code}): ${providerErr.join('')}`));
    });
  });
  const dir = join(work, 'google-data');
  mkdirSync(dir, { recursive: true });
  let lastErr = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      const started = await spawnTiketi({
        listen: `127.0.0.1:${port}`,
        dir,
        logName: 'server-google.log',
        env: {
          TIKETI_AUTH__GOOGLE_CLIENT_ID: GOOGLE.clientId,
          TIKETI_AUTH__GOOGLE_CLIENT_SECRET: GOOGLE.clientSecret,
          TIKETI_AUTH__GOOGLE_REDIRECT_URI: `http://127.0.0.1:${port}/api/v1/auth/google/callback`,
          TIKETI_AUTH__GOOGLE_ISSUER: issuer,
        },
      });
      extraProcs.push(started.proc);
      return { base: `http://127.0.0.1:${port}`, issuer, proc: started.proc, provider };
    } catch (e) {
      lastErr = e; // the port was taken in between: pick another
    }
  }
  throw lastErr;
}

function stopProc(p) {
  return new Promise((r) => {
    if (!p || p.exitCode !== null || p.signalCode !== null) return r();
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      r();
    }, 5_000);
    p.on('exit', () => {
      clearTimeout(t);
      r();
    });
    p.kill('SIGTERM');
  });
}

async function apiRaw(base, method, path, body, token, headers = {}) {
  const res = await fetch(base + path, {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  return { status: res.status, data, text };
}

async function api(base, method, path, body, token, headers = {}) {
  const r = await apiRaw(base, method, path, body, token, headers);
  if (r.status >= 400) fail(`${method} ${path} -> ${r.status} ${r.text.slice(0, 500)}`);
  return r.data;
}

let adminToken = null;
async function adminLogin(base) {
  if (!adminToken) {
    adminToken = (await api(base, 'POST', '/api/v1/auth/login', { email: 'admin@e2e.test', password: 'e2e-admin-password-1' })).accessToken;
  }
  return adminToken;
}

// A fan made through the API (journeys that are not about sign-up start signed in).
async function signupApi(base, email, name) {
  const s = await api(base, 'POST', '/api/v1/auth/signup', { email, name, password: 'fan-password-123' });
  if (!s.accessToken || !s.refreshToken) fail(`signup answered without tokens: ${JSON.stringify(s).slice(0, 200)}`);
  return s;
}

// A seated event (two sections A and B, 3 rows x 8 seats, row 1 VIP, rows 2-3 R) made through the
// admin API and published. Options: holdMinutes, waitingRoom, saleStart.
async function makeEvent(base, title, opts = {}) {
  const accessToken = await adminLogin(base);
  const now = Date.now();
  const day = 86_400_000;
  const venue = await api(base, 'POST', '/api/v1/admin/venues', { name: 'E2E 아트홀', city: '서울' }, accessToken);
  const ev = await api(
    base,
    'POST',
    '/api/v1/admin/events',
    {
      title,
      venue_id: venue.id,
      category: 'concert',
      artist: 'E2E Band',
      description: 'End-to-end test event',
      sale_start: opts.saleStart ?? now - 60_000,
      sale_end: now + 7 * day,
      performance_start: now + 8 * day,
      performance_end: now + 8 * day + 3 * 3_600_000,
      per_user_limit: 4,
      hold_minutes: opts.holdMinutes ?? 10,
      waiting_room: opts.waitingRoom ?? { enabled: false },
    },
    accessToken,
  );
  await api(
    base,
    'PUT',
    `/api/v1/admin/events/${ev.id}/seating`,
    {
      categories: [{ code: 'VIP', name: 'VIP' }, { code: 'R', name: 'R' }],
      sections: ['A', 'B'].map((code, i) => ({
        code,
        name: `${code}구역`,
        rows: 3,
        seats_per_row: 8,
        x: i * 120,
        y: 0,
        categories: [{ from_row: 1, to_row: 1, category: 'VIP' }, { from_row: 2, to_row: 3, category: 'R' }],
      })),
    },
    accessToken,
  );
  await api(base, 'POST', `/api/v1/admin/events/${ev.id}/ticket-types`, { name: 'VIP석', kind: 'seated', category: 'VIP', price: 165000 }, accessToken);
  await api(base, 'POST', `/api/v1/admin/events/${ev.id}/ticket-types`, { name: 'R석', kind: 'seated', category: 'R', price: 99000 }, accessToken);
  const pub = await api(base, 'POST', `/api/v1/admin/events/${ev.id}/publish`, {}, accessToken);
  const want = opts.saleStart && opts.saleStart > Date.now() ? 'scheduled' : 'on_sale';
  if (pub.status !== want) fail(`published event is ${pub.status}, expected ${want}`);
  return ev.id;
}

// Polls fn() until it returns a truthy value (bounded).
async function until(what, fn, timeoutMs = 10_000, everyMs = 200) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function seatStatus(base, eventId, seatId) {
  const seats = await api(base, 'GET', `/api/v1/events/${eventId}/seats`);
  const s = seats.seats.find((x) => x.id === seatId);
  if (!s) fail(`seat ${seatId} not in GET /seats`);
  return s.status;
}

// Is GET /events/{id}/seats/ws routed on this build? (A plain GET: 404 "route not found" when not.)
async function seatsWsRouted(base, eventId) {
  const r = await apiRaw(base, 'GET', `/api/v1/events/${eventId}/seats/ws`);
  return !(r.status === 404 && /route not found/i.test(r.text));
}

const pageErrors = [];
async function newFan(base, session, { lang = 'ko' } = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: lang === 'ko' ? 'ko-KR' : 'en-US' });
  ctx.setDefaultTimeout(STEP_TIMEOUT);
  if (session) {
    await ctx.addInitScript((tokens) => {
      if (!localStorage.getItem('tiketi.session')) localStorage.setItem('tiketi.session', JSON.stringify(tokens));
    }, { accessToken: session.accessToken, refreshToken: session.refreshToken });
  }
  const page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('dialog', (d) => void d.accept());
  return { ctx, page };
}

// The decoded text of an .eml from the embedded outbox: headers (encoded words decoded) and every
// base64 body part.
function readEml(file) {
  const raw = readFileSync(file, 'utf8');
  const decodeWords = (h) => h.replace(/=\?UTF-8\?B\?([^?]*)\?=/gi, (_, b) => Buffer.from(b, 'base64').toString('utf8'));
  const headerEnd = raw.indexOf('\r\n\r\n');
  const headers = decodeWords(raw.slice(0, headerEnd).replace(/\r\n[ \t]+/g, ' '));
  const parts = [];
  const re = /Content-Transfer-Encoding: base64\r\n\r\n([A-Za-z0-9+/=\r\n]+)/g;
  for (const m of raw.matchAll(re)) parts.push(Buffer.from(m[1].replace(/\s+/g, ''), 'base64').toString('utf8'));
  const header = (name) => (new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(headers) ?? [])[1] ?? '';
  return { raw, headers, header, text: parts.join('\n') };
}

function outboxMails() {
  const dir = join(dataDir, 'outbox');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.eml'))
    .map((f) => ({ file: f, ...readEml(join(dir, f)) }));
}

// A general-admission event (no seating plan): one GA ticket type with `quota` tickets.
async function makeGaEvent(base, title, { quota = 3, price = 20_000, waitingRoom } = {}) {
  const accessToken = await adminLogin(base);
  const now = Date.now();
  const day = 86_400_000;
  const venue = await api(base, 'POST', '/api/v1/admin/venues', { name: 'E2E 스탠딩홀', city: '서울' }, accessToken);
  const ev = await api(
    base,
    'POST',
    '/api/v1/admin/events',
    {
      title,
      venue_id: venue.id,
      category: 'festival',
      artist: 'E2E GA',
      description: 'General admission',
      sale_start: now - 60_000,
      sale_end: now + 7 * day,
      performance_start: now + 8 * day,
      performance_end: now + 8 * day + 3_600_000,
      per_user_limit: 4,
      hold_minutes: 10,
      waiting_room: waitingRoom ?? { enabled: false },
    },
    accessToken,
  );
  const tt = await api(base, 'POST', `/api/v1/admin/events/${ev.id}/ticket-types`, { name: '스탠딩', kind: 'general_admission', quota, price }, accessToken);
  await api(base, 'POST', `/api/v1/admin/events/${ev.id}/publish`, {}, accessToken);
  return { id: ev.id, ticketTypeId: tt.id };
}

// Phone width: the page must not scroll sideways. On failure, names the widest offenders.
async function assertNoOverflow(page, what) {
  const r = await page.evaluate(() => {
    const w = document.documentElement.clientWidth;
    const sw = document.documentElement.scrollWidth;
    const wide = [];
    if (sw > w) {
      for (const el of document.querySelectorAll('body *')) {
        const b = el.getBoundingClientRect();
        if (b.right > w + 1 && b.width > 0) wide.push(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')} right=${Math.round(b.right)}`);
        if (wide.length > 6) break;
      }
    }
    return { w, sw, wide };
  });
  if (r.sw > r.w) fail(`${what}: the page scrolls sideways at ${r.w} px (scrollWidth ${r.sw}): ${r.wide.join(', ')}`);
}

// Every visible form control has an accessible name in words (a <label> with text, aria-label or
// aria-labelledby; a placeholder does not count).
async function assertLabelled(page, what) {
  const bad = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.type !== 'hidden' && el.getClientRects().length > 0)
      .filter((el) => {
        // The label's own words (not the control's: a <select> inside its <label> brings its options).
        const own = (l) => [...l.childNodes].filter((n) => n !== el && !(n.contains && n.contains(el)) && !(n.matches && n.matches('input, select, textarea'))).map((n) => n.textContent).join('').trim();
        const byLabel = [...(el.labels ?? [])].some((l) => own(l).length > 0);
        const byAria = (el.getAttribute('aria-label') ?? '').trim().length > 0;
        const byRef = (el.getAttribute('aria-labelledby') ?? '').split(/\s+/).some((id) => id && (document.getElementById(id)?.textContent ?? '').trim().length > 0);
        return !byLabel && !byAria && !byRef;
      })
      .map((el) => `${el.tagName.toLowerCase()}[name=${el.getAttribute('name')}]`),
  );
  if (bad.length) fail(`${what}: form controls without a label: ${bad.join(', ')}`);
}

// Presses Tab until the focused element matches `selector` (at most `max` presses).
async function tabTo(page, selector, max = 80) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((sel) => document.activeElement?.matches(sel) ?? false, selector)) return;
  }
  fail(`Tab never reached ${selector} in ${max} presses (focus is on ${await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 120))})`);
}

// A fan signs in through the login form (the admin console journeys).
async function loginForm(page, base, email, password, next) {
  await page.goto(`${base}/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel('이메일').fill(email);
  await page.getByLabel('비밀번호').fill(password);
  await page.locator('form button[type=submit]').click();
  await page.waitForURL(`${base}${next}`);
}

let currentPage = null;
let mainPage = null;
const afterJourney = []; // browser contexts a journey opened: closed after its failure screenshot
// E2E_ONLY=<regex> runs only the journeys whose names match (for working on one; never in CI).
const ONLY = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY) : null;
async function journey(name, fn) {
  if (ONLY && !ONLY.test(name)) {
    log(`SKIP ${name} (E2E_ONLY)`);
    return;
  }
  const started = Date.now();
  currentPage = mainPage;
  try {
    await fn();
    results.push({ name, ok: true, ms: Date.now() - started });
    log(`PASS ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push({ name, ok: false, ms: Date.now() - started, error: String(e?.stack ?? e) });
    await currentPage?.screenshot({ path: join(ARTIFACTS, `FAILED-${name.replace(/[^a-z0-9]+/gi, '-')}.png`), fullPage: true }).catch(() => {});
    log(`FAIL ${name}: ${e?.stack ?? e}`);
  } finally {
    for (const close of afterJourney.splice(0)) await close().catch(() => {});
    currentPage = mainPage;
  }
}

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function main() {
  if (!existsSync(BIN)) fail(`TIKETI_BIN not found: ${BIN}`);
  if (!existsSync(join(WEB_ROOT, 'index.html'))) fail('web/dist/index.html missing: run scripts/build-web first');
  if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} missing: apt-get install -y chromium`);
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });

  const base = await startServer();
  log('server at', base);
  const title = `E2E 콘서트 ${Date.now()}`;
  const eventId = await makeEvent(base, title);
  log('event', eventId);
  // The Google sign-in stack (fake provider + a second server) starts now, in the background.
  const googleStack = startGoogleStack();
  googleStack.catch(() => {}); // reported by its journey

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });

  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ko-KR' });
  ctx.setDefaultTimeout(STEP_TIMEOUT);
  const page = await ctx.newPage();
  currentPage = mainPage = page;
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('dialog', (d) => void d.accept());

  // Hold expiry needs the shortest hold the API allows (hold_minutes = 1, per event): the hold is
  // taken first and watched to the end after the other journeys.
  const expiry = {};
  await journey('hold expiry (1/2): a 1-minute hold with its countdown running', async () => {
    expiry.eventId = await makeEvent(base, `E2E 만료 ${Date.now()}`, { holdMinutes: 1 });
    expiry.session = await signupApi(base, 'expiry@e2e.test', '만료 테스트');
    const { ctx: ectx, page: ep } = await newFan(base, expiry.session);
    expiry.ctx = ectx;
    expiry.page = ep;
    await ep.goto(`${base}/events/${expiry.eventId}/seats`);
    await ep.locator('[data-seat="A-1-1"][data-status=available]').click();
    await ep.getByRole('button', { name: '선택 좌석 선점하기' }).click();
    await ep.waitForURL(/\/reservations\/[^/]+$/);
    expiry.reservationId = ep.url().split('/').pop();
    const c = (await ep.getByTestId('hold-countdown').innerText()).trim();
    if (!/^(00:[0-5]\d|01:00)$/.test(c)) fail(`a 1-minute hold shows ${c}`);
    const r = await api(base, 'GET', `/api/v1/reservations/${expiry.reservationId}`, undefined, expiry.session.accessToken);
    expiry.expiresAt = r.expiresAt;
    if (r.status !== 'PENDING' || r.expiresAt - r.createdAt !== 60_000) fail(`hold: ${r.status}, ${r.expiresAt - r.createdAt} ms`);
    // GET /seats is a snapshot patched at each seat-feed tick (reservation.seat_feed_tick_ms, 200 ms):
    // a hold shows there within a tick, not necessarily on a read made at the same instant.
    await until('A-1-1 held on GET /seats', async () => (await seatStatus(base, expiry.eventId, 'A-1-1')) === 'held', 2_000, 100);
    await shot(ep, '20-hold-expiry-countdown');
    // Watch the countdown from inside the page while the other journeys run.
    await ep.evaluate(() => {
      window.__samples = [];
      setInterval(() => {
        const c = document.querySelector('[data-testid=hold-countdown]');
        const x = document.querySelector('[data-testid=hold-expired]');
        window.__samples.push([Date.now(), c ? c.textContent.trim() : null, !!x]);
      }, 200);
    });
  });

  await journey('sign up (Korean UI, field errors in words)', async () => {
    await page.goto(`${base}/signup`);
    await page.getByRole('heading', { name: '회원가입' }).waitFor();
    // Too short a password: the API's field error is shown next to the field.
    await page.getByLabel('이름').fill('테스트 사용자');
    await page.getByLabel('이메일').fill('fan@e2e.test');
    await page.getByLabel('비밀번호').fill('short');
    await page.locator('form button[type=submit]').click();
    await page.locator('.error[data-code=validation_failed]').waitFor();
    await page.locator('#f-password-msg.field-error').waitFor();
    await shot(page, '01-signup-error');
    await page.getByLabel('비밀번호').fill('fan-password-123');
    await page.locator('form button[type=submit]').click();
    await page.waitForURL(`${base}/`);
    await page.getByRole('link', { name: '내 정보' }).waitFor();
  });

  await journey('browse events (search, filter, language switch)', async () => {
    await page.goto(`${base}/`);
    await page.getByRole('heading', { name: '공연 목록' }).waitFor();
    await page.getByPlaceholder('공연명 또는 아티스트').fill('E2E');
    await page.getByRole('button', { name: '검색' }).click();
    await page.waitForURL(/q=E2E/);
    await page.locator('.event-card', { hasText: title }).waitFor();
    const text = await page.locator('.event-card', { hasText: title }).innerText();
    if (!/₩\s?99,000/.test(text)) fail(`KRW price missing on the card: ${text}`);
    await shot(page, '02-events-ko');
    await page.getByTestId('lang-switch').click();
    await page.getByRole('heading', { name: 'Events' }).waitFor();
    await shot(page, '03-events-en');
    await page.getByTestId('lang-switch').click();
    await page.getByRole('heading', { name: '공연 목록' }).waitFor();
  });

  await journey('event detail (dates, venue, prices, sale status)', async () => {
    await page.locator('.event-card a', { hasText: title }).click();
    await page.waitForURL(`${base}/events/${eventId}`);
    await page.getByRole('heading', { name: title }).waitFor();
    await page.locator('.badge-on_sale').first().waitFor();
    const prices = await page.locator('table.prices').innerText();
    if (!prices.includes('VIP석') || !/165,000/.test(prices)) fail(`prices table: ${prices}`);
    await page.getByText('예매 마감까지').waitFor();
    await shot(page, '04-event-detail');
  });

  await journey('seat map renders from /seating and picks up to the limit', async () => {
    await page.getByRole('button', { name: '예매하기' }).click();
    await page.waitForURL(`${base}/events/${eventId}/seats`);
    const seats = page.locator('[data-testid=seatmap] rect.seat');
    await seats.first().waitFor();
    const n = await seats.count();
    if (n !== 48) fail(`expected 48 seats, got ${n}`);
    // Keyboard: focus a seat and press Enter / Space.
    await page.locator('[data-seat="A-1-1"]').focus();
    await page.keyboard.press('Enter');
    for (const id of ['A-1-2', 'A-1-3', 'A-1-4']) await page.locator(`[data-seat="${id}"]`).click();
    await page.locator('[data-seat="A-1-5"]').click(); // over the limit of 4
    await page.getByText('최대 4석까지 선택할 수 있습니다.').waitFor();
    const picked = await page.locator('[data-status=selected]').count();
    if (picked !== 4) fail(`expected 4 selected seats, got ${picked}`);
    await page.getByText('선택한 좌석 4/4').waitFor();
    await shot(page, '05-seat-map');
    // Keep two for the hold journey.
    await page.locator('[data-seat="A-1-3"]').click();
    await page.locator('[data-seat="A-1-4"]').click();
  });

  await journey('hold the picked seats: reservation with a visible countdown', async () => {
    await page.getByRole('button', { name: '선택 좌석 선점하기' }).click();
    await page.waitForURL(/\/reservations\/[^/]+$/);
    await page.getByTestId('reservation-status').waitFor();
    const status = await page.getByTestId('reservation-status').innerText();
    if (status.trim() !== '결제 대기') fail(`reservation status ${status}`);
    const c1 = await page.getByTestId('hold-countdown').innerText();
    if (!/^(09|10):\d\d$/.test(c1.trim())) fail(`countdown shows ${c1}`);
    await page.waitForFunction((prev) => document.querySelector('[data-testid=hold-countdown]')?.textContent !== prev, c1, { timeout: 5000 });
    await shot(page, '06-hold-checkout');
    // The held seats are no longer available to anyone (live status from /seats).
    const seats = await (await fetch(`${base}/api/v1/events/${eventId}/seats`)).json();
    const held = seats.seats.filter((x) => x.status === 'held').map((x) => x.id).sort();
    if (held.join() !== 'A-1-1,A-1-2') fail(`held seats: ${held.join()}`);
  });

  // The same fan goes on from the hold: points charged through the gateway's checkout page, then
  // points + card for the held seats, confirmation, tickets with QR codes, the email, cancel + refund.
  const buyer = { email: 'fan@e2e.test' };
  await journey('points charge through the gateway checkout page (test mode)', async () => {
    buyer.reservationUrl = page.url();
    if (!/\/reservations\/[^/]+$/.test(buyer.reservationUrl)) fail(`not on the reservation page: ${buyer.reservationUrl}`);
    buyer.reservationId = buyer.reservationUrl.split('/').pop();
    const p2 = await ctx.newPage();
    currentPage = p2;
    await p2.goto(`${base}/me`);
    await p2.getByTestId('points-balance').waitFor();
    if (!/₩\s?0\b/.test(await p2.getByTestId('points-balance').innerText())) fail('a new fan should have no points');
    await p2.locator('input[name=amount]').fill('50000');
    await p2.getByRole('button', { name: '충전', exact: true }).click();
    // The simulator's hosted page, clearly in test mode.
    await p2.waitForURL(/\/checkout\?/);
    await p2.getByText('TEST MODE').waitFor();
    if (!(await p2.content()).includes('50000')) fail('checkout page does not show the amount');
    await shot(p2, '11-gateway-checkout-points');
    await p2.getByRole('button', { name: 'Pay' }).click();
    await p2.waitForURL(`${base}/me`, { timeout: 15_000 });
    await p2.waitForFunction(() => /50,000/.test(document.querySelector('[data-testid=points-balance]')?.textContent ?? ''), null, { timeout: 10_000 });
    await p2.locator('[data-testid=points-history] li[data-kind=CHARGE]').first().waitFor();
    await p2.close();
    currentPage = page;
  });

  await journey('checkout: points + card through the gateway, confirmation page', async () => {
    await page.goto(buyer.reservationUrl);
    await page.getByTestId('hold-countdown').waitFor();
    const res = await page.evaluate(async (id) => {
      const t = JSON.parse(localStorage.getItem('tiketi.session'));
      const r = await fetch(`/api/v1/reservations/${id}`, { headers: { Authorization: `Bearer ${t.accessToken}` } });
      return r.json();
    }, buyer.reservationId);
    buyer.amount = res.amount;
    if (res.amount !== 330_000) fail(`2 VIP seats should cost 330,000, reservation says ${res.amount}`);
    await page.getByText('잔액: ₩50,000').waitFor();
    await page.getByLabel(/사용할 포인트/).fill('50000');
    await page.getByRole('button', { name: '₩280,000 결제하기' }).click();
    await page.waitForURL(/\/checkout\?/);
    await page.getByText('TEST MODE').waitFor();
    await shot(page, '12-gateway-checkout-card');
    await page.getByRole('button', { name: 'Pay' }).click();
    await page.waitForURL(`${base}/reservations/${buyer.reservationId}/done`, { timeout: 15_000 });
    await page.getByRole('heading', { name: '예매 완료' }).waitFor({ timeout: 20_000 });
    const st = (await page.getByTestId('reservation-status').innerText()).trim();
    if (st !== '예매 확정') fail(`confirmation shows ${st}`);
    await shot(page, '13-confirmation');
  });

  await journey('my tickets with QR codes (the SVG loads)', async () => {
    const qrResponses = [];
    page.on('response', (r) => {
      if (/\/api\/v1\/tickets\/[^/]+\/qr\.svg$/.test(new URL(r.url()).pathname)) qrResponses.push(r);
    });
    await page.getByRole('link', { name: '내 티켓 보기' }).click();
    await page.waitForURL(`${base}/tickets`);
    await page.getByTestId('ticket').nth(1).waitFor();
    const n = await page.getByTestId('ticket').count();
    if (n !== 2) fail(`expected 2 tickets, got ${n}`);
    await page.getByTestId('ticket-qr').nth(1).waitFor();
    const sizes = await page.$$eval('img[data-testid=ticket-qr]', (imgs) => imgs.map((i) => (i.complete ? i.naturalWidth : 0)));
    if (sizes.length !== 2 || sizes.some((w) => !(w > 0))) fail(`QR images did not load: ${sizes}`);
    if (qrResponses.length < 2) fail(`expected 2 QR requests, saw ${qrResponses.length}`);
    for (const r of qrResponses) {
      const ct = r.headers()['content-type'] ?? '';
      const body = await r.text();
      if (r.status() !== 200 || !ct.includes('image/svg+xml') || !body.includes('<svg')) fail(`QR response ${r.status()} ${ct} ${body.slice(0, 80)}`);
    }
    buyer.codes = await page.$$eval('[data-testid=ticket] code', (els) => els.map((e) => e.textContent.trim()));
    if (buyer.codes.length !== 2 || buyer.codes.some((c) => c.length < 6)) fail(`ticket codes: ${buyer.codes}`);
    await shot(page, '14-tickets-qr');
  });

  await journey('the confirmation email lands in the outbox (recipient, title, ticket codes)', async () => {
    const mail = await until(
      'the reservation_confirmed email in <data-dir>/outbox',
      () => outboxMails().find((m) => m.header('To').includes(buyer.email) && m.header('Subject').includes('예매 확정:')),
      20_000,
      300,
    );
    if (!mail.header('Subject').includes(title)) fail(`subject: ${mail.header('Subject')}`);
    for (const c of buyer.codes) if (!mail.text.includes(c)) fail(`ticket code ${c} missing from the email body`);
    if (!mail.text.includes(title)) fail('event title missing from the email body');
    if (!/330,000/.test(mail.text)) fail('amount missing from the email body');
    writeFileSync(join(ARTIFACTS, '15-confirmation-email.txt'), `${mail.headers}\n\n${mail.text}`);
  });

  await journey('reservation detail and cancel with the refund shown', async () => {
    await page.locator('[data-testid=ticket] a', { hasText: '예약 상세' }).first().click();
    await page.waitForURL(`${base}/reservations/${buyer.reservationId}`);
    await page.locator('[data-testid=reservation-status]', { hasText: '예매 확정' }).waitFor();
    const detail = await page.locator('.card').first().innerText();
    if (!detail.includes('A 1-1') || !detail.includes('A 1-2') || !/330,000/.test(detail)) fail(`reservation detail: ${detail}`);
    await page.getByRole('button', { name: '예매 취소' }).click(); // confirm() is accepted
    await page.locator('[data-testid=reservation-status]', { hasText: '취소됨' }).waitFor();
    const refund = page.locator('[data-testid=refund][data-status=refunded]');
    await refund.waitFor({ timeout: 20_000 });
    const text = await refund.innerText();
    if (!/330,000/.test(text) || !/포인트 환불: ₩50,000/.test(text) || !/카드 결제 취소: ₩280,000/.test(text)) fail(`refund panel: ${text}`);
    await shot(page, '16-cancelled-refund');
    const seats = await api(base, 'GET', `/api/v1/events/${eventId}/seats`);
    const back = seats.seats.filter((x) => ['A-1-1', 'A-1-2'].includes(x.id)).map((x) => x.status);
    if (back.join() !== 'available,available') fail(`cancelled seats are ${back}`);
    await page.goto(`${base}/me`);
    await page.waitForFunction(() => /50,000/.test(document.querySelector('[data-testid=points-balance]')?.textContent ?? ''), null, { timeout: 10_000 });
    await page.locator('[data-testid=points-history] li[data-kind=REFUND]').first().waitFor();
    await until('the cancellation email', () => outboxMails().find((m) => m.header('To').includes(buyer.email) && /취소/.test(m.header('Subject'))), 15_000, 300);
  });

  await journey('my tickets and profile pages render (empty states, no blank page)', async () => {
    const p2 = await ctx.newPage();
    await p2.goto(`${base}/tickets`);
    await p2.getByRole('heading', { name: '내 티켓' }).waitFor();
    await p2.locator('.empty, .error, [data-testid=ticket]').first().waitFor();
    await shot(p2, '07-tickets');
    await p2.goto(`${base}/me`);
    await p2.getByRole('heading', { name: '내 정보' }).waitFor();
    await p2.locator('[data-testid=points-balance], .error').first().waitFor();
    await shot(p2, '08-profile');
    await p2.goto(`${base}/no/such/page`);
    await p2.getByRole('heading', { name: '페이지를 찾을 수 없습니다' }).waitFor();
    await p2.close();
  });

  await journey('profile: name and language saved on the server; a wrong password said in words', async () => {
    await page.goto(`${base}/me`);
    await page.getByRole('heading', { name: '내 정보' }).waitFor();
    await page.getByLabel('이름').fill('바뀐 이름');
    await page.getByLabel('언어').selectOption('en');
    await page.getByRole('button', { name: '저장', exact: true }).click();
    // Saved, and the whole UI follows the profile's language.
    await page.getByText('Saved.').waitFor();
    await page.getByRole('heading', { name: 'Profile' }).waitFor();
    const tokens = await page.evaluate(() => JSON.parse(localStorage.getItem('tiketi.session')));
    const me = await api(base, 'GET', '/api/v1/auth/me', undefined, tokens.accessToken);
    if (me.name !== '바뀐 이름' || me.language !== 'en') fail(`profile on the server: ${me.name} / ${me.language}`);
    await shot(page, '62-profile-saved-en');
    await page.getByLabel('Language').selectOption('ko');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('저장되었습니다.').waitFor();
    // A wrong password on the login form (another browser).
    const w = await newFan(base, null);
    afterJourney.push(() => w.ctx.close());
    currentPage = w.page;
    await w.page.goto(`${base}/login`);
    await w.page.getByLabel('이메일').fill(buyer.email);
    await w.page.getByLabel('비밀번호').fill('not-the-password-1');
    await w.page.locator('form button[type=submit]').click();
    await w.page.locator('.error[data-code=invalid_credentials]', { hasText: '이메일 또는 비밀번호가 올바르지 않습니다.' }).waitFor();
    await shot(w.page, '63-login-wrong-password');
  });

  await journey('admin console: create event, generator preview, publish', async () => {
    const actx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ko-KR' });
    actx.setDefaultTimeout(STEP_TIMEOUT);
    const a = await actx.newPage();
    await a.goto(`${base}/login?next=/admin/events/new`);
    await a.getByLabel('이메일').fill('admin@e2e.test');
    await a.getByLabel('비밀번호').fill('e2e-admin-password-1');
    await a.locator('form button[type=submit]').click();
    await a.waitForURL(`${base}/admin/events/new`);
    await a.locator('input[name=title]').fill('E2E Admin Event');
    await a.locator('form button[type=submit]').first().click();
    await a.waitForURL(/\/admin\/events\/[0-9a-f-]{20,}$/);
    await a.getByTestId('admin-event-status').waitFor();
    await a.locator('[data-testid=plan-preview] rect').first().waitFor();
    const preview = await a.locator('[data-testid=plan-preview] rect').count();
    if (preview !== 100) fail(`preview shows ${preview} seats, expected 100`);
    // Publishing with no ticket types is refused in words, not a blank page.
    await a.getByTestId('publish').click();
    await a.locator('.error').first().waitFor();
    await shot(a, '09-admin-event-edit');
    // The draft is deleted again (the D of CRUD; only drafts can be).
    const draftId = a.url().split('/').pop();
    a.on('dialog', (d) => void d.accept());
    await a.getByTestId('delete-event').click();
    await a.waitForURL(`${base}/admin/events`);
    const gone = await apiRaw(base, 'GET', `/api/v1/admin/events/${draftId}`, undefined, await adminLogin(base));
    if (gone.status !== 404) fail(`deleted draft answers ${gone.status}`);
    await a.goto(`${base}/admin`);
    await a.getByRole('heading', { name: /대시보드/ }).waitFor();
    await shot(a, '10-admin-dashboard');
    await actx.close();
  });

  // Two fans, two browsers, one seat.
  await journey('two browsers race for the same seat: one wins, the other is told and picks another', async () => {
    const raceEvent = await makeEvent(base, `E2E 경쟁 ${Date.now()}`);
    const wsRouted = await seatsWsRouted(base, raceEvent);
    log(`seat map live channel: ${wsRouted ? 'WebSocket route present' : 'no /seats/ws route on this build: polling'}`);
    const a = await newFan(base, await signupApi(base, 'race-a@e2e.test', '경쟁 A'));
    const b = await newFan(base, await signupApi(base, 'race-b@e2e.test', '경쟁 B'));
    const third = await signupApi(base, 'race-c@e2e.test', '경쟁 C');
    try {
      currentPage = b.page;
      const framesB = [];
      b.page.on('websocket', (ws) => {
        if (ws.url().includes('/seats/ws')) ws.on('framereceived', (f) => framesB.push(String(f.payload)));
      });
      await Promise.all([a.page.goto(`${base}/events/${raceEvent}/seats`), b.page.goto(`${base}/events/${raceEvent}/seats`)]);
      const want = wsRouted ? 'websocket' : 'poll';
      for (const p of [a.page, b.page]) {
        await p.locator('[data-seat="A-2-5"][data-status=available]').waitFor();
        await p.locator(`[data-testid=seats-conn][data-state=${want}]`).waitFor({ timeout: 10_000 });
      }
      // Live update from another buyer: C holds B-3-8 through the API; B's open map shows it taken.
      await api(base, 'POST', '/api/v1/reservations', { eventId: raceEvent, seatIds: ['B-3-8'] }, third.accessToken, { 'Idempotency-Key': `race-c-${Date.now()}` });
      const t0 = Date.now();
      await b.page.locator('[data-seat="B-3-8"][data-status=held]').waitFor({ timeout: 8_000 });
      log(`B's map showed C's hold after ${Date.now() - t0} ms (${want})`);
      if (wsRouted && !framesB.some((f) => f.includes('"type":"seats"') && f.includes('B-3-8'))) {
        fail(`no seats frame for B-3-8 reached B's WebSocket; frames: ${framesB.join(' | ').slice(0, 400)}`);
      }
      // Both pick A-2-5 and press hold at the same moment.
      await a.page.locator('[data-seat="A-2-5"]').click();
      await b.page.locator('[data-seat="A-2-5"]').click();
      const holdA = a.page.getByRole('button', { name: '선택 좌석 선점하기' });
      const holdB = b.page.getByRole('button', { name: '선택 좌석 선점하기' });
      // Watch for each page's outcome before the clicks, so a quick one cannot be missed; a page with
      // neither outcome reports where it is instead of a bare timeout.
      const outcome = (p) =>
        Promise.race([
          p.waitForURL(/\/reservations\/[^/]+$/, { timeout: 10_000 }).then(() => 'won'),
          p.locator('.error[data-code=seat_unavailable]').waitFor({ timeout: 10_000 }).then(() => 'lost'),
        ]).catch((e) => `neither (at ${p.url()}: ${String(e.message ?? e).split('\n')[0]})`);
      const outcomes = Promise.all([outcome(a.page), outcome(b.page)]);
      // Both press at the same moment: the click events are dispatched on the buttons directly.
      // click() first waits until a button is stable and nothing covers it (the selection card
      // animates in); under load that delayed one page until the other page's hold had already
      // reached it through the live map and dropped its pick (button disabled), so there was no
      // race left to test and the journey timed out.
      await Promise.all([holdA.dispatchEvent('click'), holdB.dispatchEvent('click')]);
      const [oa, ob] = await outcomes;
      if ([oa, ob].sort().join() !== 'lost,won') fail(`expected exactly one winner, got A=${oa} B=${ob}`);
      const winner = oa === 'won' ? a : b;
      const loser = oa === 'won' ? b : a;
      currentPage = loser.page;
      await shot(winner.page, '17-race-winner');
      // The loser is told in words, the seat shows taken, the pick is dropped.
      const words = await loser.page.locator('.error[data-code=seat_unavailable]').innerText();
      if (!words.includes('방금 다른 분이 선택한 좌석이 있습니다')) fail(`loser sees: ${words}`);
      await loser.page.locator('[data-seat="A-2-5"][data-status=held]').waitFor({ timeout: 8_000 });
      await loser.page.getByText('선택한 좌석 0/4').waitFor();
      await shot(loser.page, '18-race-loser-seat-taken');
      await loser.page.locator('[data-seat="A-2-6"][data-status=available]').click();
      await loser.page.getByRole('button', { name: '선택 좌석 선점하기' }).click();
      await loser.page.waitForURL(/\/reservations\/[^/]+$/);
      await loser.page.locator('[data-testid=reservation-status]', { hasText: '결제 대기' }).waitFor();
      // GET /seats catches up within a seat-feed tick (200 ms); allow a few.
      let statuses = [];
      const seatsBy = Date.now() + 2_000;
      do {
        statuses = await Promise.all(['A-2-5', 'A-2-6', 'B-3-8'].map((id) => seatStatus(base, raceEvent, id)));
        if (statuses.join() === 'held,held,held') break;
        await new Promise((r) => setTimeout(r, 100));
      } while (Date.now() < seatsBy);
      if (statuses.join() !== 'held,held,held') fail(`seats after the race: ${statuses}`);
      await shot(loser.page, '19-race-loser-other-seat');
    } finally {
      afterJourney.push(() => a.ctx.close(), () => b.ctx.close());
    }
  });

  await journey('waiting room: position, people ahead, ETA, live state, reload keeps the place, admission token on the hold', async () => {
    // One shopper at a time: q0 takes the only slot, q1 waits, then the browser fan.
    const wr = await makeEvent(base, `E2E 대기열 ${Date.now()}`, { waitingRoom: { enabled: true, admission_per_minute: 600, max_active: 1 } });
    const q0 = await signupApi(base, 'queue-0@e2e.test', '대기 0');
    const q1 = await signupApi(base, 'queue-1@e2e.test', '대기 1');
    const fanSession = await signupApi(base, 'queue-fan@e2e.test', '대기 팬');
    const qpath = `/api/v1/events/${wr}/queue`;
    await api(base, 'POST', qpath, undefined, q0.accessToken);
    await until('q0 admitted', async () => (await api(base, 'GET', qpath, undefined, q0.accessToken)).state === 'admitted', 8_000);
    await api(base, 'POST', qpath, undefined, q1.accessToken);
    const s1 = await api(base, 'GET', qpath, undefined, q1.accessToken);
    if (s1.state !== 'waiting') fail(`q1 should wait behind the full slot, is ${s1.state}`);
    // Without an admission token the hold is refused (so the token the browser sends matters).
    const noToken = await apiRaw(base, 'POST', '/api/v1/reservations', { eventId: wr, seatIds: ['B-2-2'] }, fanSession.accessToken, { 'Idempotency-Key': `nt-${Date.now()}` });
    if (noToken.status !== 403 || !/^admission_/.test(noToken.data?.error?.code ?? '')) fail(`hold without admission: ${noToken.status} ${noToken.text}`);

    const f = await newFan(base, fanSession);
    currentPage = f.page;
    try {
      const fp = f.page;
      await fp.goto(`${base}/events/${wr}`);
      await fp.getByTestId('book').click(); // "대기열 입장"
      await fp.waitForURL(`${base}/events/${wr}/queue`);
      await fp.getByTestId('queue-position').waitFor();
      await until('position 2 on screen', async () => (await fp.getByTestId('queue-position').innerText()).trim() === '2', 8_000);
      if ((await fp.getByTestId('queue-ahead').innerText()).trim() !== '앞에 1명') fail(`ahead: ${await fp.getByTestId('queue-ahead').innerText()}`);
      // One shopper slot, held by q0 for a 10-minute session, and q1 ahead: the line moves one place
      // per ended session, so the estimate is two sessions (not 2 s at the admission rate).
      const eta = (await fp.getByTestId('queue-eta').innerText()).trim();
      if (eta !== '약 20분') fail(`ETA shows ${eta}`);
      await fp.locator('[data-testid=conn-state][data-state=websocket]').waitFor({ timeout: 10_000 });
      if (!(await fp.getByTestId('conn-state').innerText()).includes('실시간 연결됨')) fail('connection state not in words');
      await shot(fp, '21-waiting-room');
      const before = await api(base, 'GET', qpath, undefined, fanSession.accessToken);
      // A reload keeps the place.
      await fp.reload();
      await fp.getByTestId('queue-position').waitFor();
      await until('position 2 after reload', async () => (await fp.getByTestId('queue-position').innerText()).trim() === '2', 8_000);
      const after = await api(base, 'GET', qpath, undefined, fanSession.accessToken);
      if (after.state !== 'waiting' || after.seq !== before.seq || after.position !== 2) fail(`after reload: ${JSON.stringify(after)} (before seq ${before.seq})`);
      await fp.locator('[data-testid=conn-state][data-state=websocket]').waitFor({ timeout: 10_000 });
      // q0 leaves: q1 is admitted, the fan moves to the front live.
      await api(base, 'DELETE', qpath, undefined, q0.accessToken);
      await until('position 1 on screen (live)', async () => (await fp.getByTestId('queue-position').innerText().catch(() => '')).trim() === '1', 10_000);
      // q1 leaves: the fan is admitted and goes on to the seats.
      const holdRequests = [];
      fp.on('request', (r) => {
        if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/v1/reservations') holdRequests.push(r);
      });
      await api(base, 'DELETE', qpath, undefined, q1.accessToken);
      await fp.getByTestId('queue-admitted').waitFor({ timeout: 10_000 });
      await shot(fp, '22-waiting-room-admitted');
      await fp.waitForURL(`${base}/events/${wr}/seats`, { timeout: 10_000 });
      await fp.locator('[data-seat="B-2-2"][data-status=available]').click();
      await fp.getByRole('button', { name: '선택 좌석 선점하기' }).click();
      await fp.waitForURL(/\/reservations\/[^/]+$/);
      await fp.locator('[data-testid=reservation-status]', { hasText: '결제 대기' }).waitFor();
      if (holdRequests.length !== 1) fail(`expected one hold request, saw ${holdRequests.length}`);
      const token = (await holdRequests[0].allHeaders())['x-admission-token'];
      if (!token || token.length < 20) fail(`the hold did not carry X-Admission-Token (${token})`);
      await shot(fp, '23-waiting-room-hold');
    } finally {
      afterJourney.push(() => f.ctx.close());
    }
  });

  await journey('admin creates and publishes an event that then goes on sale; a fan sees it on sale', async () => {
    const actx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ko-KR' });
    actx.setDefaultTimeout(STEP_TIMEOUT);
    const a = await actx.newPage();
    a.on('pageerror', (e) => pageErrors.push(String(e)));
    currentPage = a;
    const soonTitle = `E2E 곧 오픈 ${Date.now()}`;
    try {
      await a.goto(`${base}/login?next=/admin/events/new`);
      await a.getByLabel('이메일').fill('admin@e2e.test');
      await a.getByLabel('비밀번호').fill('e2e-admin-password-1');
      await a.locator('form button[type=submit]').click();
      await a.waitForURL(`${base}/admin/events/new`);
      const seoul = (ms) => new Date(ms + 9 * 3_600_000).toISOString().slice(0, 19);
      await a.locator('input[name=title]').fill(soonTitle);
      await a.locator('input[name=artist]').fill('E2E Admin Band');
      // Publishing needs a venue (the API says so in words otherwise).
      await a.locator('select[name=venue_id] option').nth(1).waitFor({ state: 'attached' });
      await a.locator('select[name=venue_id]').selectOption({ index: 1 });
      await a.locator('form button[type=submit]').first().click();
      await a.waitForURL(/\/admin\/events\/[0-9a-f-]{20,}$/);
      const id = a.url().split('/').pop();
      await a.locator('[data-testid=admin-event-status]', { hasText: '초안' }).waitFor().catch(async () => {
        fail(`new event status: ${await a.getByTestId('admin-event-status').innerText()}`);
      });
      // Seating from the generator (2 sections x 5 rows x 10 seats, VIP rows 1-2, R rows 3-5).
      await a.getByTestId('seating-save').click();
      await a.getByText('좌석 100석을 저장했습니다.').waitFor();
      const form = a.getByTestId('ticket-type-form');
      for (const [name, cat, price] of [['VIP석', 'VIP', '150000'], ['R석', 'R', '90000']]) {
        await form.locator('input[name=name]').fill(name);
        await form.locator('select[name=kind]').selectOption('seated');
        await form.locator('input[name=category]').fill(cat);
        await form.locator('input[name=price]').fill(price);
        await form.locator('button[type=submit]').click();
        await a.locator('td', { hasText: name }).first().waitFor();
      }
      // Last, the sale start a few seconds ahead (to the second), saved, then publish at once.
      const saleStart = Date.now() + 20_000;
      await a.locator('input[name=sale_start]').fill(seoul(saleStart));
      await a.locator('form button[type=submit]').first().click();
      await a.getByText('저장되었습니다.').waitFor();
      await a.getByTestId('publish').click();
      await a.locator('[data-testid=admin-event-status]', { hasText: '판매 예정' }).waitFor();
      // Published: the console shows the plan on sale (100 seats), no longer the generator.
      await a.locator('[data-testid=plan-saved] rect').nth(99).waitFor();
      if ((await a.locator('[data-testid=plan-saved] rect').count()) !== 100 || (await a.getByTestId('seating-save').count())) fail('published event: saved plan not shown (or generator still offered)');
      if (Date.now() >= saleStart) fail('publishing took longer than the 20 s to the sale start (machine too slow?)');
      const ev = await api(base, 'GET', `/api/v1/events/${id}`);
      if (Math.abs(ev.sale_start - Math.floor(saleStart / 1000) * 1000) > 0) fail(`sale_start ${ev.sale_start}, entered ${saleStart}`);
      if (ev.ticket_types.length !== 2) fail(`ticket types: ${ev.ticket_types.length}`);
      await shot(a, '24-admin-published-scheduled');

      // A fan watches the countdown; the page turns to on sale by itself.
      const f = await newFan(base, await signupApi(base, 'soon@e2e.test', '오픈 대기'));
      currentPage = f.page;
      try {
        await f.page.goto(`${base}/`);
        await f.page.locator('.event-card', { hasText: soonTitle }).waitFor();
        await f.page.locator('.event-card a', { hasText: soonTitle }).click();
        await f.page.waitForURL(`${base}/events/${id}`);
        await f.page.locator('.badge-scheduled').first().waitFor();
        await f.page.getByText('예매 시작까지').waitFor();
        await f.page.getByText('지금은 예매할 수 없습니다.').waitFor();
        if (await f.page.getByTestId('book').count()) fail('a book button before the sale start');
        await shot(f.page, '25-fan-before-sale');
        await f.page.locator('.badge-on_sale').first().waitFor({ timeout: saleStart - Date.now() + 15_000 });
        if (Date.now() < saleStart - 1_000) fail('on sale before the sale start');
        await f.page.getByTestId('book').click();
        await f.page.waitForURL(`${base}/events/${id}/seats`);
        await f.page.locator('[data-testid=seatmap] rect.seat[data-status=available]').first().waitFor();
        const n = await f.page.locator('[data-testid=seatmap] rect.seat').count();
        if (n !== 100) fail(`seat map of the new event shows ${n} seats, expected 100`);
        await shot(f.page, '26-fan-on-sale-seats');
      } finally {
        afterJourney.push(() => f.ctx.close());
      }
    } finally {
      afterJourney.push(() => actx.close());
    }
  });

  // General admission: a quantity instead of a seat map, paid with points only (no gateway page),
  // then the last ticket sold under a fan's open page: the refusal said in words (sold out).
  const ga = {};
  await journey('GA quantity, points-only checkout, sold out in words', async () => {
    ga.title = `E2E 스탠딩 ${Date.now()}`;
    const ev = await makeGaEvent(base, ga.title, { quota: 4, price: 20_000 });
    ga.eventId = ev.id;
    ga.session = await signupApi(base, 'ga-fan@e2e.test', '스탠딩 팬');
    const f = await newFan(base, ga.session);
    afterJourney.push(() => f.ctx.close());
    const fp = f.page;
    currentPage = fp;
    // Points first (through the gateway simulator's checkout page, as a fan does).
    await fp.goto(`${base}/me`);
    await fp.getByTestId('points-balance').waitFor();
    await fp.locator('input[name=amount]').fill('40000');
    await fp.getByRole('button', { name: '충전', exact: true }).click();
    await fp.waitForURL(/\/checkout\?/);
    await fp.getByRole('button', { name: 'Pay' }).click();
    await fp.waitForURL(`${base}/me`, { timeout: 15_000 });
    await fp.waitForFunction(() => /40,000/.test(document.querySelector('[data-testid=points-balance]')?.textContent ?? ''), null, { timeout: 10_000 });
    // The GA card: quantity clamped to the per-person limit (4) and what is left.
    await fp.goto(`${base}/events/${ga.eventId}`);
    await fp.getByTestId('book').click();
    await fp.waitForURL(`${base}/events/${ga.eventId}/seats`);
    const card = fp.locator('.card.ga');
    await card.locator('p', { hasText: /잔여 4$/ }).waitFor();
    if (await fp.locator('[data-testid=seatmap]').count()) fail('a seat map for a GA-only event');
    const qty = card.getByLabel('수량');
    await qty.fill('9');
    if ((await qty.inputValue()) !== '4') fail(`quantity 9 shown as ${await qty.inputValue()}, expected clamped to 4`);
    await card.getByText('₩80,000').waitFor();
    await qty.fill('2');
    await card.getByText('₩40,000').waitFor();
    await shot(fp, '32-ga-quantity');
    await card.getByRole('button', { name: '선택 좌석 선점하기' }).click();
    await fp.waitForURL(/\/reservations\/[^/]+$/);
    ga.reservationId = fp.url().split('/').pop();
    await fp.getByTestId('hold-countdown').waitFor();
    // Points for the whole amount: no card, no gateway page.
    await fp.getByText('잔액: ₩40,000').waitFor();
    await fp.getByLabel(/사용할 포인트/).fill('40000');
    const payRequests = [];
    fp.on('request', (r) => {
      if (r.url().includes('/checkout?')) payRequests.push(r.url());
    });
    await fp.getByRole('button', { name: '포인트로 결제하기' }).click();
    await fp.waitForURL(`${base}/reservations/${ga.reservationId}/done`, { timeout: 15_000 });
    await fp.getByRole('heading', { name: '예매 완료' }).waitFor({ timeout: 20_000 });
    if (payRequests.length) fail(`a points-only payment went to the gateway: ${payRequests[0]}`);
    const pay = await api(base, 'GET', `/api/v1/reservations/${ga.reservationId}`, undefined, ga.session.accessToken);
    if (pay.status !== 'CONFIRMED' || pay.amount !== 40_000) fail(`GA reservation: ${pay.status} ${pay.amount}`);
    const pts = await api(base, 'GET', '/api/v1/points', undefined, ga.session.accessToken);
    if (pts.balance !== 0) fail(`points after a points-only payment: ${pts.balance}`);
    await shot(fp, '33-points-only-confirmation');
    await fp.getByRole('link', { name: '내 티켓 보기' }).click();
    await fp.getByTestId('ticket').nth(1).waitFor();
    ga.codes = await fp.$$eval('[data-testid=ticket] code', (els) => els.map((e) => e.textContent.trim()));
    if (ga.codes.length !== 2) fail(`GA tickets: ${ga.codes}`);

    // Sold out under an open page: 2 left on screen, another buyer takes both, this fan asks for 1.
    const late = await signupApi(base, 'ga-late@e2e.test', '늦은 팬');
    const other = await signupApi(base, 'ga-other@e2e.test', '다른 팬');
    const l = await newFan(base, late);
    afterJourney.push(() => l.ctx.close());
    currentPage = l.page;
    await l.page.goto(`${base}/events/${ga.eventId}/seats`);
    await l.page.locator('.card.ga p', { hasText: /잔여 2$/ }).waitFor();
    const taken = await api(base, 'POST', '/api/v1/reservations', { eventId: ga.eventId, ticketTypeId: ev.ticketTypeId, quantity: 2 }, other.accessToken, { 'Idempotency-Key': `ga-other-${Date.now()}` });
    ga.otherReservation = taken.id;
    await l.page.locator('.card.ga').getByRole('button', { name: '선택 좌석 선점하기' }).dispatchEvent('click');
    const box = l.page.locator('.error[data-code=sold_out]');
    await box.waitFor();
    const words = await box.innerText();
    if (!/매진/.test(words)) fail(`sold out said as: ${words}`);
    await l.page.locator('.card.ga').getByText('매진').waitFor();
    await shot(l.page, '34-ga-sold-out');
  });

  // The admin console pages the other journeys do not reach, each against the real server.
  await journey('admin console: dashboard figures, reservations search + cancel, delivery log, check-in, news, waiting-room controls', async () => {
    if (!ga.codes) fail('needs the GA journey');
    const actx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ko-KR' });
    actx.setDefaultTimeout(STEP_TIMEOUT);
    afterJourney.push(() => actx.close());
    const a = await actx.newPage();
    a.on('pageerror', (e) => pageErrors.push(String(e)));
    a.on('dialog', (d) => void d.accept());
    currentPage = a;
    await loginForm(a, base, 'admin@e2e.test', 'e2e-admin-password-1', '/admin');
    // Dashboard: the GA event's revenue, tickets and the seat counts of the seated event.
    const gaStats = a.locator(`[data-testid=event-stats][data-event="${ga.eventId}"]`);
    await gaStats.locator('[data-testid=stats-revenue][data-value="40000"]').waitFor();
    if (!/₩40,000/.test(await gaStats.innerText())) fail(`GA stats: ${await gaStats.innerText()}`);
    const mainSeats = a.locator(`[data-testid=event-stats][data-event="${eventId}"] [data-testid=stats-seats]`);
    await mainSeats.waitFor();
    const api0 = await api(base, 'GET', `/api/v1/admin/events/${eventId}/sales`, undefined, await adminLogin(base));
    if ((await mainSeats.getAttribute('data-sold')) !== String(api0.seats.sold) || Number(await mainSeats.getAttribute('data-available')) + Number(await mainSeats.getAttribute('data-held')) + Number(await mainSeats.getAttribute('data-sold')) !== 48) {
      fail(`dashboard seats ${await mainSeats.innerText()} vs API ${JSON.stringify(api0.seats)}`);
    }
    // Live: another buyer's hold shows up on the open dashboard without a reload (it re-reads every 5 s).
    const heldBefore = Number(await mainSeats.getAttribute('data-held'));
    const liveFan = await signupApi(base, 'dash-live@e2e.test', '대시보드 확인');
    const liveHold = await api(base, 'POST', '/api/v1/reservations', { eventId, seatIds: ['B-3-2'] }, liveFan.accessToken, { 'Idempotency-Key': `dash-${Date.now()}` });
    await a.locator(`[data-testid=event-stats][data-event="${eventId}"] [data-testid=stats-seats][data-held="${heldBefore + 1}"]`).waitFor({ timeout: 12_000 });
    await api(base, 'POST', `/api/v1/reservations/${liveHold.id}/cancel`, {}, liveFan.accessToken);
    await shot(a, '35-admin-dashboard-figures');

    // Reservations: search by event, cancel the other buyer's hold; the tickets come back.
    await a.goto(`${base}/admin/reservations`);
    await a.getByLabel('공연 ID').fill(ga.eventId);
    await a.getByRole('button', { name: '검색' }).click();
    const rows = a.locator('[data-testid=admin-reservations] tbody tr');
    // The page first lists the latest reservations of every event; the filtered answer replaces them.
    await until('the search shows the GA event\'s 2 reservations', async () => (await rows.count()) === 2, 8_000);
    await a.getByLabel('상태').selectOption('PENDING');
    await a.getByRole('button', { name: '검색' }).click();
    await a.locator(`[data-testid=admin-reservations] tr[data-id="${ga.otherReservation}"]`).waitFor();
    await until('only the pending one listed', async () => (await rows.count()) === 1, 5_000);
    await a.locator(`tr[data-id="${ga.otherReservation}"]`).getByRole('button', { name: '예매 취소' }).click();
    await a.getByText('결과가 없습니다.').waitFor();
    const cancelled = await api(base, 'GET', `/api/v1/admin/reservations?eventId=${ga.eventId}&status=CANCELLED`, undefined, await adminLogin(base));
    if (cancelled.items.length !== 1 || cancelled.items[0].id !== ga.otherReservation) fail(`cancelled: ${JSON.stringify(cancelled.items.map((r) => r.id))}`);
    await until('GA quota back to 2', async () => {
      const s = await api(base, 'GET', `/api/v1/events/${ga.eventId}/seats`);
      return s.quotas?.[0]?.available === 2;
    }, 5_000, 200);
    await shot(a, '36-admin-reservations');

    // Delivery log: the GA fan's confirmation email, sent.
    await a.goto(`${base}/admin/notifications`);
    const log = a.locator('[data-testid=notification-log] tr[data-template=reservation_confirmed]', { hasText: 'ga-fan@e2e.test' });
    await until('the confirmation in the delivery log', async () => {
      if (await log.count()) return true;
      await a.getByRole('button', { name: '다시 시도' }).first().click();
      return false;
    }, 15_000, 700);
    await log.first().getByText('발송 완료').waitFor({ timeout: 15_000 }).catch(async () => {
      await a.reload();
      await log.first().getByText('발송 완료').waitFor();
    });
    await a.getByLabel('상태').selectOption('FAILED');
    await a.locator('.empty, [data-testid=notification-log]').first().waitFor();
    await shot(a, '37-admin-delivery-log');

    // Check-in at the door, keyboard only: type the code, Enter.
    await a.goto(`${base}/admin/checkin`);
    const code = a.getByLabel('티켓 번호');
    await code.waitFor();
    if (!(await code.evaluate((el) => el === document.activeElement))) await code.focus();
    await a.keyboard.type(ga.codes[0]);
    await a.keyboard.press('Enter');
    await a.locator('[data-testid=checkin-result].checkin-valid', { hasText: '입장 확인되었습니다.' }).waitFor();
    await a.keyboard.type(ga.codes[0]);
    await a.keyboard.press('Enter');
    await a.locator('[data-testid=checkin-result].checkin-already_used', { hasText: '이미 입장한 티켓입니다.' }).waitFor();
    await shot(a, '38-admin-checkin');
    await a.keyboard.type('NOT-A-TICKET-1234');
    await a.keyboard.press('Enter');
    await a.locator('[data-testid=checkin-result].checkin-invalid', { hasText: '유효하지 않은 티켓입니다.' }).waitFor();
    // The camera button only where the browser can read QR codes (not this Linux chromium).
    const hasDetector = await a.evaluate(() => typeof window.BarcodeDetector === 'function');
    if ((await a.getByTestId('camera-scanner').count()) !== (hasDetector ? 1 : 0)) fail(`camera scanner shown=${!hasDetector} with BarcodeDetector=${hasDetector}`);
    // The camera path with the two browser pieces this chromium lacks played by the page: a camera
    // (a canvas stream) and a BarcodeDetector that "sees" the second GA ticket's code. The rest is
    // real: the button, the video, the scan loop, the check-in request and the answer in words.
    const cam = await actx.newPage();
    cam.on('pageerror', (e) => pageErrors.push(String(e)));
    currentPage = cam;
    await cam.addInitScript((code) => {
      window.BarcodeDetector = class {
        async detect(video) {
          return video && video.readyState >= 2 ? [{ rawValue: code }] : [];
        }
      };
      const md = navigator.mediaDevices ?? {};
      md.getUserMedia = async () => {
        const c = document.createElement('canvas');
        c.width = 64;
        c.height = 64;
        const g = c.getContext('2d');
        setInterval(() => g.fillRect(0, 0, 64, 64), 50);
        return c.captureStream(10);
      };
      if (!navigator.mediaDevices) Object.defineProperty(navigator, 'mediaDevices', { value: md });
    }, ga.codes[1]);
    await cam.goto(`${base}/admin/checkin`);
    await cam.getByRole('button', { name: '카메라로 스캔' }).click();
    await cam.locator('[data-testid=checkin-result].checkin-valid', { hasText: '입장 확인되었습니다.' }).waitFor();
    await cam.getByRole('button', { name: '스캔 중지' }).click();
    await cam.locator('video').waitFor({ state: 'detached' });
    const tickets = await api(base, 'GET', '/api/v1/tickets', undefined, ga.session.accessToken);
    const scanned = tickets.items.find((x) => x.code === ga.codes[1]);
    if (!scanned?.checkedInAt) fail(`the scanned ticket is not checked in: ${JSON.stringify(scanned)}`);
    await cam.close();
    currentPage = a;

    // News: written in the console, shown to fans above the event list, deleted again.
    const newsTitle = `E2E 공지 ${Date.now()}`;
    await a.goto(`${base}/admin/news`);
    await a.getByLabel('제목').fill(newsTitle);
    await a.getByLabel('내용').fill('입장은 공연 1시간 전부터입니다.');
    await a.getByLabel('상단 고정').check();
    await a.getByRole('button', { name: '저장' }).click();
    await a.locator('li.card', { hasText: newsTitle }).waitFor();
    await shot(a, '39-admin-news');
    const fanNews = await newFan(base, null);
    afterJourney.push(() => fanNews.ctx.close());
    await fanNews.page.goto(`${base}/`);
    await fanNews.page.locator('[data-testid=news]', { hasText: newsTitle }).waitFor();
    await a.locator('li.card', { hasText: newsTitle }).getByRole('button', { name: '삭제' }).click();
    await a.locator('li.card', { hasText: newsTitle }).waitFor({ state: 'detached' });

    // Waiting-room controls: pause, rate, resume, each as the queue service sees it.
    const wr = await makeGaEvent(base, `E2E 대기열 제어 ${Date.now()}`, { waitingRoom: { enabled: true, admission_per_minute: 600, max_active: 1 } });
    const qv = async () => api(base, 'GET', `/api/v1/admin/queues/${wr.id}`, undefined, await adminLogin(base));
    await a.goto(`${base}/admin/queues/${wr.id}`);
    await a.locator('[data-testid=admin-queue-state][data-paused=false]', { hasText: '입장이 진행 중입니다.' }).waitFor();
    await a.getByRole('button', { name: '입장 중지' }).click();
    await a.locator('[data-testid=admin-queue-state][data-paused=true]', { hasText: '입장이 중지되어 있습니다.' }).waitFor();
    if ((await qv()).paused !== true) fail('pause not applied');
    await a.getByLabel('초당 입장 인원').fill('2.5');
    await a.getByRole('button', { name: '저장' }).click();
    await a.locator('[data-testid=admin-queue-rate]', { hasText: '2.5' }).waitFor();
    if ((await qv()).rate !== 2.5) fail(`rate: ${(await qv()).rate}`);
    await shot(a, '40-admin-queue-paused');
    await a.getByRole('button', { name: '입장 재개' }).click();
    await a.locator('[data-testid=admin-queue-state][data-paused=false]').waitFor();
    if ((await qv()).paused !== false) fail('resume not applied');
  });

  // The waiting room when WebSockets are blocked (SSE), when SSE is blocked too (polling), and after
  // a dropped socket (reconnect): the place kept, the state in words. At phone width.
  await journey('waiting room fallbacks: SSE, polling, reconnect after a drop (phone width)', async () => {
    const wr = await makeGaEvent(base, `E2E 대기열 폴백 ${Date.now()}`, { waitingRoom: { enabled: true, admission_per_minute: 600, max_active: 1 } });
    const qpath = `/api/v1/events/${wr.id}/queue`;
    const holder = await signupApi(base, 'fb-holder@e2e.test', '자리 주인');
    await api(base, 'POST', qpath, undefined, holder.accessToken);
    await until('the holder admitted', async () => (await api(base, 'GET', qpath, undefined, holder.accessToken)).state === 'admitted', 8_000);
    const phone = async (email, init) => {
      const ctx = await browser.newContext({ viewport: { width: 375, height: 740 }, locale: 'ko-KR', isMobile: true, hasTouch: true });
      ctx.setDefaultTimeout(STEP_TIMEOUT);
      afterJourney.push(() => ctx.close());
      const s = await signupApi(base, email, email.split('@')[0]);
      await ctx.addInitScript((tokens) => {
        if (!localStorage.getItem('tiketi.session')) localStorage.setItem('tiketi.session', JSON.stringify(tokens));
      }, { accessToken: s.accessToken, refreshToken: s.refreshToken });
      if (init) await ctx.addInitScript(init);
      const p = await ctx.newPage();
      p.on('pageerror', (e) => pageErrors.push(String(e)));
      return p;
    };
    // 1. No WebSocket in this browser: Server-Sent Events, live (a pause shows up by itself).
    const sse = await phone('fb-sse@e2e.test', () => {
      delete window.WebSocket;
    });
    currentPage = sse;
    await sse.goto(`${base}/events/${wr.id}/queue`);
    await sse.locator('[data-testid=conn-state][data-state=sse]').waitFor({ timeout: 10_000 });
    await sse.getByTestId('queue-position').waitFor();
    const words = await sse.getByTestId('conn-state').innerText();
    if (!words.includes('실시간 연결됨')) fail(`connection state not in words: ${words}`);
    await assertNoOverflow(sse, 'waiting room (SSE)');
    await api(base, 'POST', `/api/v1/admin/queues/${wr.id}/pause`, {}, await adminLogin(base));
    await sse.locator('.notice', { hasText: '입장이 잠시 중단되었습니다.' }).waitFor({ timeout: 10_000 });
    await shot(sse, '41-phone-waiting-room-sse-paused');
    await api(base, 'POST', `/api/v1/admin/queues/${wr.id}/resume`, {}, await adminLogin(base));
    await sse.locator('.notice', { hasText: '입장이 잠시 중단되었습니다.' }).waitFor({ state: 'detached', timeout: 10_000 });
    // 2. Neither WebSocket nor EventSource: polling, still showing the place.
    const poll = await phone('fb-poll@e2e.test', () => {
      delete window.WebSocket;
      delete window.EventSource;
    });
    currentPage = poll;
    await poll.goto(`${base}/events/${wr.id}/queue`);
    await poll.locator('[data-testid=conn-state][data-state=poll]').waitFor({ timeout: 10_000 });
    await until('poll fan at position 2', async () => (await poll.getByTestId('queue-position').innerText().catch(() => '')).trim() === '2', 8_000);
    await shot(poll, '42-phone-waiting-room-poll');
    // 3. WebSocket dropped under the page: offline shown, then live again, same place, no new join.
    const rec = await phone('fb-reconnect@e2e.test', () => {
      const W = window.WebSocket;
      window.__sockets = [];
      window.__states = [];
      window.WebSocket = class extends W {
        constructor(...args) {
          super(...args);
          window.__sockets.push(this);
        }
      };
      new MutationObserver(() => {
        const s = document.querySelector('[data-testid=conn-state]')?.getAttribute('data-state');
        if (s && window.__states.at(-1) !== s) window.__states.push(s);
      }).observe(document, { subtree: true, attributes: true, childList: true });
    });
    currentPage = rec;
    const joins = [];
    rec.on('request', (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname === qpath) joins.push(r.url());
    });
    await rec.goto(`${base}/events/${wr.id}/queue`);
    await rec.locator('[data-testid=conn-state][data-state=websocket]').waitFor({ timeout: 10_000 });
    await until('reconnect fan at position 3', async () => (await rec.getByTestId('queue-position').innerText().catch(() => '')).trim() === '3', 8_000);
    await rec.evaluate(() => window.__sockets.forEach((w) => w.close()));
    await rec.waitForFunction(() => window.__sockets.length >= 2 && window.__states.includes('offline'), null, { timeout: 10_000 });
    await rec.locator('[data-testid=conn-state][data-state=websocket]').waitFor({ timeout: 10_000 });
    if ((await rec.getByTestId('queue-position').innerText()).trim() !== '3') fail('the place changed after a reconnect');
    if (joins.length !== 1) fail(`joined ${joins.length} times (a reconnect must not join again)`);
    await shot(rec, '43-phone-waiting-room-reconnected');
  });

  // Phone width (375 px) on the main pages, keyboard-only seat pick, labelled form controls.
  await journey('phone width 375 px: no sideways scrolling on the main pages; every form control labelled', async () => {
    const s = await signupApi(base, 'phone@e2e.test', '모바일 팬');
    const ctx2 = await browser.newContext({ viewport: { width: 375, height: 740 }, locale: 'ko-KR', isMobile: true, hasTouch: true });
    ctx2.setDefaultTimeout(STEP_TIMEOUT);
    afterJourney.push(() => ctx2.close());
    await ctx2.addInitScript((tokens) => {
      if (!localStorage.getItem('tiketi.session')) localStorage.setItem('tiketi.session', JSON.stringify(tokens));
    }, { accessToken: s.accessToken, refreshToken: s.refreshToken });
    const p = await ctx2.newPage();
    p.on('pageerror', (e) => pageErrors.push(String(e)));
    p.on('dialog', (d) => void d.accept());
    currentPage = p;
    const visit = async (path, ready, name) => {
      await p.goto(`${base}${path}`);
      await ready();
      await assertNoOverflow(p, path);
      await assertLabelled(p, path);
      await shot(p, name);
    };
    await visit('/', () => p.locator('.event-card').first().waitFor(), '44-phone-events');
    await visit(`/events/${eventId}`, () => p.locator('table.prices').waitFor(), '45-phone-event-detail');
    await visit(`/events/${eventId}/seats`, () => p.locator('[data-seat="B-2-1"]').waitFor(), '46-phone-seats');
    // Seats stay finger-sized on a phone (the map scrolls inside its box, the page does not).
    const box = await p.locator('[data-seat="B-2-1"]').boundingBox();
    if (!box || box.width < 15.5 || box.height < 15.5) fail(`a seat is ${box?.width}x${box?.height} px at 375 px width (want >= 16)`);
    await p.locator('[data-seat="B-2-1"][data-status=available]').tap();
    await p.getByRole('button', { name: '선택 좌석 선점하기' }).tap();
    await p.waitForURL(/\/reservations\/[^/]+$/);
    await p.getByTestId('hold-countdown').waitFor();
    await assertNoOverflow(p, 'hold / checkout');
    await assertLabelled(p, 'hold / checkout');
    await shot(p, '47-phone-hold');
    await p.getByRole('button', { name: '예약 취소' }).tap();
    await p.locator('[data-testid=reservation-status]', { hasText: '취소됨' }).waitFor();
    await visit('/tickets', () => p.getByRole('heading', { name: '내 티켓' }).waitFor(), '48-phone-tickets');
    await visit('/me', () => p.getByTestId('points-balance').waitFor(), '49-phone-profile');
    await visit('/reservations', () => p.getByRole('heading', { name: '예약 내역' }).waitFor(), '50-phone-reservations');
    // The admin console too (staff use phones at the door).
    await p.evaluate(() => localStorage.removeItem('tiketi.session'));
    await visit('/signup', () => p.getByLabel('이메일').waitFor(), '51-phone-signup');
    await loginForm(p, base, 'admin@e2e.test', 'e2e-admin-password-1', '/admin');
    for (const [path, name] of [['/admin', '52-phone-admin-dashboard'], [`/admin/events/${eventId}`, '53-phone-admin-event'], ['/admin/events/new', '54-phone-admin-new-event'], ['/admin/reservations', '55-phone-admin-reservations'], ['/admin/notifications', '56-phone-admin-notifications'], ['/admin/checkin', '57-phone-admin-checkin'], ['/admin/news', '58-phone-admin-news']]) {
      await visit(path, () => p.locator('nav.subnav').waitFor().then(() => p.locator('.loading').waitFor({ state: 'detached' })), name);
    }
  });

  await journey('keyboard only: reach the booking, pick two seats with Space and Enter, hold, cancel', async () => {
    const s = await signupApi(base, 'keys@e2e.test', '키보드 팬');
    const k = await newFan(base, s);
    afterJourney.push(() => k.ctx.close());
    const kp = k.page;
    currentPage = kp;
    await kp.goto(`${base}/events/${eventId}`);
    await kp.locator('table.prices').waitFor();
    await tabTo(kp, '[data-testid=book]', 40);
    await kp.keyboard.press('Enter');
    await kp.waitForURL(`${base}/events/${eventId}/seats`);
    await kp.locator('[data-testid=seatmap] rect.seat[data-status=available]').first().waitFor();
    await tabTo(kp, 'rect.seat[data-status=available]', 40);
    const first = await kp.evaluate(() => document.activeElement.getAttribute('data-seat'));
    // The focused seat is visibly marked (the focus ring is the stroke).
    const stroke = await kp.evaluate(() => getComputedStyle(document.activeElement).stroke);
    if (stroke !== 'rgb(28, 126, 214)') fail(`no visible focus ring on the seat (stroke ${stroke})`);
    await kp.keyboard.press('Space');
    await kp.locator(`[data-seat="${first}"][data-status=selected][aria-checked=true]`).waitFor();
    await tabTo(kp, 'rect.seat[data-status=available]', 5);
    const second = await kp.evaluate(() => document.activeElement.getAttribute('data-seat'));
    await kp.keyboard.press('Enter');
    await kp.locator(`[data-seat="${second}"][data-status=selected]`).waitFor();
    await kp.getByText('선택한 좌석 2/4').waitFor();
    await shot(kp, '59-keyboard-seats');
    await tabTo(kp, 'button.primary:not([disabled])', 80);
    if ((await kp.evaluate(() => document.activeElement.textContent)).trim() !== '선택 좌석 선점하기') fail('Tab reached another button first');
    await kp.keyboard.press('Enter');
    await kp.waitForURL(/\/reservations\/[^/]+$/);
    await kp.getByTestId('hold-countdown').waitFor();
    const resId = kp.url().split('/').pop();
    const r = await api(base, 'GET', `/api/v1/reservations/${resId}`, undefined, s.accessToken);
    if (r.items.length !== 2) fail(`keyboard hold has ${r.items.length} items`);
    k.page.on('dialog', () => {}); // newFan accepts confirm()
    await tabTo(kp, 'button.secondary', 40);
    await kp.keyboard.press('Enter');
    await kp.locator('[data-testid=reservation-status]', { hasText: '취소됨' }).waitFor();
  });

  await journey('event list pages through the cursor ("more") without gaps or repeats; category and status filters', async () => {
    // More than one page (12) of public events: top up with GA events when the run has made fewer.
    const all = async () => {
      const ids = [];
      let cursor = null;
      do {
        const r = await api(base, 'GET', `/api/v1/events?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        ids.push(...r.items.map((x) => x.id));
        cursor = r.next_cursor;
      } while (cursor);
      return ids;
    };
    let ids = await all();
    for (let i = ids.length; i < 14; i++) await makeGaEvent(base, `E2E 페이지 ${i} ${Date.now()}`);
    ids = await all();
    const pg = await newFan(base, null);
    afterJourney.push(() => pg.ctx.close());
    currentPage = pg.page;
    await pg.page.goto(`${base}/`);
    const cards = pg.page.locator('.event-card');
    await cards.nth(11).waitFor();
    if ((await cards.count()) !== 12) fail(`first page shows ${await cards.count()} events, expected 12`);
    for (let round = 0; round < 10 && (await pg.page.getByRole('button', { name: '더 보기' }).count()); round++) {
      const before = await cards.count();
      await pg.page.getByRole('button', { name: '더 보기' }).click();
      await until('the next page appended', async () => (await cards.count()) > before, 8_000, 100);
      await pg.page.locator('.loading').waitFor({ state: 'detached' });
    }
    const shown = await pg.page.$$eval('.event-card a', (as) => as.map((a) => a.getAttribute('href').split('/').pop()));
    if (new Set(shown).size !== shown.length) fail('an event shown twice');
    if (shown.length !== ids.length || shown.some((id) => !ids.includes(id))) fail(`shown ${shown.length} events, the API lists ${ids.length}`);
    if (await pg.page.getByRole('button', { name: '더 보기' }).count()) fail('"more" offered after the last page');
    // Filters: category and status narrow the list exactly as the API does (and land in the URL).
    await pg.page.getByLabel('장르').selectOption('festival');
    await pg.page.getByLabel('판매 상태').selectOption('on_sale');
    await pg.page.getByRole('button', { name: '검색' }).click();
    await pg.page.waitForURL(/category=festival/);
    if (!/status=on_sale/.test(pg.page.url())) fail(`filters not in the URL: ${pg.page.url()}`);
    const want = (await api(base, 'GET', '/api/v1/events?category=festival&status=on_sale&limit=100')).items.map((x) => x.id).sort();
    if (want.length < 2) fail(`expected several on-sale festival events, the API has ${want.length}`);
    await until('the filtered list', async () => {
      const got = await pg.page.$$eval('.event-card a', (as) => as.map((a) => a.getAttribute('href').split('/').pop()));
      return got.length === Math.min(12, want.length) && got.every((id) => want.includes(id));
    }, 8_000, 200);
  });

  await journey('errors in words: rate limited, network down, unknown event, ended session, token expired', async () => {
    const e = await newFan(base, null);
    afterJourney.push(() => e.ctx.close());
    const ep = e.page;
    currentPage = ep;
    // The list answered 429 (as the server's rate limiter does: envelope + Retry-After).
    await ep.route('**/api/v1/events?*', (route) =>
      route.fulfill({ status: 429, headers: { 'Content-Type': 'application/json', 'Retry-After': '7' }, body: JSON.stringify({ error: { code: 'rate_limited', message: 'Too many requests. Try again later.' } }) }),
    );
    await ep.goto(`${base}/`);
    const rl = ep.locator('.error[data-code=rate_limited]');
    await rl.waitFor();
    const rlText = await rl.innerText();
    if (!rlText.includes('요청이 너무 많습니다') || !/7s/.test(rlText) || /rate_limited/.test(rlText)) fail(`rate limited shown as: ${rlText}`);
    await shot(ep, '60-error-rate-limited');
    // Retry once the limiter lets go: the list comes back.
    await ep.unroute('**/api/v1/events?*');
    await rl.getByRole('button', { name: '다시 시도' }).click();
    await ep.locator('.event-card').first().waitFor();
    // The network is down.
    await ep.route('**/api/v1/events/*', (route) => route.abort('internetdisconnected'));
    await ep.goto(`${base}/events/${eventId}`);
    const net = ep.locator('.error[data-code=network_error]');
    await net.waitFor();
    if (/network_error/.test(await net.innerText())) fail('raw code shown');
    await ep.unroute('**/api/v1/events/*');
    // An event that does not exist (the real server's 404).
    await ep.goto(`${base}/events/00000000-0000-0000-0000-000000000000`);
    await ep.locator('.error[data-code=not_found]').waitFor();
    // A session the server no longer accepts: the page says so and offers to log in.
    await ep.evaluate(() => localStorage.setItem('tiketi.session', JSON.stringify({ accessToken: 'x.y.z', refreshToken: 'bogus-refresh-token' })));
    await ep.goto(`${base}/tickets`);
    const ended = ep.locator('.error[role=alert]').first();
    await ended.waitFor();
    const t = await ended.innerText();
    if (!/로그인/.test(t)) fail(`ended session shown as: ${t}`);
    await shot(ep, '61-error-session-ended');
    if ((await ep.locator('body').innerText()).trim().length < 20) fail('a blank page');

    // Token expired (the access token lives 15 minutes, so the server's 401 token_expired is played
    // for one request): the UI refreshes through the real /auth/refresh and carries on, no error.
    const fanTok = await signupApi(base, 'expired-token@e2e.test', '토큰 만료');
    const x = await newFan(base, fanTok);
    afterJourney.push(() => x.ctx.close());
    currentPage = x.page;
    const expiredOnce = { left: 1 };
    await x.page.route('**/api/v1/tickets', (route) => {
      if (expiredOnce.left-- > 0) {
        return route.fulfill({ status: 401, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ error: { code: 'token_expired', message: 'Access token expired.' } }) });
      }
      return route.continue();
    });
    const refreshed = x.page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/refresh'));
    refreshed.catch(() => {});
    await x.page.goto(`${base}/tickets`);
    if ((await refreshed).status() !== 200) fail(`refresh answered ${(await refreshed).status()}`);
    await x.page.getByRole('heading', { name: '내 티켓' }).waitFor();
    await x.page.locator('.empty').waitFor();
    if (await x.page.locator('.error').count()) fail(`an error shown after a silent refresh: ${await x.page.locator('.error').first().innerText()}`);
    const rotated = await x.page.evaluate(() => JSON.parse(localStorage.getItem('tiketi.session')));
    if (!rotated || rotated.refreshToken === fanTok.refreshToken) fail('the refresh token was not rotated');
    // The session was logged out elsewhere: the refresh is refused by the server, said in words.
    await api(base, 'POST', '/api/v1/auth/logout', { refreshToken: rotated.refreshToken });
    expiredOnce.left = 1;
    await x.page.goto(`${base}/tickets`);
    const gone = x.page.locator('.error[role=alert]').first();
    await gone.waitFor();
    const goneText = await gone.innerText();
    if (!/다시 로그인해 주세요/.test(goneText) || /refresh_token/.test(goneText)) fail(`refused refresh shown as: ${goneText}`);
    await x.page.waitForURL(/\/login\?next=/);
    await shot(x.page, '64-error-token-expired-session-gone');
  });

  await journey('Google sign-in: button only when configured, provider round trip, session, back where the user was heading, errors in words', async () => {
    // Without Google configured (the main server) the login page has no Google button.
    const plain = await newFan(base, null);
    afterJourney.push(() => plain.ctx.close());
    currentPage = plain.page;
    const prov = plain.page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/providers'));
    prov.catch(() => {}); // awaited below; never an unhandled rejection if goto fails first
    await plain.page.goto(`${base}/login`);
    const provBody = await (await prov).json();
    if (provBody.google !== false || provBody.password !== true) fail(`main server /providers: ${JSON.stringify(provBody)}`);
    await plain.page.getByRole('heading', { name: '로그인' }).waitFor();
    await plain.page.waitForTimeout(100);
    if (await plain.page.getByTestId('google-signin').count()) fail('Google button shown although /providers says google=false');

    const g = await googleStack;
    const stats = async () => (await fetch(`${g.issuer}/stats`)).json();
    const gp = await apiRaw(g.base, 'GET', '/api/v1/auth/providers');
    if (gp.status !== 200 || gp.data.google !== true || !gp.data.googleStartUrl) fail(`Google server /providers: ${gp.text}`);
    const { ctx, page: gpage } = await newFan(g.base, null);
    afterJourney.push(() => ctx.close());
    currentPage = gpage;
    const requests = [];
    let callbackLocation = null;
    ctx.on('request', (r) => requests.push(`${r.method()} ${r.url()}`));
    ctx.on('response', (r) => {
      if (r.url().includes('/api/v1/auth/google/callback')) callbackLocation = r.headers().location ?? null;
    });
    const exchanged = gpage.waitForResponse((r) => r.url().endsWith('/api/v1/auth/google/exchange'), { timeout: 20_000 });
    exchanged.catch(() => {});

    // Heading for /me without a session: sent to the login page, which offers Google.
    await gpage.goto(`${g.base}/me`);
    await gpage.waitForURL(`${g.base}/login?next=%2Fme`);
    await gpage.getByTestId('google-signin').waitFor();
    if (requests.some((r) => r.includes('/auth/google/start'))) fail('the UI probed /auth/google/start before the click');
    await shot(gpage, '29-login-with-google');
    await gpage.getByTestId('google-signin').click();

    // start -> provider (approves) -> callback -> /auth/google#code=… -> exchange -> /me
    const ex = await exchanged;
    if (ex.status() !== 200) fail(`exchange answered ${ex.status()}: ${await ex.text()}`);
    if (JSON.stringify(ex.request().postDataJSON()) !== JSON.stringify({ code: callbackLocation?.split('#code=')[1] })) {
      fail(`exchange body ${ex.request().postData()} vs callback Location ${callbackLocation}`);
    }
    await gpage.waitForURL(`${g.base}/me`);
    if (!/^\/auth\/google#code=[A-Za-z0-9_-]{20,}$/.test(callbackLocation ?? '')) fail(`callback Location: ${callbackLocation}`);
    const code = callbackLocation.split('#code=')[1];
    await gpage.getByText(GOOGLE.email).waitFor();
    await gpage.getByRole('link', { name: '내 정보' }).waitFor();
    if (gpage.url().includes('#') || gpage.url().includes(code)) fail(`the code stayed in the address bar: ${gpage.url()}`);
    const starts = requests.filter((r) => r.startsWith('GET ') && r.includes('/api/v1/auth/google/start'));
    if (starts.length !== 1) fail(`start requested ${starts.length} times`);
    if (requests.some((r) => r.includes(code))) fail('the one-time code was sent in a URL to a server');
    const tokens = await gpage.evaluate(() => JSON.parse(localStorage.getItem('tiketi.session') ?? 'null'));
    if (!tokens?.accessToken || !tokens?.refreshToken) fail('no session stored after the exchange');
    const me = await api(g.base, 'GET', '/api/v1/auth/me', undefined, tokens.accessToken);
    if (me.email !== GOOGLE.email || me.provider !== 'GOOGLE' || me.name !== GOOGLE.name) fail(`/auth/me: ${JSON.stringify(me)}`);
    const st = await stats();
    if (st.authorizations !== 1 || st.tokens !== 1) fail(`provider saw ${JSON.stringify(st)}`);
    await shot(gpage, '30-google-signed-in');

    // The spent code, replayed in the same browser: refused, in words, with the way back.
    await gpage.goto(`${g.base}/auth/google#code=${code}`);
    await gpage.locator('.error[data-code=oidc_code_invalid]', { hasText: '로그인 코드가 만료되었거나 이미 사용되었습니다' }).waitFor();
    if ((await gpage.evaluate(() => location.hash)) !== '') fail('the fragment was not cleared');
    await gpage.getByRole('link', { name: '로그인 화면으로 돌아가기' }).waitFor();
    // An error from the provider leg (#error=…), in Korean and then in English.
    await gpage.goto(`${g.base}/login`);
    await gpage.goto(`${g.base}/auth/google#error=google_denied`);
    await gpage.locator('.error[data-code=google_denied]', { hasText: 'Google 로그인이 취소되었거나 거부되었습니다.' }).waitFor();
    await gpage.getByTestId('lang-switch').click();
    await gpage.locator('.error[data-code=google_denied]', { hasText: 'Google sign-in was cancelled or refused.' }).waitFor();
    await gpage.getByTestId('lang-switch').click();
    await shot(gpage, '31-google-error');
    // A forged callback in a browser: the server sends it to the UI with #error=oidc_state_invalid.
    await gpage.goto(`${g.base}/api/v1/auth/google/callback?code=forged&state=forged-state`);
    await gpage.waitForURL(/\/auth\/google(#.*)?$/);
    await gpage.locator('.error[data-code=oidc_state_invalid]', { hasText: '다른 브라우저에서 시작되었습니다' }).waitFor();
    if ((await stats()).tokens !== 1) fail('a forged callback reached the provider');
  });
  await Promise.all([googleStack.then((g) => Promise.all([stopProc(g.proc), stopProc(g.provider)]), () => {})]);

  await journey('hold expiry (2/2): countdown reaches zero, the UI says so, the seat is available again', async () => {
    if (!expiry.page) fail('the first half did not run');
    const ep = expiry.page;
    currentPage = ep;
    await ep.getByTestId('hold-expired').waitFor({ timeout: Math.max(0, expiry.expiresAt - Date.now()) + 10_000 });
    // The in-page sampler runs every 200 ms: let it record the expired state it was just seen in.
    await ep.waitForFunction(() => window.__samples.some((x) => x[2]), null, { timeout: 3_000 }).catch(() => {});
    const samples = await ep.evaluate(() => window.__samples);
    const counting = samples.filter((x) => x[1] !== null);
    const lastCount = counting.at(-1);
    const firstExpired = samples.find((x) => x[2]);
    const distinct = new Set(counting.map((x) => x[1]));
    if (!lastCount || !/^00:0[0-2]$/.test(lastCount[1])) fail(`the countdown was last seen at ${lastCount?.[1]}`);
    if (distinct.size < 20) fail(`the countdown did not run down second by second (${distinct.size} values seen)`);
    if (!firstExpired || firstExpired[0] < expiry.expiresAt - 1_000) fail(`expired shown at ${firstExpired?.[0]}, hold ends at ${expiry.expiresAt}`);
    log(`countdown went ${counting[0]?.[1]} -> ${lastCount[1]}; expiry shown ${firstExpired[0] - expiry.expiresAt} ms after the hold's end`);
    const words = await ep.getByTestId('hold-expired').innerText();
    if (!words.includes('선점 시간이 만료되어 좌석이 해제되었습니다')) fail(`expired message: ${words}`);
    if (Date.now() < expiry.expiresAt - 1_500) fail('expired shown before the hold ended');
    if (await ep.getByRole('button', { name: /결제하기/ }).count()) fail('pay button still offered after expiry');
    await shot(ep, '27-hold-expired');
    // The server agrees and released the seat.
    await until('reservation EXPIRED on the server', async () => (await api(base, 'GET', `/api/v1/reservations/${expiry.reservationId}`, undefined, expiry.session.accessToken)).status === 'EXPIRED', 10_000, 300);
    await until('A-1-1 available again', async () => (await seatStatus(base, expiry.eventId, 'A-1-1')) === 'available', 10_000, 300);
    // A page that still believes the hold is running (loaded just before the end, or a clock behind):
    // paying is refused by the real server with hold_expired and the page turns expired, in words.
    const stale = await expiry.ctx.newPage();
    stale.on('pageerror', (e) => pageErrors.push(String(e)));
    currentPage = stale;
    await stale.route(`**/api/v1/reservations/${expiry.reservationId}`, async (route) => {
      const real = await route.fetch();
      const body = await real.json();
      await route.fulfill({ response: real, json: { ...body, status: 'PENDING', expiresAt: Date.now() + 120_000 } });
    });
    await stale.goto(`${base}/reservations/${expiry.reservationId}`);
    await stale.getByTestId('hold-countdown').waitFor();
    const refused = stale.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/api/v1/payments'));
    refused.catch(() => {});
    await stale.getByRole('button', { name: /결제하기/ }).click();
    const pr = await refused;
    const prBody = await pr.json().catch(() => ({}));
    if (pr.status() !== 409 || prBody?.error?.code !== 'hold_expired') fail(`payment after expiry: ${pr.status()} ${JSON.stringify(prBody)}`);
    await stale.getByTestId('hold-expired').waitFor();
    if (!(await stale.getByTestId('hold-expired').innerText()).includes('선점 시간이 만료되어')) fail('expiry not said in words');
    if (await stale.getByRole('button', { name: /결제하기/ }).count()) fail('pay still offered after the server said hold_expired');
    await shot(stale, '65-hold-expired-refused-by-server');
    await stale.close();
    currentPage = ep;
    await ep.locator('[data-testid=reservation-status]', { hasText: '만료' }).waitFor();
    await ep.getByRole('link', { name: '좌석 다시 선택' }).click();
    await ep.waitForURL(`${base}/events/${expiry.eventId}/seats`);
    await ep.locator('[data-seat="A-1-1"][data-status=available]').waitFor({ timeout: 8_000 });
    await shot(ep, '28-seat-released');
    afterJourney.push(() => expiry.ctx.close());
  });

  if (pageErrors.length) {
    results.push({ name: 'no uncaught page errors', ok: false, error: pageErrors.join('\n') });
  }
}

let code = 0;
// Last resort: a hung browser or server never keeps the suite waiting past the budget.
const watchdog = setTimeout(() => {
  log(`FAIL the run exceeded its budget of ${RUN_BUDGET_MS} ms; stopping`);
  results.push({ name: 'run within budget', ok: false, error: `exceeded ${RUN_BUDGET_MS} ms` });
  try {
    writeFileSync(join(ARTIFACTS, 'results.json'), JSON.stringify(results, null, 2));
  } catch {
    // artifacts dir missing
  }
  if (server && server.exitCode === null) server.kill('SIGKILL');
  for (const p of extraProcs) if (p.exitCode === null) p.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
  process.exit(1);
}, RUN_BUDGET_MS);
try {
  await main();
} catch (e) {
  log('setup failed:', e?.stack ?? e);
  code = 1;
} finally {
  await browser?.close().catch(() => {});
  await Promise.all(extraProcs.map(stopProc));
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => {
      const t = setTimeout(() => {
        server.kill('SIGKILL');
        r();
      }, 10_000);
      server.on('exit', () => {
        clearTimeout(t);
        r();
      });
    });
  }
  rmSync(work, { recursive: true, force: true });
}
clearTimeout(watchdog);
const failed = results.filter((r) => !r.ok);
writeFileSync(join(ARTIFACTS, 'results.json'), JSON.stringify(results, null, 2));
log(`${results.length - failed.length} passed, ${failed.length} failed in ${Math.round((Date.now() - runStarted) / 1000)} s; screenshots in ${ARTIFACTS}`);
process.exit(code || (failed.length ? 1 : 0) || (results.length === 0 ? 1 : 0));
