import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError, memoryTokenStore, toApiError } from '../src/api';
import { countdown, formatCountdown, formatEta, formatKRW, msToSeoulLocal, seoulLocalToMs } from '../src/format';
import { ERROR_MESSAGES, errorMessage, hasString, t } from '../src/i18n';
import { applyTick, backoffMs, etaSeconds } from '../src/live';
import { buildPlanSpec, parseRanges, previewSeats } from '../src/plan';
import { clampQuantity, decodePlan, reconcileSelection, seatTotal, toggleSeat } from '../src/seats';
import { checkoutHref } from '../src/pages/buy';
import type { SeatingPlan, SeatsSnapshot } from '../src/types';

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });

describe('error codes to words', () => {
  // Every code the API can return (src/core/error.cpp table + service-specific codes).
  const codes = [
    'bad_request', 'validation_failed', 'invalid_json', 'unauthorized', 'token_invalid', 'token_expired',
    'invalid_credentials', 'forbidden', 'not_found', 'method_not_allowed', 'conflict', 'email_taken',
    'seat_unavailable', 'sold_out', 'hold_expired', 'limit_exceeded', 'not_on_sale', 'idempotency_conflict',
    'payload_too_large', 'unsupported_media_type', 'header_too_large', 'rate_limited', 'internal', 'bad_gateway',
    'upstream_unavailable', 'unavailable', 'gateway_timeout', 'refresh_token_invalid', 'refresh_token_expired',
    'refresh_token_revoked', 'refresh_token_reused', 'inventory_locked', 'invalid_cursor', 'queue_closed',
    'queue_not_open', 'admission_required', 'admission_invalid', 'admission_expired', 'insufficient_points',
    'payment_failed', 'reservation_not_payable', 'not_refundable', 'seating_plan_too_large',
  ];
  it('has a Korean and an English sentence for every code', () => {
    for (const c of codes) {
      expect(ERROR_MESSAGES.ko[c], c).toBeTruthy();
      expect(ERROR_MESSAGES.en[c], c).toBeTruthy();
      expect(ERROR_MESSAGES.ko[c]).not.toEqual(ERROR_MESSAGES.en[c]);
    }
  });
  it('uses the key phrases users need', () => {
    expect(errorMessage('sold_out', 'ko')).toContain('매진');
    expect(errorMessage('sold_out', 'en')).toBe('Sold out.');
    expect(errorMessage('seat_unavailable', 'en')).toMatch(/just took/);
    expect(errorMessage('hold_expired', 'ko')).toContain('만료');
    expect(errorMessage('rate_limited', 'en')).toMatch(/Too many requests/);
    expect(errorMessage('token_expired', 'en')).toMatch(/expired/);
  });
  it('falls back by HTTP status for codes this build does not know', () => {
    expect(errorMessage('brand_new_code', 'en', 429)).toBe(ERROR_MESSAGES.en.rate_limited);
    expect(errorMessage('brand_new_code', 'ko', 503)).toBe(ERROR_MESSAGES.ko.unavailable);
    expect(errorMessage('brand_new_code', 'en', 0)).toBe(ERROR_MESSAGES.en.unknown);
  });
  it('has every UI string in both languages', () => {
    expect(t('nav.login', undefined, 'ko')).toBe('로그인');
    expect(t('seats.selected', { n: 2, max: 4 }, 'en')).toBe('Selected 2/4');
    expect(hasString('queue.title', 'en') && hasString('queue.title', 'ko')).toBe(true);
  });
  it('parses the error envelope, fields and Retry-After', async () => {
    const e = await toApiError(
      json(429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'Retry-After': '3' }),
    );
    expect(e.code).toBe('rate_limited');
    expect(e.retryAfter).toBe(3);
    const v = await toApiError(json(400, { error: { code: 'validation_failed', message: 'x', fields: [{ field: 'email', message: 'bad' }] } }));
    expect(v.fields).toEqual([{ field: 'email', message: 'bad' }]);
    const missing = await toApiError(json(404, { error: { code: 'not_found', message: 'route not found.' } }));
    expect(missing.code).toBe('not_available_yet');
    const html = await toApiError(new Response('<html>bad gateway</html>', { status: 502 }));
    expect(html.code).toBe('bad_gateway');
  });
});

