/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Tauri loads the dev server from a fixed port (devUrl http://localhost:1420)
// and the production bundle from dist/ with relative asset paths.
export default defineConfig({
  base: './',
  plugins: [react()],
  clearScreen: false,
  server: {
    port: 1420,
    strictPort: true,
  },
  // TAURI_ENV_* variables are set by the Tauri CLI during `tauri dev/build`.
  envPrefix: ['VITE_', 'TAURI_ENV_'],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    // A real `souk node` for the fake backend's contract test, when SOUK_CLI_BIN names one.
    globalSetup: ['./vitest.souk-node.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
    // A 2-core CI machine that also builds Rust can take several seconds to draw a 199-row table in
    // jsdom (vitest's 5 s default failed so): a test that hangs still fails, later.
    testTimeout: 30_000,
    // The stylesheet is read as text by a test that checks its two dark palettes agree.
    css: { include: [/app\.css/] },
  },
});
