// Live seat status for the seat map: a WebSocket (`GET /api/v1/events/{id}/seats/ws`) pushing only
// the seats that changed, merged over a snapshot from `GET /api/v1/events/{id}/seats`.
//
// Protocol (server -> client, JSON):
//   {"type":"seats","eventId":"…","seq":<int>,"at":<ms>,"seats":[{"id":"…","status":"available|held|sold"}]}
//   {"type":"resync","eventId":"…"}   -> refetch GET /seats
//
// Order matters: the socket is opened first and the snapshot fetched after it opened, so no change
// can fall between the two; messages that arrive before the snapshot are kept and applied over it
// in sequence order. A gap in `seq`, an unknown seat or a `resync` refetches the snapshot. When the
// socket cannot connect, the map polls GET /seats (If-None-Match, 304 when unchanged) every few
// seconds and keeps trying the socket with backoff. The connection state is always visible.
import { ApiError, toApiError } from './api';
import { backoffMs } from './live';
import { signal, type Signal } from './signal';
import type { SeatsSnapshot, SeatStatus } from './types';

export type SeatConn = 'connecting' | 'websocket' | 'poll' | 'offline';

export interface SeatChange {
  id: string;
  status: SeatStatus;
}

export interface SeatsMessage {
  type: 'seats';
  eventId: string;
  seq: number;
  at: number;
  seats: SeatChange[];
}

export interface ResyncMessage {
  type: 'resync';
  eventId: string;
}

export type SeatLiveMessage = SeatsMessage | ResyncMessage;

const STATUSES: ReadonlySet<string> = new Set(['available', 'held', 'sold']);
// Messages kept while the snapshot is on its way; more than this and the snapshot is fetched again.
export const MAX_PENDING = 1000;

// Validates one frame; anything malformed or for another event is null (ignored).
export function parseSeatMessage(data: string, eventId: string): SeatLiveMessage | null {
  let m: unknown;
  try {
    m = JSON.parse(data);
  } catch {
    return null;
  }
  if (!m || typeof m !== 'object') return null;
  const o = m as Record<string, unknown>;
  if (o.eventId !== undefined && o.eventId !== eventId) return null;
  if (o.type === 'resync') return { type: 'resync', eventId };
  if (o.type !== 'seats' || typeof o.seq !== 'number' || !Number.isInteger(o.seq) || !Array.isArray(o.seats)) return null;
  const seats: SeatChange[] = [];
  for (const s of o.seats as unknown[]) {
    const c = s as Record<string, unknown> | null;
    if (!c || typeof c.id !== 'string' || typeof c.status !== 'string' || !STATUSES.has(c.status)) return null;
    seats.push({ id: c.id, status: c.status as SeatStatus });
  }
  return { type: 'seats', eventId, seq: o.seq, at: typeof o.at === 'number' ? o.at : 0, seats };
}

export interface LiveSeats {
  snap: SeatsSnapshot | null; // merged view; null while waiting for a snapshot
  seq: number | null; // last applied message (null: none since the snapshot)
  pending: SeatsMessage[]; // arrived before the snapshot
}

export interface MergeResult {
  state: LiveSeats;
  changed: boolean; // snap differs: re-render
  resync: boolean; // fetch GET /seats again
}

export const emptyLive = (): LiveSeats => ({ snap: null, seq: null, pending: [] });

function summarize(seats: SeatsSnapshot['seats']): SeatsSnapshot['summary'] {
  const s = { available: 0, held: 0, sold: 0 };
  for (const x of seats) s[x.status] += 1;
  return s;
}

// Applies changes to a snapshot. `unknown` reports seat ids the snapshot does not have (the plan
// changed under us: refetch).
export function mergeChanges(snap: SeatsSnapshot, changes: readonly SeatChange[]): { snap: SeatsSnapshot; changed: boolean; unknown: boolean } {
  if (changes.length === 0) return { snap, changed: false, unknown: false };
  const next = new Map<string, SeatStatus>();
  for (const c of changes) next.set(c.id, c.status); // the last word on a seat in one frame wins
  let changed = false;
  let found = 0;
  const seats = snap.seats.map((s) => {
    const st = next.get(s.id);
    if (st === undefined) return s;
    found += 1;
    if (st === s.status) return s;
    changed = true;
    return { ...s, status: st };
  });
  const unknown = found < next.size;
  if (!changed) return { snap, changed: false, unknown };
  return { snap: { ...snap, seats, summary: summarize(seats) }, changed: true, unknown };
}

