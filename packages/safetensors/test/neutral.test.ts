import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The main entry runs in browsers: only src/node.ts may use Node modules or globals.
const src = fileURLToPath(new URL("../src", import.meta.url));
const core = readdirSync(src).filter((f) => f.endsWith(".ts") && f !== "node.ts");

describe("platform-neutral core", () => {
  it("finds the core modules", () => {
    expect(core).toContain("index.ts");
    expect(core.length).toBeGreaterThan(5);
  });

  it.each(core)("%s uses no Node modules or globals", (file) => {
    const text = readFileSync(join(src, file), "utf8");
    expect(text).not.toMatch(/from "node:|require\(|\bBuffer\b|\bprocess\.|__dirname/);
    expect(text).not.toMatch(/from "\.\/node\.js"/);
  });
});
