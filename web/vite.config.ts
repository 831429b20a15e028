// Vite builds the app into dist/, which the gateway serves (WEB_DIR). `npm run dev` serves it on
// :5173 and forwards /api to a gateway on :8080, so the API stays same-origin (no CORS needed).
import { defineConfig } from "vitest/config";

export default defineConfig({
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The gateway serves the files as they are; small chunks are not worth a second round trip.
    chunkSizeWarningLimit: 300,
  },
  server: {
    proxy: {
      "/api": { target: "http://127.0.0.1:8080", changeOrigin: false },
      "/readyz": "http://127.0.0.1:8080",
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
