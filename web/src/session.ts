// The signed-in user, the shared API client and per-event admission tokens.
import { ApiClient, localTokenStore } from './api';
import { signal } from './signal';
import type { Session, User } from './types';

export const user = signal<User | null>(null);
export const sessionNotice = signal<string | null>(null); // error code when a session ended by itself

export const api = new ApiClient({
  store: localTokenStore(),
  onSessionEnded: (reason) => {
    user.set(null);
    sessionNotice.set(reason.code);
  },
});

export function startSession(s: Session): void {
  api.setTokens({ accessToken: s.accessToken, refreshToken: s.refreshToken });
  user.set(s.user);
  sessionNotice.set(null);
}

export async function loadUser(): Promise<void> {
  if (!api.tokens) return;
  try {
    user.set(await api.get<User>('/api/v1/auth/me'));
  } catch {
    // ended session already cleared by the client; network errors keep the tokens for later
  }
}

export async function logout(): Promise<void> {
  const t = api.tokens;
  api.setTokens(null);
  user.set(null);
  if (t) {
    await api.post('/api/v1/auth/logout', { refreshToken: t.refreshToken }, { auth: false }).catch(() => undefined);
  }
}

export interface Admission {
  token: string;
  expiresAt: number;
}

const admissionKey = (eventId: string) => `tiketi.admission.${eventId}`;

export function saveAdmission(eventId: string, a: Admission): void {
  try {
    sessionStorage.setItem(admissionKey(eventId), JSON.stringify(a));
  } catch {
    // kept only in memory of the page
  }
}

export function admissionFor(eventId: string, now = Date.now()): Admission | null {
  try {
    const raw = sessionStorage.getItem(admissionKey(eventId));
    if (!raw) return null;
    const a = JSON.parse(raw) as Admission;
    return a.expiresAt > now ? a : null;
  } catch {
    return null;
  }
}

export function clearAdmission(eventId: string): void {
  try {
    sessionStorage.removeItem(admissionKey(eventId));
  } catch {
    // nothing stored
  }
}

// Payments waiting for the gateway's redirect: orderId -> payment/reservation.
export interface PendingPayment {
  paymentId: string;
  reservationId?: string;
  purpose: 'reservation' | 'point_charge';
}

export function savePending(orderId: string, p: PendingPayment): void {
  try {
    localStorage.setItem(`tiketi.pay.${orderId}`, JSON.stringify(p));
  } catch {
    // the success page will report it cannot find the payment
  }
}

export function pendingFor(orderId: string): PendingPayment | null {
  try {
    const raw = localStorage.getItem(`tiketi.pay.${orderId}`);
    return raw ? (JSON.parse(raw) as PendingPayment) : null;
  } catch {
    return null;
  }
}
