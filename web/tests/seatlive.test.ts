import { describe, expect, it } from 'vitest';
import {
  MAX_PENDING,
  SeatChannel,
  applySeatMessage,
  applySnapshot,
  emptyLive,
  mergeChanges,
  parseSeatMessage,
  type LiveSeats,
  type SeatsMessage,
  type WebSocketLike,
} from '../src/seatlive';
import type { SeatsSnapshot, SeatStatus } from '../src/types';

const EV = 'ev-1';

function snapshot(statuses: Record<string, SeatStatus>, extra: Record<string, unknown> = {}): SeatsSnapshot {
  const seats = Object.entries(statuses).map(([id, status]) => ({ id, label: id, ticketTypeId: 'tt', price: 1000, status }));
  const summary = { available: 0, held: 0, sold: 0 };
  for (const s of seats) summary[s.status] += 1;
  return { eventId: EV, onSale: true, summary, seats, quotas: [], ...extra } as SeatsSnapshot;
}

const msg = (seq: number, seats: Record<string, SeatStatus>): SeatsMessage => ({
  type: 'seats',
  eventId: EV,
  seq,
  at: 1000 + seq,
  seats: Object.entries(seats).map(([id, status]) => ({ id, status })),
});

const statusOf = (s: SeatsSnapshot | null, id: string) => s?.seats.find((x) => x.id === id)?.status;

describe('seat message parsing', () => {
  it('accepts the protocol frames and rejects anything else', () => {
    expect(parseSeatMessage(JSON.stringify({ type: 'seats', eventId: EV, seq: 3, at: 5, seats: [{ id: 'A-1-1', status: 'held' }] }), EV)).toEqual({
      type: 'seats',
      eventId: EV,
      seq: 3,
      at: 5,
      seats: [{ id: 'A-1-1', status: 'held' }],
    });
    expect(parseSeatMessage('{"type":"resync","eventId":"ev-1"}', EV)).toEqual({ type: 'resync', eventId: EV });
    expect(parseSeatMessage('{"type":"resync","eventId":"other"}', EV)).toBeNull();
    expect(parseSeatMessage('{"type":"seats","eventId":"ev-1","seq":1,"seats":[{"id":"x","status":"gone"}]}', EV)).toBeNull();
    expect(parseSeatMessage('{"type":"seats","eventId":"ev-1","seq":1.5,"seats":[]}', EV)).toBeNull();
    expect(parseSeatMessage('{"type":"seats","eventId":"ev-1","seats":[]}', EV)).toBeNull();
    expect(parseSeatMessage('not json', EV)).toBeNull();
    expect(parseSeatMessage('{"type":"hello"}', EV)).toBeNull();
  });
});

