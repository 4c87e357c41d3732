import { defineConfig } from 'vite';

// The dashboard is served by web_bridge at /; its API lives under /api/v1 on the same origin.
export default defineConfig({
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 2000 },
  server: { proxy: { '/api': { target: 'http://127.0.0.1:8080', ws: true } } },
  test: { environment: 'happy-dom', include: ['test/**/*.test.ts'] },
});
