import { defineConfig } from "tsup";
import { baseConfig } from "../../tsup.config.js";

// Node-only adapter: keep `node:` imports as written and zstd-napi (native) external. The worker program
// is a string inside the bundle (src/_worker.ts), so the single entry is enough.
export default defineConfig({
  ...baseConfig,
  external: [/^node:/, "zstd-napi"],
  removeNodeProtocol: false,
});
