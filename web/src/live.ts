// The waiting room's live channel: WebSocket first, Server-Sent Events when WebSockets are blocked,
// polling when both are. The state is always visible to the user. Reconnects with backoff; the
// place in line lives on the server, so a reload or reconnect never loses it.
import { ApiError } from './api';
import { api } from './session';
import { signal, type Signal } from './signal';
import type { QueueStanding } from './types';

export type ConnState = 'connecting' | 'websocket' | 'sse' | 'poll' | 'offline';

export interface Tick {
  type: 'tick';
  head?: number;
  waiting?: number;
  active?: number;
  maxActive?: number;
  sessionMs?: number;
  rate?: number;
  paused?: boolean;
  reshuffled?: boolean;
}

// Estimated wait in whole seconds for the user at `position` (1 = next), the server's formula
// (src/services/queue/domain/settings.cpp eta_seconds): the admission rate while shopper slots are
// free, then one place per ended session (maxActive per sessionMs) once they are taken. null when
// admission is stopped.
export function etaSeconds(position: number, rate: number, maxActive = 0, active = -1, sessionMs = 0): number | null {
  if (position <= 0) return 0;
  if (!(rate > 0)) return null;
  const whole = (secs: number) => Math.ceil(secs - 1e-9);
  if (!(maxActive > 0) || !(sessionMs > 0)) return whole(position / rate);
  const free = Math.max(0, maxActive - Math.max(0, active));
  if (position <= free) return whole(position / rate);
  const turnover = Math.min(rate, (maxActive * 1000) / sessionMs);
  return whole(free / rate + (position - free) / turnover);
}

// Between exact answers, a FIFO line moves with the "now serving" head: the people ahead of me are
// those with a sequence between head and mine.
export function applyTick(s: QueueStanding, tick: Tick): QueueStanding {
  if (s.state !== 'waiting' || tick.reshuffled || typeof tick.head !== 'number' || typeof s.seq !== 'number') {
    return { ...s, paused: tick.paused ?? s.paused };
  }
  const aheadByHead = Math.max(0, s.seq - tick.head - 1);
  const ahead = Math.min(s.peopleAhead ?? aheadByHead, aheadByHead);
  const rate = tick.rate ?? 0;
  const eta = tick.paused
    ? null
    : rate > 0
      ? etaSeconds(ahead + 1, rate, tick.maxActive, tick.active, tick.sessionMs)
      : (s.etaSeconds ?? null);
  return { ...s, peopleAhead: ahead, position: ahead + 1, paused: tick.paused ?? s.paused, etaSeconds: eta };
}

export function backoffMs(attempt: number): number {
  return Math.min(15_000, 500 * 2 ** Math.min(attempt, 5));
}

interface Options {
  eventId: string;
  onStanding: (s: QueueStanding) => void;
  onError: (e: ApiError) => void;
}

export class QueueChannel {
  readonly state: Signal<ConnState> = signal<ConnState>('connecting');
  private ws: WebSocket | null = null;
  private es: EventSource | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private closed = false;
  private attempt = 0;
  private wsFailed = false;
  private sseFailed = false;
  private standing: QueueStanding | null = null;

  constructor(private readonly o: Options) {}

  // Join (idempotent: a rejoin returns the same place), then go live.
  async start(): Promise<void> {
    try {
      const s = await api.post<QueueStanding>(`/api/v1/events/${encodeURIComponent(this.o.eventId)}/queue`);
      this.emit(s);
    } catch (e) {
      this.o.onError(e instanceof ApiError ? e : new ApiError(0, 'network_error', String(e)));
      if (e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 429) {
        this.state.set('offline');
        return;
      }
    }
    if (this.standing?.state === 'admitted' || this.closed) return;
    this.connect();
  }

  stop(): void {
    this.closed = true;
    this.teardown();
  }

  private emit(s: QueueStanding): void {
    this.standing = s;
    this.o.onStanding(s);
    if (s.state === 'admitted' || s.state === 'closed') {
      // Nothing more to wait for.
      this.closed = true;
      this.teardown();
    }
  }

