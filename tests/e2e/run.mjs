// Browser end-to-end tests of the web UI against the real binary (embedded shape: SQLite +
// in-process coordination, the built UI served by `tiketi serve --web-root`).
// Drives Debian's /usr/bin/chromium through playwright-core (never a downloaded browser).
//
//   TIKETI_BIN=build/release/src/app/tiketi node tests/e2e/run.mjs
//
// Screenshots of each main page go to tests/e2e/artifacts/. Exit status 0 only if every journey passed.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
// playwright-core is pinned in web/package.json (one install for the UI and its tests).
const { chromium } = createRequire(join(root, 'web/package.json'))('playwright-core');

const BIN = resolve(root, process.env.TIKETI_BIN ?? 'build/release/src/app/tiketi');
const WEB_ROOT = join(root, 'web/dist');
const ARTIFACTS = join(here, 'artifacts');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const STEP_TIMEOUT = 15_000;

const results = [];
let server = null;
let browser = null;
const work = mkdtempSync(join(tmpdir(), 'tiketi-e2e-'));

function log(...a) {
  console.log('[e2e]', ...a);
}

function fail(msg) {
  throw new Error(msg);
}

async function startServer() {
  const dataDir = join(work, 'data');
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

  server = spawn(
    BIN,
    ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--web-root', WEB_ROOT, '--log-level', 'info', '--threads', '1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logFile = [];
  server.stderr.on('data', (d) => logFile.push(d.toString()));
  const port = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error('tiketi serve did not print its port within 20 s')), 20_000);
    const rl = createInterface({ input: server.stdout });
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
    server.on('exit', (code) => rej(new Error(`tiketi serve exited early (${code}): ${logFile.join('').slice(-2000)}`)));
  });
  process.on('exit', () => writeFileSync(join(ARTIFACTS, 'server.log'), logFile.join('\n')));
  return `http://127.0.0.1:${port}`;
}

async function api(base, method, path, body, token) {
  const res = await fetch(base + path, {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) fail(`${method} ${path} -> ${res.status} ${text.slice(0, 500)}`);
  return data;
}

// A small on-sale seated event (no waiting room) made through the admin API.
async function makeEvent(base, title) {
  const { accessToken } = await api(base, 'POST', '/api/v1/auth/login', { email: 'admin@e2e.test', password: 'e2e-admin-password-1' });
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
      sale_start: now - 60_000,
      sale_end: now + 7 * day,
      performance_start: now + 8 * day,
      performance_end: now + 8 * day + 3 * 3_600_000,
      per_user_limit: 4,
      hold_minutes: 10,
      waiting_room: { enabled: false },
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
  if (pub.status !== 'on_sale') fail(`published event is ${pub.status}, expected on_sale`);
  return ev.id;
}

let currentPage = null;
async function journey(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, ms: Date.now() - started });
    log(`PASS ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push({ name, ok: false, ms: Date.now() - started, error: String(e?.stack ?? e) });
    await currentPage?.screenshot({ path: join(ARTIFACTS, `FAILED-${name.replace(/[^a-z0-9]+/gi, '-')}.png`), fullPage: true }).catch(() => {});
    log(`FAIL ${name}: ${e?.stack ?? e}`);
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

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });

  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ko-KR' });
  ctx.setDefaultTimeout(STEP_TIMEOUT);
  const page = await ctx.newPage();
  currentPage = page;
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));

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
    await a.goto(`${base}/admin`);
    await a.getByRole('heading', { name: /대시보드/ }).waitFor();
    await shot(a, '10-admin-dashboard');
    await actx.close();
  });

  if (pageErrors.length) {
    results.push({ name: 'no uncaught page errors', ok: false, error: pageErrors.join('\n') });
  }
}

let code = 0;
try {
  await main();
} catch (e) {
  log('setup failed:', e?.stack ?? e);
  code = 1;
} finally {
  await browser?.close().catch(() => {});
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
const failed = results.filter((r) => !r.ok);
writeFileSync(join(ARTIFACTS, 'results.json'), JSON.stringify(results, null, 2));
log(`${results.length - failed.length} passed, ${failed.length} failed; screenshots in ${ARTIFACTS}`);
process.exit(code || (failed.length ? 1 : 0) || (results.length === 0 ? 1 : 0));
