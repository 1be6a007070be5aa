// Check-in camera scanning (src/scan.ts): when it is offered, what a QR yields, and the scan loop
// with a scripted detector and clock.
import { describe, expect, it } from 'vitest';
import { ScanLoop, codeFromQr, scannerSupported, type Detector } from '../src/scan';

describe('camera scanning', () => {
  it('is offered only with BarcodeDetector, a camera API and a secure page', () => {
    const BarcodeDetector = function () {} as unknown as new () => Detector;
    const md = { getUserMedia: () => undefined };
    expect(scannerSupported({ BarcodeDetector, navigator: { mediaDevices: md }, isSecureContext: true })).toBe(true);
    expect(scannerSupported({ navigator: { mediaDevices: md }, isSecureContext: true })).toBe(false);
    expect(scannerSupported({ BarcodeDetector, navigator: {}, isSecureContext: true })).toBe(false);
    expect(scannerSupported({ BarcodeDetector, navigator: { mediaDevices: md }, isSecureContext: false })).toBe(false);
  });

  it('reads the ticket code from what the QR holds', () => {
    expect(codeFromQr('  TK-ABC123  ')).toBe('TK-ABC123');
    expect(codeFromQr('https://tiketi.example/api/v1/tickets/TK-ABC123/qr.svg')).toBe('TK-ABC123');
    expect(codeFromQr('https://tiketi.example/checkin?code=TK-XYZ')).toBe('TK-XYZ');
    expect(codeFromQr('https://tiketi.example/t/TK%2D9')).toBe('TK-9');
    expect(codeFromQr('')).toBe('');
    expect(codeFromQr('x'.repeat(500))).toHaveLength(128);
  });

  it('reports each code once per repeat window, survives unreadable frames, and stops', async () => {
    let t = 1_000;
    const frames: (string[] | Error)[] = [new Error('warming up'), ['A1'], ['A1'], [], ['B2'], ['A1']];
    const detector: Detector = {
      detect: async () => {
        const f = frames.shift() ?? [];
        if (f instanceof Error) throw f;
        return f.map((rawValue) => ({ rawValue }));
      },
    };
    const seen: string[] = [];
    const timers: (() => void)[] = [];
    const loop = new ScanLoop({
      detector,
      source: {},
      onCode: (c) => seen.push(c),
      repeatMs: 3_000,
      now: () => t,
      setTimeout: (fn) => timers.push(fn),
      clearTimeout: () => timers.splice(0),
    });
    loop.start();
    const step = async (advance: number) => {
      t += advance;
      const fn = timers.shift();
      expect(fn).toBeDefined();
      fn!();
      await new Promise<void>((r) => queueMicrotask(() => r()));
      await Promise.resolve();
    };
    await step(0); // error: nothing, but the loop goes on
    expect(timers).toHaveLength(1);
    await step(250); // A1
    await step(250); // A1 again within 3 s: not reported
    await step(250); // nothing
    await step(250); // B2
    expect(seen).toEqual(['A1', 'B2']);
    await step(3_000); // A1 after the window: reported again
    expect(seen).toEqual(['A1', 'B2', 'A1']);
    loop.stop();
    expect(timers).toHaveLength(0);
    await loop.look(); // a look after stop reports nothing and schedules nothing
    expect(timers).toHaveLength(0);
  });
});