describe('merging live seat changes', () => {
  it('replaces only the changed seats and recounts the summary', () => {
    const s = snapshot({ a: 'available', b: 'available', c: 'sold' });
    const m = mergeChanges(s, [{ id: 'a', status: 'held' }]);
    expect(m.changed).toBe(true);
    expect(m.unknown).toBe(false);
    expect(statusOf(m.snap, 'a')).toBe('held');
    expect(statusOf(m.snap, 'b')).toBe('available');
    expect(m.snap.summary).toEqual({ available: 1, held: 1, sold: 1 });
    expect(statusOf(s, 'a')).toBe('available'); // the input is not mutated
    expect(mergeChanges(s, [{ id: 'b', status: 'available' }]).changed).toBe(false);
    expect(mergeChanges(s, [{ id: 'zz', status: 'held' }]).unknown).toBe(true);
  });

  it('keeps messages that arrive before the snapshot and applies them over it in order', () => {
    let st: LiveSeats = emptyLive();
    st = applySeatMessage(st, msg(8, { a: 'available' })).state; // out of order on purpose
    st = applySeatMessage(st, msg(7, { a: 'held', b: 'held' })).state;
    st = applySeatMessage(st, msg(7, { a: 'held', b: 'held' })).state; // duplicate
    expect(st.pending.map((p) => p.seq)).toEqual([8, 7]);
    // The snapshot was taken between 7 and 8 (a and b held).
    const r = applySnapshot(st, snapshot({ a: 'held', b: 'held', c: 'available' }));
    expect(r.resync).toBe(false);
    expect(r.state.seq).toBe(8);
    expect(r.state.pending).toEqual([]);
    expect(statusOf(r.state.snap, 'a')).toBe('available'); // 8 is the last word on a
    expect(statusOf(r.state.snap, 'b')).toBe('held');
  });

  it('drops buffered messages the snapshot already covers when it names its seq', () => {
    let st: LiveSeats = emptyLive();
    st = applySeatMessage(st, msg(4, { a: 'held' })).state;
    st = applySeatMessage(st, msg(5, { b: 'held' })).state;
    const r = applySnapshot(st, snapshot({ a: 'available', b: 'available' }, { seq: 4 })); // a released after 4
    expect(statusOf(r.state.snap, 'a')).toBe('available');
    expect(statusOf(r.state.snap, 'b')).toBe('held');
    expect(r.state.seq).toBe(5);
    expect(applySnapshot(emptyLive(), snapshot({ a: 'held' }, { seq: 9 })).state.seq).toBe(9);
  });

  it('ignores old and duplicate frames and asks for a resync on a gap, an unknown seat or resync', () => {
    let st = applySnapshot(emptyLive(), snapshot({ a: 'available', b: 'available' })).state;
    let r = applySeatMessage(st, msg(10, { a: 'held' }));
    expect(r.changed).toBe(true);
    expect(r.resync).toBe(false); // the first frame after a snapshot sets the sequence
    st = r.state;
    r = applySeatMessage(st, msg(10, { a: 'sold' }));
    expect(r.changed).toBe(false);
    expect(statusOf(r.state.snap, 'a')).toBe('held');
    r = applySeatMessage(st, msg(9, { b: 'sold' }));
    expect(r.changed).toBe(false);
    r = applySeatMessage(st, msg(11, { b: 'sold' }));
    expect(r.resync).toBe(false);
    expect(statusOf(r.state.snap, 'b')).toBe('sold');
    r = applySeatMessage(r.state, msg(13, { b: 'available' }));
    expect(r.resync).toBe(true); // 12 never came
    expect(statusOf(r.state.snap, 'b')).toBe('available'); // still applied meanwhile
    expect(applySeatMessage(st, msg(11, { nope: 'held' })).resync).toBe(true);
    expect(applySeatMessage(st, { type: 'resync', eventId: EV }).resync).toBe(true);
  });

  it('detects a gap among buffered messages', () => {
    let st: LiveSeats = emptyLive();
    st = applySeatMessage(st, msg(1, { a: 'held' })).state;
    st = applySeatMessage(st, msg(3, { a: 'sold' })).state;
    expect(applySnapshot(st, snapshot({ a: 'available' })).resync).toBe(true);
  });

  it('stops buffering past the limit and asks for a fresh snapshot', () => {
    let st: LiveSeats = emptyLive();
    for (let i = 1; i <= MAX_PENDING; i++) st = applySeatMessage(st, msg(i, { a: i % 2 ? 'held' : 'available' })).state;
    const r = applySeatMessage(st, msg(MAX_PENDING + 1, { a: 'sold' }));
    expect(r.resync).toBe(true);
    expect(r.state.pending).toEqual([]);
  });
});

// A scripted WebSocket, fetch and clock for the channel.
class FakeWs implements WebSocketLike {
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  closed = false;
  constructor(readonly url: string) {}
  close() {
    this.closed = true;
  }
  open() {
    this.onopen?.({});
  }
  send(m: unknown) {
    this.onmessage?.({ data: JSON.stringify(m) });
  }
  fail() {
    this.onclose?.({});
  }
}

