// The waiting room's live channel (src/live.ts QueueChannel) with a scripted WebSocket, EventSource,
// fetch and clock: WebSocket first, SSE when the socket never opens, polling when both are blocked,
// reconnect with backoff after a drop, and the place in line kept across all of it.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { QueueChannel, type ConnState } from '../src/live';
import { api } from '../src/session';
import type { QueueStanding } from '../src/types';

const EV = 'ev-q';

class FakeWs {
  static all: FakeWs[] = [];
  static refuse = false; // sockets never open (a proxy that blocks WebSockets)
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  sent: string[] = [];
  closed = false;
  constructor(readonly url: string) {
    FakeWs.all.push(this);
    if (FakeWs.refuse) setTimeout(() => this.onclose?.(), 0); // a timer (faked): a retry loop fails the test instead of hanging it
  }
  open() {
    this.onopen?.();
  }
  push(m: unknown) {
    this.onmessage?.({ data: JSON.stringify(m) });
  }
  drop() {
    this.onclose?.();
  }
  send(s: string) {
    this.sent.push(s);
  }
  close() {
    this.closed = true;
  }
}

class FakeEs {
  static all: FakeEs[] = [];
  static refuse = false;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  listeners = new Map<string, (e: { data: string }) => void>();
  closed = false;
  constructor(readonly url: string) {
    FakeEs.all.push(this);
    if (FakeEs.refuse) setTimeout(() => this.onerror?.(), 0);
  }
  addEventListener(name: string, fn: (e: { data: string }) => void) {
    this.listeners.set(name, fn);
  }
  open() {
    this.onopen?.();
  }
  emit(name: string, m: unknown) {
    this.listeners.get(name)?.({ data: JSON.stringify(m) });
  }
  close() {
    this.closed = true;
  }
}

// The server's side of the line: GET/POST /queue answer `standing`; every request is logged.
function server(initial: QueueStanding) {
  const s = { standing: initial, requests: [] as string[] };
  vi.stubGlobal('fetch', async (url: string, init?: RequestInit) => {
    s.requests.push(`${init?.method ?? 'GET'} ${url}`);
    return new Response(JSON.stringify(s.standing), { status: 200, headers: { 'Content-Type': 'application/json' } });
  });
  return s;
}

const waiting = (position: number, seq = 10): QueueStanding => ({
  eventId: EV,
  state: 'waiting',
  position,
  peopleAhead: position - 1,
  etaSeconds: position,
  seq,
  paused: false,
});

function channel() {
  const seen: QueueStanding[] = [];
  const states: ConnState[] = [];
  const errors: string[] = [];
  const ch = new QueueChannel({ eventId: EV, onStanding: (s) => seen.push(s), onError: (e) => errors.push(e.code) });
  ch.state.subscribe((s) => states.push(s));
  return { ch, seen, states, errors, last: () => seen.at(-1) };
}

