import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Forked workers inherit the Vulkan variables that the global setup puts in process.env.
    pool: "forks",
    // Two files at a time even on a 2-core machine (Vitest's default there is one): most of a
    // test's time is SwiftShader compiling pipelines on one thread, which two files overlap well.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    globalSetup: ["test/setup/swiftshader.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
