import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites share one stack; the health suite stops Postgres for a moment, so files run one at a time.
    fileParallelism: false,
  },
});