// Lets scripted timers at "now" fire and the stubbed fetch's Response bodies (real I/O) resolve.
// setImmediate is left real (not in `toFake`); the UI's tsconfig has no Node types, hence the cast.
const setImmediate = (globalThis as unknown as { setImmediate: (fn: () => void) => void }).setImmediate;
async function settle(rounds = 6) {
  for (let i = 0; i < rounds; i++) {
    await vi.advanceTimersByTimeAsync(1);
    await new Promise<void>((r) => setImmediate(() => r()));
  }
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  FakeWs.all = [];
  FakeEs.all = [];
  FakeWs.refuse = false;
  FakeEs.refuse = false;
  vi.stubGlobal('window', { location: { protocol: 'http:', host: 'tiketi.test' } });
  vi.stubGlobal('WebSocket', FakeWs);
  vi.stubGlobal('EventSource', FakeEs);
  const mem = new Map<string, string>();
  vi.stubGlobal('localStorage', {
    getItem: (k: string) => mem.get(k) ?? null,
    setItem: (k: string, v: string) => void mem.set(k, v),
    removeItem: (k: string) => void mem.delete(k),
  });
  api.setTokens({ accessToken: 'acc', refreshToken: 'ref' });
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('waiting room channel', () => {
  it('joins, goes live over a WebSocket and moves the position with ticks', async () => {
    const srv = server(waiting(5, 20));
    const { ch, states, last } = channel();
    await ch.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(srv.requests[0]).toBe(`POST /api/v1/events/${EV}/queue`);
    expect(FakeWs.all).toHaveLength(1);
    expect(FakeWs.all[0].url).toBe(`ws://tiketi.test/api/v1/events/${EV}/queue/ws?access_token=acc`);
    expect(ch.state.get()).toBe('connecting');
    FakeWs.all[0].open();
    expect(ch.state.get()).toBe('websocket');
    // The head of the line moves past two people: two fewer ahead of me.
    FakeWs.all[0].push({ type: 'tick', head: 17, rate: 10, paused: false });
    expect(last()).toMatchObject({ position: 3, peopleAhead: 2 });
    // A heartbeat asks for the exact standing every 5 s.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(FakeWs.all[0].sent).toContain(JSON.stringify({ type: 'status' }));
    expect(states).toEqual(['websocket']); // 'connecting' was the initial state, checked above
    ch.stop();
  });

  it('reconnects after a drop with backoff, shows offline meanwhile, and keeps the place', async () => {
    const srv = server(waiting(4, 30));
    const { ch, last } = channel();
    await ch.start();
    await vi.advanceTimersByTimeAsync(0);
    FakeWs.all[0].open();
    FakeWs.all[0].drop();
    expect(ch.state.get()).toBe('offline');
    expect(FakeWs.all).toHaveLength(1);
    // The server moved the line while we were away: the reconnect asks for the exact standing first.
    srv.standing = waiting(2, 30);
    await vi.advanceTimersByTimeAsync(499);
    expect(FakeWs.all).toHaveLength(1); // backoff: 500 ms before the first retry
    await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeWs.all).toHaveLength(2);
    expect(srv.requests.filter((r) => r.startsWith('POST'))).toHaveLength(1); // never a second join
    expect(srv.requests.at(-1)).toBe(`GET /api/v1/events/${EV}/queue`);
    expect(last()).toMatchObject({ position: 2 });
    FakeWs.all[1].open();
    expect(ch.state.get()).toBe('websocket');
    // A second drop after reconnecting waits 500 ms again (the counter resets on messages).
    FakeWs.all[1].push({ type: 'status', ...waiting(2, 30) });
    FakeWs.all[1].drop();
    await vi.advanceTimersByTimeAsync(500);
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeWs.all).toHaveLength(3);
    ch.stop();
    expect(FakeWs.all[2].closed).toBe(true);
  });

  it('falls back to Server-Sent Events when the WebSocket never opens', async () => {
    server(waiting(3, 40));
    FakeWs.refuse = true;
    const { ch, last } = channel();
    await ch.start();
    for (let i = 0; i < 40 && FakeEs.all.length === 0; i++) await settle(1);
    expect(FakeWs.all).toHaveLength(1);
    expect(FakeEs.all).toHaveLength(1);
    expect(FakeEs.all[0].url).toBe(`/api/v1/events/${EV}/queue/stream?access_token=acc`);
    FakeEs.all[0].open();
    expect(ch.state.get()).toBe('sse');
    FakeEs.all[0].emit('tick', { type: 'tick', head: 39, rate: 10 });
    expect(last()).toMatchObject({ position: 1, peopleAhead: 0 });
    FakeEs.all[0].emit('admitted', { type: 'admitted', eventId: EV, state: 'admitted', admissionToken: 'tok' });
    expect(last()).toMatchObject({ state: 'admitted', admissionToken: 'tok' });
    expect(FakeEs.all[0].closed).toBe(true); // nothing more to wait for
  });

  it('polls every 3 s when neither WebSockets nor SSE get through', async () => {
    const srv = server(waiting(6, 50));
    FakeWs.refuse = true;
    FakeEs.refuse = true;
    const { ch, last } = channel();
    await ch.start();
    // WebSocket refused, then EventSource refused (each a 0-ms timer), then the first poll.
    for (let i = 0; i < 40 && ch.state.get() !== 'poll'; i++) await settle(1);
    expect(ch.state.get()).toBe('poll');
    expect(FakeWs.all).toHaveLength(1); // one refused socket, not a retry loop
    expect(FakeEs.all).toHaveLength(1);
    const gets = () => srv.requests.filter((r) => r === `GET /api/v1/events/${EV}/queue`).length;
    const before = gets();
    srv.standing = waiting(5, 50);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(gets()).toBe(before + 1);
    expect(last()).toMatchObject({ position: 5 });
    expect(ch.state.get()).toBe('poll');
    ch.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(gets()).toBe(before + 1);
  });

  it('takes a place again when the server says it dropped us', async () => {
    const srv = server(waiting(2, 60));
    const { ch } = channel();
    await ch.start();
    await vi.advanceTimersByTimeAsync(0);
    FakeWs.all[0].open();
    FakeWs.all[0].push({ type: 'status', eventId: EV, state: 'none' });
    await vi.advanceTimersByTimeAsync(0);
    expect(srv.requests.filter((r) => r.startsWith('POST'))).toHaveLength(2);
    ch.stop();
  });
});
