// Seat-map logic kept apart from the SVG so it can be unit-tested: decoding the compact plan,
// merging live status, and the selection rules (available seats only, at most `limit`).
import type { SeatingPlan, SeatsSnapshot, SeatStatus } from './types';

export interface Seat {
  id: string;
  section: string;
  row: string;
  number: number;
  x: number;
  y: number;
  category: string;
}

export function decodePlan(plan: SeatingPlan): Seat[] {
  const f = plan.seat_fields ?? ['id', 'section', 'row', 'number', 'x', 'y', 'category'];
  const at = (name: string) => f.indexOf(name);
  const [iId, iSec, iRow, iNum, iX, iY, iCat] = ['id', 'section', 'row', 'number', 'x', 'y', 'category'].map(at);
  return plan.seats.map((s) => ({
    id: String(s[iId]),
    section: String(s[iSec]),
    row: String(s[iRow]),
    number: Number(s[iNum]),
    x: Number(s[iX]),
    y: Number(s[iY]),
    category: String(s[iCat]),
  }));
}

export function statusMap(snap: SeatsSnapshot | null): Map<string, SeatStatus> {
  const m = new Map<string, SeatStatus>();
  for (const s of snap?.seats ?? []) {
    m.set(s.id, s.status);
  }
  return m;
}

export type ToggleResult = { selected: string[]; rejected?: 'limit' | 'unavailable' };

// Clicking a seat: deselect if picked, select if available and under the limit.
export function toggleSeat(
  selected: readonly string[],
  seatId: string,
  status: SeatStatus | undefined,
  limit: number,
): ToggleResult {
  if (selected.includes(seatId)) {
    return { selected: selected.filter((s) => s !== seatId) };
  }
  if (status !== 'available') {
    return { selected: [...selected], rejected: 'unavailable' };
  }
  if (selected.length >= limit) {
    return { selected: [...selected], rejected: 'limit' };
  }
  return { selected: [...selected, seatId] };
}

// After a live update: drop picks that someone else took meanwhile (returns the lost ones too).
export function reconcileSelection(
  selected: readonly string[],
  statuses: Map<string, SeatStatus>,
): { kept: string[]; lost: string[] } {
  const kept: string[] = [];
  const lost: string[] = [];
  for (const id of selected) {
    (statuses.get(id) === 'available' ? kept : lost).push(id);
  }
  return { kept, lost };
}

export function clampQuantity(q: number, limit: number, available: number): number {
  const max = Math.max(0, Math.min(limit, available));
  if (!Number.isFinite(q)) return max > 0 ? 1 : 0;
  return Math.max(max > 0 ? 1 : 0, Math.min(Math.floor(q), max));
}

export interface Bounds {
  minX: number;
  minY: number;
  width: number;
  height: number;
}

export function bounds(seats: Seat[], pad = 10): Bounds {
  if (seats.length === 0) return { minX: 0, minY: 0, width: 100, height: 100 };
  let minX = Infinity,
    minY = Infinity,
    maxX = -Infinity,
    maxY = -Infinity;
  for (const s of seats) {
    minX = Math.min(minX, s.x);
    minY = Math.min(minY, s.y);
    maxX = Math.max(maxX, s.x);
    maxY = Math.max(maxY, s.y);
  }
  return { minX: minX - pad, minY: minY - pad - 10, width: maxX - minX + 2 * pad, height: maxY - minY + 2 * pad + 10 };
}

const PALETTE = ['#7048e8', '#1c7ed6', '#0ca678', '#f08c00', '#e8590c', '#c2255c', '#5c940d', '#495057'];

export function categoryColor(color: string | undefined, index: number): string {
  return color && /^#[0-9a-fA-F]{6}$/.test(color) ? color : PALETTE[index % PALETTE.length];
}

export function seatTotal(selected: readonly string[], snap: SeatsSnapshot | null): number {
  const price = new Map((snap?.seats ?? []).map((s) => [s.id, s.price]));
  return selected.reduce((sum, id) => sum + (price.get(id) ?? 0), 0);
}
