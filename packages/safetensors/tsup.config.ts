import { defineConfig } from "tsup";
import { baseConfig } from "../../tsup.config.js";

// Two entries: the platform-neutral core and the Node file API. Splitting keeps the code they share in
// one chunk instead of two copies; `node:` modules stay `node:` imports of the Node entry only.
export default defineConfig({
  ...baseConfig,
  entry: ["src/index.ts", "src/node.ts"],
  splitting: true,
  external: [/^node:/],
  removeNodeProtocol: false,
});
