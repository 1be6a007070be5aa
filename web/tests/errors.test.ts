// Every error code the server source can return has a sentence in both languages: the codes are
// read from src/ (the error table, the named factories and direct ApiError constructions), so a
// service that adds a code without words for the UI fails this test.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_MESSAGES } from '../src/i18n';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '../../src');

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'tests') sources(p, out);
    } else if (/\.(cpp|hpp)$/.test(name)) {
      out.push(p);
    }
  }
  return out;
}

const PATTERNS = [
  /CodeInfo\{\s*"([a-z][a-z0-9_]*)"/g,
  /errors::(?:make|conflict|unauthorized)\(\s*"([a-z][a-z0-9_]*)"/g,
  /ApiError[({]\s*\d{3},\s*"([a-z][a-z0-9_]*)"/g,
];
// Codes built indirectly (returned from a helper as a string, then thrown).
const INDIRECT = ['admission_required', 'admission_invalid', 'admission_expired'];

function serverCodes(): Set<string> {
  const codes = new Set<string>(INDIRECT);
  for (const f of sources(SRC)) {
    const text = readFileSync(f, 'utf8');
    for (const re of PATTERNS) {
      for (const m of text.matchAll(re)) codes.add(m[1]);
    }
  }
  return codes;
}

describe('every server error code in words', () => {
  const codes = serverCodes();
  it('finds the codes in the server source', () => {
    // The scan itself must work: these are certainly there.
    for (const c of ['seat_unavailable', 'hold_expired', 'sold_out', 'rate_limited', 'token_expired', 'queue_closed', 'insufficient_points']) {
      expect(codes.has(c), c).toBe(true);
    }
    expect(codes.size).toBeGreaterThan(40);
  });
  it('has a Korean and an English sentence for each', () => {
    const missing = [...codes].filter((c) => !ERROR_MESSAGES.ko[c] || !ERROR_MESSAGES.en[c]).sort();
    expect(missing).toEqual([]);
  });
});
