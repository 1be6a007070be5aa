// Camera scanning for the check-in page: the browser's BarcodeDetector (Chrome on Android and
// ChromeOS, Safari; not desktop Linux) reads the ticket's QR code from the camera. Where it is
// missing the page offers only the code field, which is also what a USB/Bluetooth scanner types into.
// The ticket QR (GET /tickets/{code}/qr.svg) holds the ticket code itself.

export interface DetectedCode {
  rawValue: string;
}

export interface Detector {
  detect(source: unknown): Promise<DetectedCode[]>;
}

interface ScanGlobals {
  BarcodeDetector?: new (o?: { formats: string[] }) => Detector;
  navigator?: { mediaDevices?: { getUserMedia?: unknown } };
  isSecureContext?: boolean;
}

export function scannerSupported(g: ScanGlobals = globalThis as unknown as ScanGlobals): boolean {
  return typeof g.BarcodeDetector === 'function' && typeof g.navigator?.mediaDevices?.getUserMedia === 'function' && g.isSecureContext !== false;
}

export function createDetector(g: ScanGlobals = globalThis as unknown as ScanGlobals): Detector | null {
  return g.BarcodeDetector ? new g.BarcodeDetector({ formats: ['qr_code'] }) : null;
}

// The code in what a QR holds: the code itself, or a link that carries it (?code=… or the last path
// segment), trimmed. Empty when there is nothing usable.
export function codeFromQr(raw: string): string {
  const s = raw.trim();
  if (!/^https?:\/\//i.test(s)) return s.slice(0, 128);
  try {
    const u = new URL(s);
    const q = u.searchParams.get('code');
    if (q) return q.trim().slice(0, 128);
    const parts = u.pathname.split('/').filter(Boolean);
    if (/^qr(\.svg)?$/i.test(parts.at(-1) ?? '')) parts.pop(); // …/tickets/{code}/qr.svg
    return decodeURIComponent(parts.at(-1) ?? '').slice(0, 128);
  } catch {
    return '';
  }
}

export interface ScanLoopOptions {
  detector: Detector;
  source: unknown; // the <video> showing the camera
  onCode: (code: string) => void;
  intervalMs?: number; // between two looks at the frame
  repeatMs?: number; // the same code held in front of the camera is reported once per this
  now?: () => number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (id: unknown) => void;
}

// Looks at the camera frame every intervalMs; reports each code once (again only after repeatMs, so a
// ticket held still is not checked in twice in a row by the scanner itself: the server answers
// already_used anyway, but the staff member should see the first answer).
export class ScanLoop {
  private timer: unknown = null;
  private stopped = true;
  private last: { code: string; at: number } | null = null;

  constructor(private readonly o: ScanLoopOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) (this.o.clearTimeout ?? clearTimeout)(this.timer as ReturnType<typeof setTimeout>);
    this.timer = null;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = (this.o.setTimeout ?? setTimeout)(() => void this.look(), ms);
  }

  async look(): Promise<void> {
    if (this.stopped) return;
    const now = this.o.now ?? Date.now;
    try {
      const found = await this.o.detector.detect(this.o.source);
      for (const f of found) {
        const code = codeFromQr(f.rawValue);
        if (!code) continue;
        const t = now();
        if (this.last && this.last.code === code && t - this.last.at < (this.o.repeatMs ?? 3_000)) continue;
        this.last = { code, at: t };
        if (!this.stopped) this.o.onCode(code);
        break;
      }
    } catch {
      // a frame the detector could not read (camera warming up): try the next one
    }
    this.schedule(this.o.intervalMs ?? 250);
  }
}