describe('KRW and time formatting', () => {
  it('formats whole won with the Korean currency style', () => {
    expect(formatKRW(165000)).toBe(new Intl.NumberFormat('ko-KR', { style: 'currency', currency: 'KRW' }).format(165000));
    expect(formatKRW(165000)).toMatch(/165,000/);
    expect(formatKRW(0)).toMatch(/0/);
    expect(formatKRW(1234567)).toMatch(/1,234,567/);
    expect(formatKRW(1000)).not.toMatch(/\./); // no decimals for KRW
  });
  it('counts down in whole seconds and reports done', () => {
    const c = countdown(10_500, 0);
    expect(c.totalSeconds).toBe(11);
    expect(c.done).toBe(false);
    expect(formatCountdown(c, 'ko')).toBe('00:11');
    const d = countdown(0, 1);
    expect(d.done).toBe(true);
    expect(d.totalSeconds).toBe(0);
    const long = countdown(2 * 86400_000 + 3 * 3600_000 + 4 * 60_000 + 5_000, 0);
    expect(formatCountdown(long, 'ko')).toBe('2일 03:04:05');
    expect(formatCountdown(long, 'en')).toBe('2d 03:04:05');
    expect(formatCountdown(countdown(3600_000, 0), 'en')).toBe('01:00:00');
  });
  it('formats ETA and Seoul local times', () => {
    expect(formatEta(null, 'en')).toBeNull();
    expect(formatEta(30, 'ko')).toBe('30초');
    expect(formatEta(600, 'en')).toBe('about 10 min');
    const ms = seoulLocalToMs('2026-01-02T09:30')!;
    expect(ms).toBe(Date.UTC(2026, 0, 2, 0, 30));
    expect(msToSeoulLocal(ms)).toBe('2026-01-02T09:30');
    expect(seoulLocalToMs('nonsense')).toBeNull();
    // Seconds, for a sale that starts in a moment.
    const withSec = seoulLocalToMs('2026-01-02T09:30:15')!;
    expect(withSec).toBe(Date.UTC(2026, 0, 2, 0, 30, 15));
    expect(msToSeoulLocal(withSec + 400)).toBe('2026-01-02T09:30:15');
  });
});

describe('seat selection', () => {
  it('selects available seats up to the limit and toggles off', () => {
    let r = toggleSeat([], 'A-1-1', 'available', 2);
    expect(r.selected).toEqual(['A-1-1']);
    r = toggleSeat(r.selected, 'A-1-2', 'available', 2);
    expect(r.selected).toEqual(['A-1-1', 'A-1-2']);
    const over = toggleSeat(r.selected, 'A-1-3', 'available', 2);
    expect(over.rejected).toBe('limit');
    expect(over.selected).toHaveLength(2);
    expect(toggleSeat(r.selected, 'A-1-1', 'available', 2).selected).toEqual(['A-1-2']);
  });
  it('refuses held and sold seats', () => {
    expect(toggleSeat([], 'A-1-1', 'held', 4)).toEqual({ selected: [], rejected: 'unavailable' });
    expect(toggleSeat([], 'A-1-1', 'sold', 4).rejected).toBe('unavailable');
    expect(toggleSeat([], 'A-1-1', undefined, 4).rejected).toBe('unavailable');
  });
  it('drops picks that others took in a live update', () => {
    const st = new Map([['a', 'available' as const], ['b', 'held' as const]]);
    expect(reconcileSelection(['a', 'b', 'c'], st)).toEqual({ kept: ['a'], lost: ['b', 'c'] });
  });
  it('clamps GA quantity to limit and availability', () => {
    expect(clampQuantity(10, 4, 100)).toBe(4);
    expect(clampQuantity(3, 4, 2)).toBe(2);
    expect(clampQuantity(0, 4, 2)).toBe(1);
    expect(clampQuantity(1, 4, 0)).toBe(0);
    expect(clampQuantity(NaN, 4, 5)).toBe(1);
  });
  it('decodes the compact plan and totals prices', () => {
    const plan: SeatingPlan = {
      event_id: 'e', categories: [], sections: [], seat_count: 1,
      seat_fields: ['id', 'section', 'row', 'number', 'x', 'y', 'category'],
      seats: [['A-1-1', 'A', '1', 1, 10, 20, 'VIP']],
    };
    expect(decodePlan(plan)[0]).toEqual({ id: 'A-1-1', section: 'A', row: '1', number: 1, x: 10, y: 20, category: 'VIP' });
    const snap = { seats: [{ id: 'a', price: 1000 }, { id: 'b', price: 2500 }] } as unknown as SeatsSnapshot;
    expect(seatTotal(['a', 'b'], snap)).toBe(3500);
  });
});

