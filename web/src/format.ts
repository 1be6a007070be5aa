// Money, dates and countdowns. All money is an integer number of KRW; all times are epoch ms.
import type { Lang } from './i18n';

const krw = new Intl.NumberFormat('ko-KR', { style: 'currency', currency: 'KRW' });

export function formatKRW(amount: number): string {
  return krw.format(amount);
}

const locales: Record<Lang, string> = { ko: 'ko-KR', en: 'en-US' };

// Performances happen in Korea: show Seoul time whatever the browser's zone.
export const TIME_ZONE = 'Asia/Seoul';

export function formatDateTime(ms: number, lang: Lang): string {
  return new Intl.DateTimeFormat(locales[lang], {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    timeZone: TIME_ZONE,
  }).format(new Date(ms));
}

export function formatDate(ms: number, lang: Lang): string {
  return new Intl.DateTimeFormat(locales[lang], {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    timeZone: TIME_ZONE,
  }).format(new Date(ms));
}

export interface Countdown {
  done: boolean;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
  totalSeconds: number;
}

// Remaining time until `target` (ceil to whole seconds, so "00:00" only shows when it is over).
export function countdown(target: number, now: number): Countdown {
  const left = Math.max(0, Math.ceil((target - now) / 1000));
  return {
    done: target - now <= 0,
    days: Math.floor(left / 86400),
    hours: Math.floor((left % 86400) / 3600),
    minutes: Math.floor((left % 3600) / 60),
    seconds: left % 60,
    totalSeconds: left,
  };
}

const pad = (n: number) => String(n).padStart(2, '0');

// "3일 04:05:06", "04:05:06", "05:06" (ko) / "3d 04:05:06" (en).
export function formatCountdown(c: Countdown, lang: Lang): string {
  const hms = c.days > 0 || c.hours > 0 ? `${pad(c.hours)}:${pad(c.minutes)}:${pad(c.seconds)}` : `${pad(c.minutes)}:${pad(c.seconds)}`;
  if (c.days > 0) {
    return `${lang === 'ko' ? `${c.days}일` : `${c.days}d`} ${hms}`;
  }
  return hms;
}

// "about 3 minutes" style wait for the waiting room.
export function formatEta(seconds: number | null | undefined, lang: Lang): string | null {
  if (seconds === null || seconds === undefined || seconds < 0) {
    return null;
  }
  if (seconds < 60) {
    return lang === 'ko' ? `${Math.max(1, Math.round(seconds))}초` : `${Math.max(1, Math.round(seconds))} s`;
  }
  const m = Math.round(seconds / 60);
  if (m < 60) {
    return lang === 'ko' ? `약 ${m}분` : `about ${m} min`;
  }
  const h = Math.floor(m / 60);
  const rm = m % 60;
  return lang === 'ko' ? `약 ${h}시간 ${rm}분` : `about ${h} h ${rm} min`;
}

// Parses "YYYY-MM-DDTHH:MM[:SS]" from <input type=datetime-local step=1> as Seoul time -> epoch ms.
export function seoulLocalToMs(value: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/.exec(value);
  if (!m) {
    return null;
  }
  const [y, mo, d, h, mi, sec] = m.slice(1).map((x) => Number(x ?? 0));
  return Date.UTC(y, mo - 1, d, h - 9, mi, sec);
}

// The value for <input type=datetime-local>: seconds only when there are any (a sale can start at
// 20:00:30, and the browser shows HH:MM when the seconds are zero).
export function msToSeoulLocal(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000 + 9 * 3600_000);
  const s = d.toISOString();
  return s.slice(17, 19) === '00' ? s.slice(0, 16) : s.slice(0, 19);
}
