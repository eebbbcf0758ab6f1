/**
 * Builds the demo into `dist/` as static files. The page uses relative URLs (`/ws`, `/v1/…`,
 * `/demo-users.json`) because it is served from the same origin as the API; `npm run dev`
 * proxies those paths to the local load balancer (`SWITCHBOARD_URL`, default
 * http://127.0.0.1:8080) so the dev server behaves the same.
 */
import tailwindcss from '@tailwindcss/vite';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const target = process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react(), tailwindcss()],
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: {
      '/ws': { target, ws: true, changeOrigin: false },
      '/v1': { target },
      '/demo-users.json': { target },
    },
  },
});
