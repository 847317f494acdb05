import { defineConfig } from "tsup";
import { baseConfig } from "../../tsup.config.js";

// A Node app: keep `node:` imports as they are; the web page is inlined from src/web.
export default defineConfig({
  ...baseConfig,
  entry: ["src/index.ts", "src/cli.ts", "src/bin.ts"],
  platform: "node",
});
