// The admin's seating-plan generator form -> the API's plan spec (PUT /admin/events/{id}/seating),
// plus a client-side preview with the same geometry as the server (10 units between seats).
export interface SimplePlan {
  sections: number; // A, B, C…
  rows: number;
  seatsPerRow: number;
  // "VIP:1-2, R:3-10": category code and the rows it covers in every section
  categories: string;
}

export interface PlanSpec {
  categories: { code: string; name: string; color?: string }[];
  sections: {
    code: string;
    name: string;
    rows: number;
    seats_per_row: number;
    x: number;
    y: number;
    row_labels: 'numeric' | 'alpha';
    categories: { from_row: number; to_row: number; category: string }[];
  }[];
}

export const PITCH = 10;
const GAP = 30;

export function parseRanges(text: string, rows: number): { ranges: { from_row: number; to_row: number; category: string }[]; error?: string } {
  const ranges: { from_row: number; to_row: number; category: string }[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9]{1,16})\s*:\s*(\d+)\s*-\s*(\d+)$/.exec(part);
    if (!m) return { ranges, error: `"${part}"` };
    ranges.push({ category: m[1], from_row: Number(m[2]), to_row: Number(m[3]) });
  }
  ranges.sort((a, b) => a.from_row - b.from_row);
  let next = 1;
  for (const r of ranges) {
    if (r.from_row !== next || r.to_row < r.from_row) return { ranges, error: `rows ${r.from_row}-${r.to_row}` };
    next = r.to_row + 1;
  }
  if (next !== rows + 1) return { ranges, error: `rows must cover 1-${rows}` };
  return { ranges };
}

export function buildPlanSpec(p: SimplePlan): { spec?: PlanSpec; error?: string } {
  if (!(p.sections >= 1 && p.sections <= 26 && p.rows >= 1 && p.seatsPerRow >= 1)) return { error: 'sizes' };
  const { ranges, error } = parseRanges(p.categories, p.rows);
  if (error) return { error };
  const codes = [...new Set(ranges.map((r) => r.category))];
  const width = p.seatsPerRow * PITCH + GAP;
  return {
    spec: {
      categories: codes.map((c) => ({ code: c, name: c })),
      sections: Array.from({ length: p.sections }, (_, i) => {
        const code = String.fromCharCode(65 + i);
        return {
          code,
          name: `${code}`,
          rows: p.rows,
          seats_per_row: p.seatsPerRow,
          x: i * width,
          y: 0,
          row_labels: 'numeric' as const,
          categories: ranges,
        };
      }),
    },
  };
}

export function previewSeats(spec: PlanSpec): { x: number; y: number; category: string }[] {
  const out: { x: number; y: number; category: string }[] = [];
  for (const s of spec.sections) {
    for (let r = 1; r <= s.rows; r++) {
      const cat = s.categories.find((c) => r >= c.from_row && r <= c.to_row)?.category ?? '';
      for (let n = 1; n <= s.seats_per_row; n++) out.push({ x: s.x + (n - 1) * PITCH + PITCH, y: s.y + (r - 1) * PITCH + PITCH, category: cat });
    }
  }
  return out;
}