export function applySeatMessage(state: LiveSeats, msg: SeatLiveMessage): MergeResult {
  if (msg.type === 'resync') {
    return { state, changed: false, resync: true };
  }
  if (state.seq !== null && msg.seq <= state.seq) {
    return { state, changed: false, resync: false }; // already applied
  }
  if (!state.snap) {
    if (state.pending.some((p) => p.seq === msg.seq)) return { state, changed: false, resync: false };
    if (state.pending.length >= MAX_PENDING) {
      return { state: { ...state, pending: [] }, changed: false, resync: true };
    }
    return { state: { ...state, pending: [...state.pending, msg] }, changed: false, resync: false };
  }
  const gap = state.seq !== null && msg.seq > state.seq + 1;
  const m = mergeChanges(state.snap, msg.seats);
  return { state: { snap: m.snap, seq: msg.seq, pending: [] }, changed: m.changed, resync: gap || m.unknown };
}

// A fresh snapshot, then every message that arrived meanwhile in sequence order. A snapshot that
// names its own `seq` makes older messages moot.
export function applySnapshot(state: LiveSeats, snap: SeatsSnapshot): MergeResult {
  const snapSeq = typeof (snap as { seq?: unknown }).seq === 'number' ? ((snap as { seq?: number }).seq ?? null) : null;
  const pending = [...state.pending].sort((a, b) => a.seq - b.seq).filter((p) => snapSeq === null || p.seq > snapSeq);
  let cur: SeatsSnapshot = snap;
  let seq: number | null = snapSeq;
  let resync = false;
  for (const p of pending) {
    if (seq !== null && p.seq > seq + 1) resync = true; // a message is missing
    const m = mergeChanges(cur, p.seats);
    cur = m.snap;
    resync ||= m.unknown;
    seq = p.seq;
  }
  return { state: { snap: cur, seq, pending: [] }, changed: true, resync };
}

export interface WebSocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(): void;
}

export interface SeatChannelOptions {
  eventId: string;
  onSnapshot: (s: SeatsSnapshot) => void;
  onError: (e: ApiError | null) => void;
  baseUrl?: string; // for fetch; '' = same origin
  wsUrl?: string; // full ws:// URL; default from window.location
  fetch?: typeof fetch;
  webSocket?: (url: string) => WebSocketLike;
  pollMs?: number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (t: unknown) => void;
}

export class SeatChannel {
  readonly state: Signal<SeatConn> = signal<SeatConn>('connecting');
  private live: LiveSeats = emptyLive();
  private ws: WebSocketLike | null = null;
  private wsOpen = false;
  private etag: string | null = null;
  private lastServerSnap: SeatsSnapshot | null = null;
  private fetchGen = 0;
  private attempt = 0;
  private wsTimer: unknown = null;
  private pollTimer: unknown = null;
  private polling = false;
  private closed = false;
  private readonly f: typeof fetch;
  private readonly st: (fn: () => void, ms: number) => unknown;
  private readonly ct: (t: unknown) => void;

  constructor(private readonly o: SeatChannelOptions) {
    this.f = o.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
    this.st = o.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
    this.ct = o.clearTimeout ?? ((t) => clearTimeout(t as ReturnType<typeof setTimeout>));
  }

  start(): void {
    this.closed = false;
    this.openWs();
  }

  stop(): void {
    this.closed = true;
    this.fetchGen += 1;
    if (this.wsTimer !== null) this.ct(this.wsTimer);
    if (this.pollTimer !== null) this.ct(this.pollTimer);
    this.wsTimer = this.pollTimer = null;
    this.polling = false;
    this.dropWs();
  }

  // After a failed hold, or when the user asks: an exact answer now.
  refresh(): void {
    if (this.closed) return; // a timer that outlived the page
    void this.resync();
  }

  private get seatsPath(): string {
    return `/api/v1/events/${encodeURIComponent(this.o.eventId)}/seats`;
  }