  private teardown(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.timer = null;
    this.heartbeat = null;
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.onerror = null;
      this.ws.onmessage = null;
      try {
        this.ws.close();
      } catch {
        // already closed
      }
    }
    this.es?.close();
    this.ws = null;
    this.es = null;
  }

  private onMessage(data: string): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return;
    }
    this.attempt = 0;
    if (m.type === 'tick') {
      if (this.standing) this.emit(applyTick(this.standing, m as unknown as Tick));
    } else if (m.type === 'status' || m.type === 'admitted') {
      const s = m as unknown as QueueStanding;
      if (s.state === 'none') {
        // Dropped from the line (missed heartbeats): take a place again.
        void this.rejoin();
        return;
      }
      this.emit(s);
    } else if (m.type === 'error') {
      this.o.onError(new ApiError(0, String(m.code ?? 'unknown'), String(m.message ?? '')));
    }
  }

  private async rejoin(): Promise<void> {
    try {
      this.emit(await api.post<QueueStanding>(`/api/v1/events/${encodeURIComponent(this.o.eventId)}/queue`));
    } catch (e) {
      if (e instanceof ApiError) this.o.onError(e);
    }
  }

  private url(kind: 'ws' | 'stream'): string {
    const token = api.tokens?.accessToken ?? '';
    const base = `/api/v1/events/${encodeURIComponent(this.o.eventId)}/queue/${kind}?access_token=${encodeURIComponent(token)}`;
    if (kind === 'stream') return base;
    const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${window.location.host}${base}`;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    this.teardown();
    // Refreshes an expired access token before it goes into a URL.
    try {
      const s = await api.get<QueueStanding>(`/api/v1/events/${encodeURIComponent(this.o.eventId)}/queue`);
      if (s.state === 'none') await this.rejoin();
      else this.emit(s);
      if (this.closed) return;
    } catch (e) {
      if (e instanceof ApiError && e.code === 'not_found') {
        await this.rejoin();
      } else if (e instanceof ApiError && e.status === 401) {
        this.o.onError(e);
        this.state.set('offline');
        return;
      }
    }
    if (!this.wsFailed && typeof WebSocket !== 'undefined') this.openWebSocket();
    else if (!this.sseFailed && typeof EventSource !== 'undefined') this.openSse();
    else this.poll();
  }

  private retry(): void {
    if (this.closed) return;
    this.state.set('offline');
    const delay = backoffMs(this.attempt++);
    this.timer = setTimeout(() => void this.connect(), delay);
  }

  private openWebSocket(): void {
    this.state.set('connecting');
    let opened = false;
    const ws = new WebSocket(this.url('ws'));
    this.ws = ws;
    ws.onopen = () => {
      opened = true;
      this.state.set('websocket');
      this.heartbeat = setInterval(() => {
        try {
          ws.send(JSON.stringify({ type: 'status' }));
        } catch {
          // the close handler reconnects
        }
      }, 5_000);
    };
    ws.onmessage = (e) => this.onMessage(String(e.data));
    ws.onclose = () => {
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.heartbeat = null;
      if (!opened) this.wsFailed = true; // never opened: blocked by a proxy, try SSE
      this.retryOrFallback(opened);
    };
  }

  private openSse(): void {
    this.state.set('connecting');
    let opened = false;
    const es = new EventSource(this.url('stream'));
    this.es = es;
    es.onopen = () => {
      opened = true;
      this.state.set('sse');
    };
    for (const name of ['status', 'tick', 'admitted']) {
      es.addEventListener(name, (e) => this.onMessage(String((e as MessageEvent).data)));
    }
    es.onerror = () => {
      es.close();
      if (!opened) this.sseFailed = true;
      this.retryOrFallback(opened);
    };
  }

  private retryOrFallback(wasOpen: boolean): void {
    if (this.closed) return;
    if (wasOpen) this.retry();
    else void this.connect();
  }

  private poll(): void {
    this.state.set('poll');
    const tick = async () => {
      if (this.closed) return;
      try {
        const s = await api.get<QueueStanding>(`/api/v1/events/${encodeURIComponent(this.o.eventId)}/queue`);
        this.state.set('poll');
        if (s.state === 'none') await this.rejoin();
        else this.emit(s);
      } catch (e) {
        if (e instanceof ApiError && e.code === 'not_found') await this.rejoin();
        else this.state.set('offline');
      }
      if (!this.closed) this.timer = setTimeout(() => void tick(), 3_000);
    };
    void tick();
  }
}
