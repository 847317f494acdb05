import { defineConfig } from "tsup";
import { baseConfig } from "../../tsup.config.js";

// A Node package: keep `node:` imports as they are.
export default defineConfig({
  ...baseConfig,
  external: [/^node:/],
  removeNodeProtocol: false,
});