  private wsUrl(): string {
    if (this.o.wsUrl) return this.o.wsUrl;
    const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${window.location.host}${this.seatsPath}/ws`;
  }

  private dropWs(): void {
    const ws = this.ws;
    this.ws = null;
    this.wsOpen = false;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close();
    } catch {
      // already closed
    }
  }

  private openWs(): void {
    if (this.closed) return;
    this.dropWs();
    if (!this.polling) this.state.set('connecting');
    let ws: WebSocketLike;
    try {
      ws = this.o.webSocket ? this.o.webSocket(this.wsUrl()) : (new WebSocket(this.wsUrl()) as unknown as WebSocketLike);
    } catch {
      this.wsDown(false);
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.wsOpen = true;
      this.attempt = 0;
      this.stopPolling();
      this.state.set('websocket');
      // Socket first, snapshot second: every change after this point reaches us as a message.
      void this.resync();
    };
    ws.onmessage = (ev) => this.onMessage(String(ev.data));
    ws.onerror = () => {
      // onclose follows and decides
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.wsOpen = false;
      this.wsDown(opened);
    };
  }

  // The socket closed (or never opened): poll meanwhile and try the socket again with backoff.
  private wsDown(wasOpen: boolean): void {
    if (this.closed) return;
    if (wasOpen) this.attempt = 0;
    const delay = backoffMs(this.attempt++);
    this.startPolling();
    if (this.wsTimer !== null) this.ct(this.wsTimer);
    this.wsTimer = this.st(() => {
      this.wsTimer = null;
      this.openWs();
    }, delay);
  }

  private onMessage(data: string): void {
    const msg = parseSeatMessage(data, this.o.eventId);
    if (!msg) return;
    const r = applySeatMessage(this.live, msg);
    this.live = r.state;
    if (r.changed && this.live.snap) this.o.onSnapshot(this.live.snap);
    if (r.resync) void this.resync();
  }

  private async resync(): Promise<void> {
    // Messages from now on wait for the new snapshot.
    this.live = { snap: null, seq: null, pending: [] };
    await this.fetchSnapshot();
  }

  private async fetchSnapshot(): Promise<boolean> {
    const gen = ++this.fetchGen;
    try {
      const headers: Record<string, string> = { Accept: 'application/json' };
      if (this.etag && this.lastServerSnap) headers['If-None-Match'] = this.etag;
      const res = await this.f(`${this.o.baseUrl ?? ''}${this.seatsPath}`, { headers });
      let snap: SeatsSnapshot;
      if (res.status === 304 && this.lastServerSnap) {
        snap = this.lastServerSnap;
      } else if (res.ok) {
        snap = (await res.json()) as SeatsSnapshot;
        this.etag = res.headers.get('ETag');
        this.lastServerSnap = snap;
      } else {
        throw await toApiError(res);
      }
      if (gen !== this.fetchGen || this.closed) return true;
      const r = applySnapshot(this.live, snap);
      this.live = r.state;
      if (this.live.snap) this.o.onSnapshot(this.live.snap);
      this.o.onError(null);
      if (r.resync) {
        this.lastServerSnap = null; // force a full body next time
        void this.resync();
      }
      return true;
    } catch (e) {
      if (gen !== this.fetchGen || this.closed) return false;
      this.o.onError(e instanceof ApiError ? e : new ApiError(0, 'network_error', String(e)));
      return false;
    }
  }

  private startPolling(): void {
    if (this.polling || this.closed) return;
    this.polling = true;
    const tick = async () => {
      this.pollTimer = null;
      if (!this.polling || this.closed) return;
      if (!this.wsOpen) {
        this.live = { snap: null, seq: null, pending: [] };
        const ok = await this.fetchSnapshot();
        if (!this.polling || this.closed) return;
        if (!this.wsOpen) this.state.set(ok ? 'poll' : 'offline');
      }
      this.pollTimer = this.st(() => void tick(), this.o.pollMs ?? 3_000);
    };
    void tick();
  }

  private stopPolling(): void {
    this.polling = false;
    if (this.pollTimer !== null) this.ct(this.pollTimer);
    this.pollTimer = null;
  }
}
