import { defineConfig } from 'vite';

// The server serves dist/ at / under a strict Content-Security-Policy (script-src 'self',
// style-src 'self'): everything is emitted as files, nothing inline.
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: {
    proxy: { '/api': process.env.GPUAAS_URL || 'http://127.0.0.1:8080' },
  },
});
