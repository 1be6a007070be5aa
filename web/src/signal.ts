// A tiny observable value: language, session and route live in these, and components re-render
// through useValue(). Kept dependency-free so the logic modules are testable in plain Node.
export interface Signal<T> {
  get(): T;
  set(v: T): void;
  subscribe(fn: (v: T) => void): () => void;
}

export function signal<T>(initial: T): Signal<T> {
  let value = initial;
  const subs = new Set<(v: T) => void>();
  return {
    get: () => value,
    set(v: T) {
      if (Object.is(v, value)) {
        return;
      }
      value = v;
      for (const fn of [...subs]) {
        fn(v);
      }
    },
    subscribe(fn) {
      subs.add(fn);
      return () => subs.delete(fn);
    },
  };
}
