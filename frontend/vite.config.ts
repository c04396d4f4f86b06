import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";
import { pwa } from "./pwa/plugin.ts";

// The build lands in dist/, which frontend.go embeds. The page is served
// with a strict CSP (no inline script or style): nothing is inlined
// (assetsInlineLimit 0), and scripts/check-dist.mjs verifies the output.
// pwa() adds the installable app's icons and service worker (pwa/).
export default defineConfig({
  plugins: [react(), pwa()],
  build: {
    outDir: "dist",
    emptyOutDir: false, // scripts/clean-dist.mjs keeps dist/.gitkeep
    assetsDir: "assets",
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: "es2022",
  },
  server: {
    host: "127.0.0.1",
    proxy: {
      // `npm run dev` next to `make run`: the API is the Go server.
      "/api": process.env.CHORUS_URL ?? "http://127.0.0.1:8080",
    },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}", "pwa/**/*.test.ts"],
    setupFiles: ["src/i18n.ts", "src/test-setup.ts"],
    testTimeout: 20000,
  },
});
