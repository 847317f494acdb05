import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Collection } from "../src/index.js";

// A real kill -9 of a process that keeps saving: the folder must always open to one complete save.
const here = dirname(fileURLToPath(import.meta.url));
const dist = pathToFileURL(resolve(here, "../dist/index.js")).href;
const work = mkdtempSync(join(tmpdir(), "lowbit-embed-crash-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const N = 3000;
const DIM = 16;

/** The child: saves generation after generation; every row of generation g carries { g }. */
const CHILD = `
import { Collection } from ${JSON.stringify(dist)};
const [dir] = process.argv.slice(2);
const N = ${N}, DIM = ${DIM};
const ids = Array.from({ length: N }, (_, i) => String(i));
const vectors = (g) => Float32Array.from({ length: N * DIM }, (_, i) => Math.sin(i * 0.37 + g) + (i % DIM === 0 ? g : 0));
const c = Collection.create({ dim: DIM, metric: "l2", codec: "int8", rescore: "float16" });
c.add(ids, vectors(0), ids.map(() => ({ g: 0 })));
await c.save(dir);
process.stdout.write("saved 0\\n");
for (let g = 1; ; g++) {
  c.upsert(ids, vectors(g), ids.map(() => ({ g })));
  process.stdout.write("saving " + g + "\\n");
  await c.save();
  process.stdout.write("saved " + g + "\\n");
}
`;

function runAndKill(script: string, dir: string, afterSaves: number, delayMs: number): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [script, dir], { stdio: ["ignore", "pipe", "pipe"] });
    let last = -1;
    let err = "";
    let killed = false;
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      let saving = false;
      for (const m of chunk.matchAll(/(saved|saving) (\d+)/g)) {
        if (m[1] === "saved") last = Number(m[2]);
        else if (Number(m[2]) > afterSaves) saving = true;
      }
      // Kill `delayMs` after a save (the one after `afterSaves`) has started.
      if (!killed && saving) {
        killed = true;
        setTimeout(() => child.kill("SIGKILL"), delayMs);
      }
    });
    child.stderr.on("data", (d) => {
      err += String(d);
    });
    child.on("exit", (_code, signal) => {
      if (signal !== "SIGKILL") reject(new Error(`the child exited on its own: ${err}`));
      else resolvePromise(last);
    });
  });
}

describe("crash safety with a real kill -9", () => {
  it("always reopens to one complete save, and a writer takes over the dead process's lock", async () => {
    const script = join(work, "child.mjs");
    writeFileSync(script, CHILD);
    // Different kill points inside the save cycle.
    let midSave = 0;
    for (const [i, delay] of [0, 1, 3, 6, 12, 25, 60].entries()) {
      const dir = join(work, `c${i}`);
      const lastReported = await runAndKill(script, dir, 2, delay);
      // A generation folder other than the live one: the kill landed inside a save.
      const live = readFileSync(join(dir, "CURRENT"), "utf8").trim();
      if (readdirSync(dir).some((f) => f.startsWith("gen-") && f !== live)) midSave++;
      const c = await Collection.open(dir, { readOnly: true });
      expect(c.size).toBe(N);
      const g = (c.get("0")!.metadata as { g: number }).g;
      // The last reported save, or the one in flight when the process died: never older, never mixed.
      expect(
        g === lastReported || g === lastReported + 1,
        `delay ${delay}: g ${g}, reported ${lastReported}`,
      ).toBe(true);
      for (const id of ["1", "1500", String(N - 1)]) expect((c.get(id)!.metadata as { g: number }).g).toBe(g);
      expect(c.search(c.get("1500")!.vector, 1, { path: "scan" })[0]!.id).toBe("1500");
      await c.close();
      // The killed writer's LOCK names a dead pid: a new writer takes it over.
      const w = await Collection.open(dir);
      expect(w.size).toBe(N);
      await w.close();
    }
    // At least one kill interrupted a save (the case the generations exist for).
    expect(midSave).toBeGreaterThan(0);
  }, 120_000);
});
