import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The rules of STYLE.md that a machine can check, for every published package (packages/*).
const root = resolve(fileURLToPath(import.meta.url), "../../../..");
const packagesDir = join(root, "packages");
const dirs = readdirSync(packagesDir).filter((d) => existsSync(join(packagesDir, d, "package.json")));

interface PackageJson {
  name: string;
  version: string;
  private?: boolean;
  type?: string;
  sideEffects?: boolean | string[];
  files?: string[];
  license?: string;
  exports?: Record<string, unknown>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  engines?: Record<string, string>;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** Native modules live only in their adapter packages (STYLE.md). */
const NATIVE_ADAPTERS = new Set(["@lowbit/store-s3", "@lowbit/hnsw", "@lowbit/zstd"]);

it("finds the packages", () => {
  expect(dirs.length).toBeGreaterThanOrEqual(9);
});

describe.each(dirs)("packages/%s", (dir) => {
  const pkgDir = join(packagesDir, dir);
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as PackageJson;

  it("is a public ESM package named @lowbit/<dir> shipping only dist", () => {
    expect(pkg.name).toBe(`@lowbit/${dir}`);
    expect(pkg.private).toBeUndefined();
    expect(pkg.type).toBe("module");
    expect(pkg.files).toEqual(["dist"]);
    expect(pkg.license).toBe("MIT");
    expect(pkg.engines?.["node"]).toBe(">=20");
    if (dir === "cli") expect(pkg.sideEffects).toEqual(["./dist/bin.js"]);
    else expect(pkg.sideEffects).toBe(false);
  });

  it("has an exports map with types first", () => {
    const main = pkg.exports?.["."] as Record<string, string> | undefined;
    expect(main).toBeDefined();
    expect(Object.keys(main!)[0]).toBe("types");
    expect(main!["types"]).toBe("./dist/index.d.ts");
    expect(main!["import"]).toBe("./dist/index.js");
  });

  it("depends at run time only on lowbit packages of the same version (or is a native adapter)", () => {
    for (const [dep, range] of Object.entries(pkg.dependencies ?? {})) {
      if (NATIVE_ADAPTERS.has(pkg.name)) continue;
      expect(dep, `${pkg.name} depends on ${dep}`).toMatch(/^@lowbit\//);
      const depDir = join(packagesDir, dep.slice("@lowbit/".length));
      const depPkg = JSON.parse(readFileSync(join(depDir, "package.json"), "utf8")) as PackageJson;
      expect(range, `${pkg.name} → ${dep}`).toBe(depPkg.version);
    }
    for (const range of Object.values(pkg.devDependencies ?? {})) expect(range).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("re-exports the root build config and has a README", () => {
    expect(readFileSync(join(pkgDir, "tsup.config.ts"), "utf8")).toMatch(/\.\.\/\.\.\/tsup\.config\.js/);
    const readme = readFileSync(join(pkgDir, "README.md"), "utf8");
    expect(readme).toContain(pkg.name);
    expect(readme.length).toBeGreaterThan(500);
  });

  it("source: index.ts has only named re-exports; no default exports, no enums", () => {
    const files = sourceFiles(join(pkgDir, "src"));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const text = readFileSync(f, "utf8");
      expect(text, f).not.toMatch(/^\s*export\s+default\b/m);
      expect(text, f).not.toMatch(/^\s*(export\s+)?(const\s+)?enum\s/m);
    }
    const index = readFileSync(join(pkgDir, "src", "index.ts"), "utf8");
    const statements = index
      .split(/;\s*\n/)
      .map((s) => s.trim())
      .filter((s) => s.length > 0 && !s.startsWith("//"));
    for (const s of statements)
      expect(s, `index.ts: ${s.slice(0, 60)}`).toMatch(/^export (type )?\{[^}]*\} from "/);
  });

  it("private modules (_*.ts) are not re-exported from index.ts", () => {
    const index = readFileSync(join(pkgDir, "src", "index.ts"), "utf8");
    expect(index).not.toMatch(/from "\.\/_/);
  });
});