function harness(seats: () => SeatsSnapshot) {
  const log: string[] = [];
  const sockets: FakeWs[] = [];
  const timers: { fn: () => void; ms: number; id: number }[] = [];
  let nextId = 1;
  const requests: { url: string; inm?: string }[] = [];
  let etag = 1;
  let lastBody = '';
  const fetchFn = (async (url: string, init?: RequestInit) => {
    const h = (init?.headers ?? {}) as Record<string, string>;
    requests.push({ url, inm: h['If-None-Match'] });
    log.push('fetch');
    const body = JSON.stringify(seats());
    if (body !== lastBody) {
      etag += 1;
      lastBody = body;
    }
    if (h['If-None-Match'] === `W/"${etag}"`) return new Response(null, { status: 304 });
    return new Response(body, { status: 200, headers: { 'Content-Type': 'application/json', ETag: `W/"${etag}"` } });
  }) as typeof fetch;
  const snaps: SeatsSnapshot[] = [];
  const errors: unknown[] = [];
  const ch = new SeatChannel({
    eventId: EV,
    onSnapshot: (s) => snaps.push(s),
    onError: (e) => e && errors.push(e),
    wsUrl: 'ws://test/api/v1/events/ev-1/seats/ws',
    fetch: fetchFn,
    webSocket: (url) => {
      log.push('ws');
      const w = new FakeWs(url);
      sockets.push(w);
      return w;
    },
    pollMs: 3000,
    setTimeout: (fn, ms) => {
      const id = nextId++;
      timers.push({ fn, ms, id });
      return id;
    },
    clearTimeout: (id) => {
      const i = timers.findIndex((t) => t.id === id);
      if (i >= 0) timers.splice(i, 1);
    },
  });
  const runTimers = async () => {
    const due = timers.splice(0, timers.length);
    for (const t of due) t.fn();
    await flush();
  };
  return { ch, log, sockets, timers, requests, snaps, errors, runTimers };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('seat channel', () => {
  it('opens the socket first, then fetches the snapshot, and merges frames that raced it', async () => {
    let server = snapshot({ a: 'available', b: 'available' });
    const h = harness(() => server);
    h.ch.start();
    expect(h.log).toEqual(['ws']); // nothing fetched before the socket is open
    expect(h.ch.state.get()).toBe('connecting');
    h.sockets[0].open();
    expect(h.ch.state.get()).toBe('websocket');
    expect(h.log).toEqual(['ws', 'fetch']);
    // A change lands while the snapshot is in flight (the snapshot was read before it).
    h.sockets[0].send(msg(1, { a: 'held' }));
    await flush();
    const last = h.snaps.at(-1)!;
    expect(statusOf(last, 'a')).toBe('held');
    server = snapshot({ a: 'held', b: 'sold' });
    h.sockets[0].send(msg(2, { b: 'sold' }));
    expect(statusOf(h.snaps.at(-1)!, 'b')).toBe('sold');
    expect(h.snaps.at(-1)!.summary).toEqual({ available: 0, held: 1, sold: 1 });
    expect(h.log.filter((x) => x === 'fetch').length).toBe(1); // pushes, no polling
  });

  it('refetches on resync and on a gap', async () => {
    let server = snapshot({ a: 'available' });
    const h = harness(() => server);
    h.ch.start();
    h.sockets[0].open();
    await flush();
    server = snapshot({ a: 'sold' });
    h.sockets[0].send({ type: 'resync', eventId: EV });
    await flush();
    expect(statusOf(h.snaps.at(-1)!, 'a')).toBe('sold');
    expect(h.requests.length).toBe(2);
    h.sockets[0].send(msg(5, { a: 'available' }));
    h.sockets[0].send(msg(7, { a: 'held' }));
    await flush();
    expect(h.requests.length).toBe(3);
  });

  it('falls back to polling with If-None-Match when the socket cannot connect, and goes live again', async () => {
    let server = snapshot({ a: 'available' });
    const h = harness(() => server);
    h.ch.start();
    h.sockets[0].fail(); // never opened (route missing, proxy blocks upgrades)
    await flush();
    expect(h.ch.state.get()).toBe('poll');
    expect(h.requests.length).toBe(1);
    expect(h.requests[0].inm).toBeUndefined();
    // One poll timer and one socket retry timer.
    expect(h.timers.map((t) => t.ms).sort((x, y) => x - y)).toEqual([500, 3000]);
    const pollTimer = h.timers.find((t) => t.ms === 3000)!;
    h.timers.splice(h.timers.indexOf(pollTimer), 1);
    pollTimer.fn();
    await flush();
    expect(h.requests[1].inm).toMatch(/^W\//); // unchanged map: a 304
    const before = h.snaps.length;
    expect(statusOf(h.snaps.at(-1)!, 'a')).toBe('available');
    server = snapshot({ a: 'held' });
    const poll2 = h.timers.find((t) => t.ms === 3000)!;
    h.timers.splice(h.timers.indexOf(poll2), 1);
    poll2.fn();
    await flush();
    expect(h.snaps.length).toBeGreaterThan(before);
    expect(statusOf(h.snaps.at(-1)!, 'a')).toBe('held');
    // The socket retry comes back: live again, polling stops.
    const retry = h.timers.find((t) => t.ms === 500)!;
    h.timers.splice(h.timers.indexOf(retry), 1);
    retry.fn();
    expect(h.sockets.length).toBe(2);
    expect(h.ch.state.get()).toBe('poll'); // still polling until the socket opens
    h.sockets[1].open();
    await flush();
    expect(h.ch.state.get()).toBe('websocket');
    expect(h.timers.some((t) => t.ms === 3000)).toBe(false);
  });

  it('backs off between failed socket attempts and shows offline when polling fails too', async () => {
    const h = harness(() => {
      throw new Error('down');
    });
    h.ch.start();
    h.sockets[0].fail();
    await flush();
    expect(h.ch.state.get()).toBe('offline');
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const retry = h.timers.find((t) => t.ms !== 3000)!;
      delays.push(retry.ms);
      h.timers.splice(h.timers.indexOf(retry), 1);
      retry.fn();
      h.sockets.at(-1)!.fail();
      await flush();
    }
    expect(delays).toEqual([500, 1000, 2000, 4000]);
    expect(h.errors.length).toBeGreaterThan(0);
  });

  it('reconnects after a drop and takes a fresh snapshot; stop closes everything', async () => {
    const server = snapshot({ a: 'available' });
    const h = harness(() => server);
    h.ch.start();
    h.sockets[0].open();
    await flush();
    h.sockets[0].send(msg(40, { a: 'held' }));
    h.sockets[0].fail();
    await flush();
    expect(h.ch.state.get()).toBe('poll');
    const retry = h.timers.find((t) => t.ms === 500)!;
    h.timers.splice(h.timers.indexOf(retry), 1);
    retry.fn();
    h.sockets[1].open();
    await flush();
    // A new connection may number its frames anew: seq 1 after seq 40 is not "old".
    h.sockets[1].send(msg(1, { a: 'sold' }));
    expect(statusOf(h.snaps.at(-1)!, 'a')).toBe('sold');
    h.ch.stop();
    expect(h.sockets[1].closed).toBe(true);
    expect(h.timers.length).toBe(0);
  });

  it('refresh() re-reads the snapshot while running and does nothing once stopped', async () => {
    const server = snapshot({ a: 'available' });
    const h = harness(() => server);
    h.ch.start();
    h.sockets[0].open();
    await flush();
    const fetches = () => h.log.filter((x) => x === 'fetch').length;
    const n = fetches();
    h.ch.refresh(); // the page re-reads GA counts on a timer and after a refused hold
    await flush();
    expect(fetches()).toBe(n + 1);
    h.ch.stop();
    h.ch.refresh(); // a timer that outlived the page
    await flush();
    expect(fetches()).toBe(n + 1);
  });
});
