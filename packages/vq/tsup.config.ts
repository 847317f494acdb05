import { defineConfig } from "tsup";
import { baseConfig } from "../../tsup.config.js";

// Two entries: the platform-neutral core and the Node-only worker pool (`@lowbit/vq/node`). Splitting
// keeps the shared code in one chunk; `node:` modules stay `node:` imports of the Node entry only.
export default defineConfig({
  ...baseConfig,
  entry: ["src/index.ts", "src/node.ts"],
  splitting: true,
  external: [/^node:/],
  removeNodeProtocol: false,
});
