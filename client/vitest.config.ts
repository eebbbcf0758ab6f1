/**
 * One Vitest run over the whole workspace: the library's unit tests in Node, the React
 * tests in happy-dom (each such file says so in a `@vitest-environment` comment).
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [react()],
  test: {
    include: ['packages/*/test/**/*.test.{ts,tsx}', 'demo/src/**/*.test.{ts,tsx}'],
    environment: 'node',
    restoreMocks: true,
  },
});