describe('seating generator', () => {
  it('requires row ranges to cover every row once', () => {
    expect(parseRanges('VIP:1-2, R:3-5', 5).error).toBeUndefined();
    expect(parseRanges('VIP:1-2', 5).error).toBeTruthy();
    expect(parseRanges('VIP:1-3, R:3-5', 5).error).toBeTruthy();
    expect(parseRanges('VIP 1-2', 2).error).toBeTruthy();
  });
  it('builds a spec the API accepts and a preview of every seat', () => {
    const { spec } = buildPlanSpec({ sections: 2, rows: 3, seatsPerRow: 4, categories: 'VIP:1-1, R:2-3' });
    expect(spec!.sections.map((s) => s.code)).toEqual(['A', 'B']);
    expect(spec!.categories.map((c) => c.code)).toEqual(['VIP', 'R']);
    expect(previewSeats(spec!)).toHaveLength(24);
  });
});

describe('waiting room ticks', () => {
  it('moves my position with the head of the line', () => {
    const s = { eventId: 'e', state: 'waiting' as const, seq: 50, peopleAhead: 49, position: 50, etaSeconds: 100 };
    const n = applyTick(s, { type: 'tick', head: 40, rate: 5 });
    expect(n.peopleAhead).toBe(9);
    expect(n.position).toBe(10);
    expect(n.etaSeconds).toBe(2);
    expect(applyTick(s, { type: 'tick', head: 40, rate: 5, paused: true }).etaSeconds).toBeNull();
    // a shuffled line cannot be estimated from the head: keep the exact answer
    expect(applyTick(s, { type: 'tick', head: 40, reshuffled: true }).peopleAhead).toBe(49);
  });
  it('estimates the wait with the shopper slots, like the server', () => {
    // the same cases as src/services/queue/tests/settings_test.cpp EtaCountsTheShopperSlots
    expect(etaSeconds(20, 10, 100, 0, 600_000)).toBe(2);
    expect(etaSeconds(1, 10, 100, 100, 600_000)).toBe(6);
    expect(etaSeconds(10, 10, 100, 100, 600_000)).toBe(60);
    expect(etaSeconds(10, 10, 100, 95, 600_000)).toBe(31);
    expect(etaSeconds(10, 0.1, 100, 100, 600_000)).toBe(100);
    expect(etaSeconds(5, 0)).toBeNull();
    // a full house: the tick's slot fields slow the estimate down
    const s = { eventId: 'e', state: 'waiting' as const, seq: 50, peopleAhead: 49, position: 50, etaSeconds: 100 };
    const full = applyTick(s, { type: 'tick', head: 40, rate: 5, active: 100, maxActive: 100, sessionMs: 600_000 });
    expect(full.etaSeconds).toBe(60);
  });
  it('backs off exponentially up to 15 s', () => {
    expect(backoffMs(0)).toBe(500);
    expect(backoffMs(3)).toBe(4000);
    expect(backoffMs(20)).toBe(15000);
  });
});

