import { defineConfig } from "tsup";

/**
 * The one build configuration every package re-exports: ESM only, declarations, sourcemaps,
 * modern target. A package that needs more entries (a CLI bin) extends it in its own config.
 */
export const baseConfig = {
  entry: ["src/index.ts"],
  format: ["esm"],
  target: "es2022",
  platform: "neutral",
  dts: true,
  sourcemap: true,
  clean: true,
  treeshake: true,
  splitting: false,
} as const;

export default defineConfig(baseConfig);
