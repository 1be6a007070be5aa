import { defineConfig } from 'vitest/config';

// No Preact preset (it pulls in Babel): esbuild compiles the JSX with Preact's automatic runtime.
export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, target: 'es2020' },
  server: {
    // `npm run dev` against a running `tiketi serve` (TIKETI_API, default 127.0.0.1:8080).
    proxy: {
      '/api': { target: process.env.TIKETI_API ?? 'http://127.0.0.1:8080', ws: true, changeOrigin: false },
      '/health': { target: process.env.TIKETI_API ?? 'http://127.0.0.1:8080' },
    },
  },
  test: { environment: 'node', include: ['tests/**/*.test.ts'] },
});