describe('checkout URL', () => {
  it('makes relative return URLs absolute to this app', () => {
    const u = new URL(checkoutHref('http://127.0.0.1:9/checkout?orderId=o&successUrl=%2Fpayments%2Fsuccess&failUrl=%2Fpayments%2Ffail', 'http://app:1'));
    expect(u.searchParams.get('successUrl')).toBe('http://app:1/payments/success');
    expect(u.searchParams.get('failUrl')).toBe('http://app:1/payments/fail');
    const abs = checkoutHref('https://pg/checkout?successUrl=https%3A%2F%2Fx%2Fok', 'http://app:1');
    expect(new URL(abs).searchParams.get('successUrl')).toBe('https://x/ok');
  });
});

describe('token refresh', () => {
  const tokens = { accessToken: 'old', refreshToken: 'r1' };

  it('refreshes once on token_expired and retries with the new token', async () => {
    const store = memoryTokenStore({ ...tokens });
    const seen: string[] = [];
    const f = vi.fn(async (url: string, init?: RequestInit) => {
      if (url.endsWith('/auth/refresh')) {
        expect(JSON.parse(String(init!.body))).toEqual({ refreshToken: 'r1' });
        return json(200, { accessToken: 'new', refreshToken: 'r2', expiresIn: 900 });
      }
      const auth = (init!.headers as Record<string, string>).Authorization;
      seen.push(auth);
      return auth === 'Bearer new' ? json(200, { ok: true }) : json(401, { error: { code: 'token_expired', message: '' } });
    });
    const c = new ApiClient({ store, fetch: f as unknown as typeof fetch });
    await expect(c.get('/api/v1/auth/me')).resolves.toEqual({ ok: true });
    expect(seen).toEqual(['Bearer old', 'Bearer new']);
    expect(store.get()).toEqual({ accessToken: 'new', refreshToken: 'r2' });
  });

  it('shares one refresh between concurrent requests', async () => {
    const store = memoryTokenStore({ ...tokens });
    let refreshes = 0;
    const f = vi.fn(async (url: string, init?: RequestInit) => {
      if (url.endsWith('/auth/refresh')) {
        refreshes++;
        await new Promise((r) => setTimeout(r, 10));
        return json(200, { accessToken: 'new', refreshToken: 'r2' });
      }
      const auth = (init!.headers as Record<string, string>).Authorization;
      return auth === 'Bearer new' ? json(200, 1) : json(401, { error: { code: 'token_expired', message: '' } });
    });
    const c = new ApiClient({ store, fetch: f as unknown as typeof fetch });
    await Promise.all([c.get('/a'), c.get('/b'), c.get('/c')]);
    expect(refreshes).toBe(1);
  });

  it('ends the session when the refresh token is rejected', async () => {
    const store = memoryTokenStore({ ...tokens });
    const ended = vi.fn();
    const f = vi.fn(async (url: string) =>
      url.endsWith('/auth/refresh')
        ? json(401, { error: { code: 'refresh_token_reused', message: '' } })
        : json(401, { error: { code: 'token_expired', message: '' } }),
    );
    const c = new ApiClient({ store, fetch: f as unknown as typeof fetch, onSessionEnded: ended });
    const err = await c.get('/x').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('token_expired');
    expect(store.get()).toBeNull();
    expect(ended).toHaveBeenCalledWith(expect.objectContaining({ code: 'refresh_token_reused' }));
  });

  it('does not refresh for other 401s and never retries more than once', async () => {
    const store = memoryTokenStore({ ...tokens });
    const f = vi.fn(async () => json(401, { error: { code: 'token_invalid', message: '' } }));
    const c = new ApiClient({ store, fetch: f as unknown as typeof fetch });
    await expect(c.get('/x')).rejects.toMatchObject({ code: 'token_invalid' });
    expect(f).toHaveBeenCalledTimes(1);
    expect(store.get()).toBeNull();
  });

  it('reports network failures as network_error', async () => {
    const c = new ApiClient({ store: memoryTokenStore(), fetch: (async () => { throw new TypeError('fetch failed'); }) as unknown as typeof fetch });
    await expect(c.get('/x')).rejects.toMatchObject({ code: 'network_error', status: 0 });
  });
});
