import { defineConfig } from "vitest/config";

// One config for the whole repository. Unit tests sit beside their package (packages/*/test), the
// conformance and end-to-end workspaces import the built packages as a user would.
export default defineConfig({
  test: {
    include: [
      "packages/*/test/**/*.test.ts",
      "apps/*/test/**/*.test.ts",
      "test/*/src/**/*.test.ts",
      "tools/*/test/**/*.test.ts",
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default"],
  },
});
