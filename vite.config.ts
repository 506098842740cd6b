// The web app lives in app/ and imports the engine from src/ (and WGSL from kernels/ with ?raw).
import { defineConfig } from "vite";

export const APP_PORT = 5173;

export default defineConfig({
  root: "app",
  // Relative asset URLs: the built site works from any sub-path (a project page, a folder).
  base: "./",
  server: { host: "127.0.0.1", port: APP_PORT, strictPort: true, open: false },
  preview: { host: "127.0.0.1", port: APP_PORT, strictPort: true },
  build: { outDir: "../dist/app", emptyOutDir: true, target: "es2022" },
  worker: { format: "es" },
  // This checkout's own dependency cache (node_modules may be shared between checkouts, and
  // another dev server rewriting node_modules/.vite would break this one's workers mid-load).
  cacheDir: "../.vite",
  // Pre-bundled at start: a dependency first seen inside a worker would otherwise make Vite
  // re-optimise and reload the page in the middle of a session.
  optimizeDeps: { include: ["comlink", "idb-keyval", "uplot", "fflate", "modern-tar"] },
});
