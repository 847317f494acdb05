import { defineConfig } from "tsup";
import { baseConfig } from "../../tsup.config.js";

// Node-only adapter: keep `node:` imports as written, and the native hnswlib-node external.
export default defineConfig({
  ...baseConfig,
  external: [/^node:/, "hnswlib-node"],
  removeNodeProtocol: false,
});
