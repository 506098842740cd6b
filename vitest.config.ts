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
    // The files a worker runs share its module graph, and so one Gpu (test/helpers/gpu.ts) and the
    // pipelines compiled on it: SwiftShader compiles each kernel once per worker instead of once
    // per file. Measured on 2 cores: 8.1 minutes against 10.5 with a fresh process per file.
    // Tests that need a device of their own (lost, destroyed, dry) make one.
    isolate: false,
    globalSetup: ["test/setup/swiftshader.ts"],
    // A safety net for a hang, not a speed check: a test's first kernels compile on SwiftShader
    // in it, which took over 2 minutes on a 2-core machine with other jobs beside the suite.
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
