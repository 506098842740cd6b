import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Forked workers inherit the Vulkan variables that the global setup puts in process.env.
    pool: "forks",
    globalSetup: ["test/setup/swiftshader.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
