import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The built command, as `npm i -g @lowbit/cli` would run it. */
export const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

export function assertBuilt(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run the build first (npx turbo run build)`);
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node dist/bin.js ...args` in `cwd` as a child process. */
export function lowbit(cwd: string, ...args: string[]): RunResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: "utf8", timeout: 60_000 });
  if (r.error !== undefined) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "lowbit-cli-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Files in `dir`, so a test can see that no temporary output was left behind. */
export function listDir(dir: string): string[] {
  return readdirSync(dir).sort();
}

export function writeBytes(path: string, view: ArrayBufferView): void {
  writeFileSync(path, new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
}

export function readBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

/** Reads a file of little-endian float32 (the test hosts are little-endian, as the CLI requires). */
export function readFloat32(path: string): Float32Array {
  const b = readBytes(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export function readUint16(path: string): Uint16Array {
  const b = readBytes(path);
  return new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Float32 bit patterns, so NaN payloads and -0 compare exactly. */
export function bits32(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** Deterministic values covering every binade of interest, plus the specials. */
export function sampleFloats(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const specials = [
    0,
    -0,
    1,
    -1,
    0.5,
    448,
    449,
    464,
    -500,
    1e-9,
    65504,
    1e6,
    Infinity,
    -Infinity,
    Number.NaN,
  ];
  for (let i = 0; i < n; i++) {
    out[i] = i < specials.length ? specials[i]! : (next() < 0.5 ? -1 : 1) * 2 ** (next() * 40 - 25);
  }
  return out;
}

/**
 * The shared data folder: `$LOWBIT_SHARED` when set, otherwise `<repo root>/../shared` (the repo root
 * is the nearest ancestor holding turbo.json), as test/conformance finds it. Missing data is an
 * error, never a skip.
 */
export function sharedDir(): string {
  const fromEnv = process.env["LOWBIT_SHARED"];
  if (fromEnv !== undefined && fromEnv !== "") return resolve(fromEnv);
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "turbo.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no turbo.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return resolve(dir, "..", "shared");
}

/** A model file of `<shared>/datasets/models`; throws a clear Error when it is missing. */
export function sharedModel(name: string): string {
  const path = join(sharedDir(), "datasets", "models", name);
  if (!existsSync(path)) {
    throw new Error(`test model ${path} not found: point LOWBIT_SHARED at the folder holding datasets/`);
  }
  return path;
}

/** A fake stderr/stdout that records what the CLI writes (TTY or not, 120 columns). */
export function sink(isTTY = false) {
  const out = {
    text: "",
    isTTY,
    columns: 120,
    write(t: string) {
      out.text += t;
      return true;
    },
  };
  return out;
}
