/**
 * Suite "hub": the model hub (apps/hub) over loopback HTTP, against a static file server serving the
 * same bytes from disk in the same run (SPEC §6).
 *
 * The hub, the static server (node:http + `fs.createReadStream(...).pipe(res)`) and nginx (only when
 * /usr/sbin/nginx exists) each run in their own child process, so none shares an event loop with the
 * client (this process: `fetch`, the body read fully and its bytes counted). Downloads alternate
 * between the hub and its peers, 3 repetitions each, and the median MB/s (1 MB = 10^6 bytes) is kept.
 *
 * The data is synthetic but shaped like a model: a bf16 safetensors of ~100 MB (3 tensors of
 * 4096×4096 with W ~ N(0, 0.02²), plus norms), its fine-tune bf16(W + N(0, (0.01·0.02)²)) which the
 * store keeps as a delta, and an unrelated third model uploaded while 64 Range requests run.
 * Everything goes through the HTTP API as the clients do it: repo creation, LFS batch, PUT, NDJSON commit.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { CaseResult, SuiteResult } from "../harness.js";
import { resultsPath } from "../harness.js";

const TOKEN = "hf_lowbit-bench-hub-write-token";
const NGINX = "/usr/sbin/nginx";
const REPS = 3;
const MB = 1e6;
const MiB = 1024 * 1024;
const r4 = (x: number) => Number(x.toPrecision(4));
const progress = (msg: string) => process.stderr.write(`  [hub] ${msg}\n`);

// ------------------------------------------------------------------------------------------ data

/** sfc32: a small, fast, seedable PRNG (uniform in [0, 1)). */
function sfc32(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

/** Fills `out` with N(0, sigma²) samples (Box–Muller, both outputs used). */
function gaussian(out: Float32Array, sigma: number, rand: () => number): void {
  for (let i = 0; i < out.length; i += 2) {
    const u = 1 - rand(); // (0, 1]: log stays finite
    const v = rand();
    const r = sigma * Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
}

/** float32 → bf16 bits, round to nearest even (no NaN in this data). */
function toBf16(x: Float32Array, out: Uint16Array): void {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < u.length; i++) {
    const v = u[i]!;
    out[i] = (v + 0x7fff + ((v >>> 16) & 1)) >>> 16;
  }
}

function fromBf16(b: Uint16Array, out: Float32Array): void {
  const u = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < b.length; i++) u[i] = b[i]! << 16;
}

interface TensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** Norm weights sit around 1, matrices around 0. */
  readonly mean: number;
}

const TENSORS: readonly TensorSpec[] = [
  { name: "model.layers.0.input_layernorm.weight", shape: [4096], mean: 1 },
  { name: "model.layers.0.mlp.down_proj.weight", shape: [4096, 4096], mean: 0 },
  { name: "model.layers.0.mlp.up_proj.weight", shape: [4096, 4096], mean: 0 },
  { name: "model.layers.0.post_attention_layernorm.weight", shape: [4096], mean: 1 },
  { name: "model.layers.0.self_attn.o_proj.weight", shape: [4096, 4096], mean: 0 },
];

/** A bf16 safetensors file of `TENSORS`, each tensor `f(index, bf16 bits)` filled in place. */
function safetensors(fill: (t: TensorSpec, index: number, out: Uint16Array) => void): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  for (const t of TENSORS) {
    const bytes = 2 * t.shape.reduce((a, b) => a * b, 1);
    header[t.name] = { dtype: "BF16", shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + json.length) % 8)) % 8); // data aligned to 8 bytes
  const file = Buffer.alloc(8 + json.length + offset);
  file.writeBigUInt64LE(BigInt(json.length), 0);
  file.write(json, 8, "latin1");
  let at = 8 + json.length;
  TENSORS.forEach((t, i) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    fill(t, i, new Uint16Array(file.buffer, file.byteOffset + at, n));
    at += 2 * n;
  });
  return file;
}

/** W ~ N(mean, 0.02²) per tensor, seeded. */
function baseModel(seed: number): Buffer {
  const rand = sfc32(seed);
  return safetensors((t, _i, out) => {
    const w = new Float32Array(out.length);
    gaussian(w, 0.02, rand);
    if (t.mean !== 0) for (let i = 0; i < w.length; i++) w[i] = w[i]! + t.mean;
    toBf16(w, out);
  });
}

/** bf16(W + N(0, (r·0.02)²)) of the base's weights W, another seed. */
function fineTune(base: Buffer, r: number, seed: number): Buffer {
  const rand = sfc32(seed);
  const h = Number(base.readBigUInt64LE(0));
  let at = 8 + h;
  return safetensors((_t, _i, out) => {
    const w = new Float32Array(out.length);
    fromBf16(new Uint16Array(base.buffer, base.byteOffset + at, out.length), w);
    at += 2 * out.length;
    const d = new Float32Array(out.length);
    gaussian(d, r * 0.02, rand);
    for (let i = 0; i < w.length; i++) w[i] = w[i]! + d[i]!;
    toBf16(w, out);
  });
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

// ------------------------------------------------------------------------------------- processes

interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly url: string;
}

const children = new Set<ChildProcess>();
const killAll = () => {
  for (const c of children) c.kill("SIGKILL");
};

/** Starts `node -e script`, waits for the URL it prints as its first line. Closing stdin stops it. */
async function startNode(name: string, script: string, env: Record<string, string>): Promise<Child> {
  const proc = spawn(process.execPath, ["--input-type=module", "-e", script], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "inherit"],
  });
  children.add(proc);
  proc.on("exit", () => children.delete(proc));
  const lines = createInterface({ input: proc.stdout! });
  const line = await Promise.race([
    once(lines, "line").then(([l]) => String(l)),
    once(proc, "exit").then(([code]) => {
      throw new Error(`${name} exited with code ${String(code)} before listening`);
    }),
  ]);
  lines.close();
  return { name, proc, url: line.trim() };
}

async function stop(c: Child | undefined): Promise<void> {
  if (c === undefined || c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  const exited = once(c.proc, "exit");
  c.proc.kill("SIGTERM");
  const timer = setTimeout(() => c.proc.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}

// The child scripts exit when the parent goes away (stdin closes), so a crash leaves nothing behind.
const HUB_SCRIPT = `
const { startHub } = await import(process.env.BENCH_HUB_MODULE);
const hub = await startHub({ dataDir: process.env.BENCH_HUB_DATA, port: 0, token: process.env.BENCH_HUB_TOKEN, log: false });
process.stdout.write(hub.url + "\\n");
let closing = false;
const close = () => { if (closing) return; closing = true; hub.close(5000).then(() => process.exit(0), () => process.exit(1)); };
process.on("SIGTERM", close);
process.stdin.on("end", close);
process.stdin.resume();
`;

const STATIC_SCRIPT = `
import { createServer } from "node:http";
import { createReadStream, statSync } from "node:fs";
import { basename, join } from "node:path";
const root = process.env.BENCH_STATIC_ROOT;
const server = createServer((req, res) => {
  const file = join(root, basename(new URL(req.url, "http://x").pathname));
  let size;
  try { size = statSync(file).size; } catch { res.writeHead(404).end(); return; }
  res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": String(size) });
  createReadStream(file).pipe(res);
});
server.listen(0, "127.0.0.1", () => process.stdout.write("http://127.0.0.1:" + server.address().port + "\\n"));
const close = () => { server.close(); process.exit(0); };
process.on("SIGTERM", close);
process.stdin.on("end", close);
process.stdin.resume();
`;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** nginx in the foreground over `root`, with a prefix of its own; undefined when it does not start. */
async function startNginx(dir: string, root: string): Promise<Child | undefined> {
  const port = await freePort();
  mkdirSync(join(dir, "logs"), { recursive: true });
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    [
      "daemon off;",
      "worker_processes 1;",
      `pid ${join(dir, "nginx.pid")};`,
      `error_log ${join(dir, "logs", "error.log")};`,
      "events { worker_connections 256; }",
      "http {",
      "  access_log off;",
      "  sendfile on;",
      `  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;`,
      `  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;`,
      `  server { listen 127.0.0.1:${port}; root ${root}; }`,
      "}",
      "",
    ].join("\n"),
  );
  const proc = spawn(NGINX, ["-p", dir, "-c", conf], { stdio: ["ignore", "ignore", "inherit"] });
  children.add(proc);
  proc.on("exit", () => children.delete(proc));
  proc.on("error", () => {});
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) return undefined;
    try {
      await fetch(`${url}/`);
      return { name: "nginx", proc, url };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  proc.kill("SIGKILL");
  return undefined;
}

// ----------------------------------------------------------------------------------------- HTTP

const auth = { Authorization: `Bearer ${TOKEN}` };

async function ok(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  return res;
}

async function createRepo(url: string, id: string): Promise<void> {
  const [organization, name] = id.split("/");
  await ok(
    await fetch(`${url}/api/repos/create`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify({ name, organization }),
    }),
    `create ${id}`,
  );
}

/** Batch, PUT, commit: returns the seconds from the batch request to the commit's answer. */
async function upload(url: string, repo: string, path: string, data: Buffer, oid: string): Promise<number> {
  const t0 = performance.now();
  const batch = await ok(
    await fetch(`${url}/${repo}.git/info/lfs/objects/batch`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/vnd.git-lfs+json" },
      body: JSON.stringify({
        operation: "upload",
        transfers: ["basic"],
        objects: [{ oid, size: data.length }],
      }),
    }),
    "lfs batch",
  );
  const json = (await batch.json()) as { objects: { actions?: { upload?: { href: string } } }[] };
  const href = json.objects[0]?.actions?.upload?.href;
  if (href !== undefined) await ok(await fetch(href, { method: "PUT", body: data }), "lfs put");
  const lines = [
    { key: "header", value: { summary: `add ${path}` } },
    { key: "lfsFile", value: { path, algo: "sha256", oid, size: data.length } },
  ];
  await ok(
    await fetch(`${url}/api/models/${repo}/commit/main`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/x-ndjson" },
      body: lines.map((l) => JSON.stringify(l)).join("\n"),
    }),
    "commit",
  );
  return (performance.now() - t0) / 1000;
}

/** GETs `url`, reads the body fully; returns the byte count and seconds. */
async function download(url: string, expect: number): Promise<{ bytes: number; seconds: number }> {
  const t0 = performance.now();
  const res = await ok(await fetch(url), `GET ${url}`);
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
  const seconds = (performance.now() - t0) / 1000;
  if (bytes !== expect) throw new Error(`GET ${url}: ${bytes} bytes, expected ${expect}`);
  return { bytes, seconds };
}

/** GETs `url` and returns the body. */
async function fetchAll(url: string): Promise<Buffer> {
  return Buffer.from(await (await ok(await fetch(url), `GET ${url}`)).arrayBuffer());
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Median MB/s of each URL, measured round-robin so that noise hits all of them alike. */
async function compare(urls: readonly string[], size: number): Promise<number[]> {
  const runs = urls.map(() => [] as number[]);
  for (let rep = 0; rep < REPS; rep++) {
    for (let i = 0; i < urls.length; i++) {
      const d = await download(urls[i]!, size);
      runs[i]!.push(d.bytes / MB / d.seconds);
    }
  }
  return runs.map(median);
}

interface RepoStats {
  id: string;
  logicalBytes: number;
  storedBytes: number;
}

async function repoStats(url: string, id: string): Promise<RepoStats> {
  const s = (await (await ok(await fetch(`${url}/api/stats`, { headers: auth }), "stats")).json()) as {
    repos: RepoStats[];
  };
  const r = s.repos.find((x) => x.id === id);
  if (r === undefined) throw new Error(`/api/stats has no repo ${id}`);
  return r;
}

// ---------------------------------------------------------------------------------------- suite

interface Row {
  result: CaseResult;
  target?: string;
  met?: boolean;
}

function formatTable(rows: readonly Row[]): string {
  const header = ["case", "value", "unit", "peer", "peer value", "ratio", "target"];
  const body = rows.map(({ result: r, target, met }) => [
    r.name,
    String(r.value),
    r.unit,
    r.peer?.name ?? "",
    r.peer === undefined ? "" : String(r.peer.value),
    r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}x`,
    target === undefined ? "" : `${target} ${met ? "met" : "MISSED"}`,
  ]);
  const numeric = [false, true, false, false, true, true, false];
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((s, i) => (numeric[i] ? s.padStart(widths[i]!) : s.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

export const hubSuite = {
  name: "hub",
  async run(filters: readonly RegExp[]): Promise<SuiteResult | null> {
    if (filters.length > 0 && !filters.some((f) => f.test("hub/"))) return null;
    const t0 = performance.now();
    console.log("\n# suite hub: the model hub over loopback HTTP vs static file servers, same run\n");
    const rows: Row[] = [];
    const add = (result: CaseResult, target?: { label: string; met: boolean }) => {
      rows.push(target === undefined ? { result } : { result, target: target.label, met: target.met });
      progress(
        `${result.name}: ${result.value} ${result.unit}${result.ratio === undefined ? "" : ` (${result.ratio}x ${result.peer?.name})`}`,
      );
    };
    const throughput = (
      name: string,
      value: number,
      peer?: { name: string; value: number },
      target?: { ratio?: number; absolute?: number },
    ) => {
      const result: CaseResult = { name, metric: "throughput", value: r4(value), unit: "MB/s" };
      if (peer !== undefined) {
        result.peer = { name: peer.name, value: r4(peer.value) };
        result.ratio = r4(value / peer.value);
      }
      if (target?.ratio !== undefined && result.ratio !== undefined)
        add(result, { label: `>=${target.ratio}x`, met: result.ratio >= target.ratio });
      else if (target?.absolute !== undefined)
        add(result, { label: `>=${target.absolute} MB/s`, met: value >= target.absolute });
      else add(result);
    };

    const hubModule = import.meta.resolve("@lowbit/hub");
    if (!existsSync(fileURLToPath(hubModule))) {
      throw new Error(
        `@lowbit/hub is not built (${fileURLToPath(hubModule)} is missing): run npx turbo run build --filter=@lowbit/hub...`,
      );
    }
    const tmp = mkdtempSync(join(tmpdir(), "lowbit-bench-hub-"));
    const dataDir = join(tmp, "hub");
    const files = join(tmp, "files");
    mkdirSync(files);
    let hub: Child | undefined;
    let stat: Child | undefined;
    let nginx: Child | undefined;
    process.once("exit", killAll);
    const startHubChild = () =>
      startNode("hub", HUB_SCRIPT, {
        BENCH_HUB_MODULE: hubModule,
        BENCH_HUB_DATA: dataDir,
        BENCH_HUB_TOKEN: TOKEN,
      });
    try {
      progress("generating the models (bf16 safetensors, seeded)");
      const base = baseModel(1);
      const tuned = fineTune(base, 0.01, 2);
      const other = baseModel(3);
      const size = base.length;
      const label = `${Math.round(size / MB)} MB`;
      const sums = { base: sha256(base), tuned: sha256(tuned), other: sha256(other) };
      writeFileSync(join(files, "base.safetensors"), base);
      writeFileSync(join(files, "tuned.safetensors"), tuned);
      progress(
        `models: ${(size / MiB).toFixed(1)} MiB each; starting the hub, the static server${existsSync(NGINX) ? " and nginx" : ""}`,
      );

      hub = await startHubChild();
      stat = await startNode("static", STATIC_SCRIPT, { BENCH_STATIC_ROOT: files });
      if (existsSync(NGINX)) {
        nginx = await startNginx(join(tmp, "nginx"), files);
        if (nginx === undefined) progress("nginx did not start: no nginx peer");
      }
      const peers = [
        { name: "node static server", url: stat.url },
        ...(nginx === undefined ? [] : [{ name: "nginx", url: nginx.url }]),
      ];

      // 1. Uploads (ingest): the base, then the fine-tune, which the store keeps as a delta.
      await createRepo(hub.url, "bench/base");
      await createRepo(hub.url, "bench/tuned");
      await createRepo(hub.url, "bench/other");
      progress("uploading the base");
      const upBase = await upload(hub.url, "bench/base", "model.safetensors", base, sums.base);
      throughput(`hub/upload/base ${label} (ingest)`, size / MB / upBase);
      progress("uploading the fine-tune");
      const upTuned = await upload(hub.url, "bench/tuned", "model.safetensors", tuned, sums.tuned);
      throughput(`hub/upload/fine-tune ${label} (ingest)`, tuned.length / MB / upTuned);
      const sBase = await repoStats(hub.url, "bench/base");
      const sTuned = await repoStats(hub.url, "bench/tuned");
      add({
        name: "hub/stored/base (stored/logical)",
        metric: "ratio",
        value: r4(sBase.storedBytes / sBase.logicalBytes),
        unit: "stored/raw",
      });
      const tunedRatio = sTuned.storedBytes / sTuned.logicalBytes;
      add(
        {
          name: "hub/stored/fine-tune r=0.01 (stored/logical)",
          metric: "ratio",
          value: r4(tunedRatio),
          unit: "stored/raw",
        },
        // A delta: well under what the base alone needs.
        { label: "delta (< 0.5x base)", met: tunedRatio < 0.5 * (sBase.storedBytes / sBase.logicalBytes) },
      );

      // 2. Downloads: the base (a full object) and the fine-tune (a delta), cold then warm.
      const fileUrl = (repo: string) => `${hub!.url}/${repo}/resolve/main/model.safetensors`;
      // Cold: the first read after a fresh start (nothing decoded in the hub's caches; the OS page
      // cache stays warm, as it does for the static servers). One restart per file, since the
      // fine-tune's first read also decodes its base.
      const coldRead = async (repo: string) => {
        await stop(hub);
        hub = await startHubChild();
        const d = await download(fileUrl(repo), size);
        progress(`${repo} cold: ${(d.bytes / MB / d.seconds).toFixed(1)} MB/s`);
        return d.bytes / MB / d.seconds;
      };
      progress("restarting the hub for cold reads");
      const coldBase = await coldRead("bench/base");
      const coldTuned = await coldRead("bench/tuned");
      progress("downloading the base: hub vs peers");
      const dBase = await compare(
        [fileUrl("bench/base"), ...peers.map((p) => `${p.url}/base.safetensors`)],
        size,
      );
      progress("downloading the fine-tune (warm): hub vs peers");
      const dTuned = await compare(
        [fileUrl("bench/tuned"), ...peers.map((p) => `${p.url}/tuned.safetensors`)],
        size,
      );
      peers.forEach((p, i) => {
        throughput(
          `hub/download/base ${label} (full object, warm) vs ${p.name}`,
          dBase[0]!,
          { name: p.name, value: dBase[i + 1]! },
          { ratio: 0.5 },
        );
      });
      throughput(`hub/download/base ${label} (full object, cold: first read after start)`, coldBase, {
        name: "node static server",
        value: dBase[1]!,
      });
      throughput(
        `hub/download/fine-tune ${label} (delta, cold: first read after start)`,
        coldTuned,
        { name: "node static server", value: dTuned[1]! },
        { absolute: 200 },
      );
      peers.forEach((p, i) => {
        throughput(
          `hub/download/fine-tune ${label} (delta, warm) vs ${p.name}`,
          dTuned[0]!,
          { name: p.name, value: dTuned[i + 1]! },
          { absolute: 200 },
        );
      });

      // 3. 64 concurrent Range requests on the base, in rounds, for as long as an upload runs.
      progress("64 concurrent Range downloads while an upload runs");
      let uploadSeconds = 0;
      let uploadError: unknown;
      let uploading = true;
      const up = upload(hub.url, "bench/other", "model.safetensors", other, sums.other).then(
        (s) => {
          uploadSeconds = s;
        },
        (e: unknown) => {
          uploadError = e;
        },
      );
      void up.finally(() => {
        uploading = false;
      });
      const rand = sfc32(64);
      let errors = 0;
      let verified = 0;
      let requests = 0;
      let rounds = 0;
      let firstError = "";
      const tRanges = performance.now();
      while (uploading || rounds === 0) {
        rounds++;
        const ranges = Array.from({ length: 64 }, () => {
          const len = MiB + Math.floor(rand() * 3 * MiB) + 1; // 1–4 MiB
          const start = Math.floor(rand() * (size - len));
          return [start, start + len - 1] as const;
        });
        const results = await Promise.all(
          ranges.map(async ([a, b]): Promise<string | number> => {
            try {
              const res = await fetch(fileUrl("bench/base"), { headers: { Range: `bytes=${a}-${b}` } });
              const body = Buffer.from(await res.arrayBuffer());
              if (res.status !== 206) return `status ${res.status}`;
              if (res.headers.get("content-range") !== `bytes ${a}-${b}/${size}`)
                return `content-range ${res.headers.get("content-range")}`;
              if (!body.equals(base.subarray(a, b + 1))) return `wrong bytes in ${a}-${b}`;
              return body.length;
            } catch (e) {
              return String(e);
            }
          }),
        );
        for (const r of results) {
          requests++;
          if (typeof r === "number") verified += r;
          else {
            errors++;
            firstError ||= r;
          }
        }
      }
      const rangeSeconds = (performance.now() - tRanges) / 1000;
      await up;
      if (firstError !== "") progress(`first Range error: ${firstError}`);
      if (uploadError !== undefined) throw uploadError;
      add(
        { name: "hub/concurrent/64 ranges: errors", metric: "count", value: errors, unit: "errors" },
        { label: "= 0", met: errors === 0 },
      );
      add({
        name: "hub/concurrent/64 ranges: requests",
        metric: "count",
        value: requests,
        unit: `requests (${rounds} rounds)`,
      });
      add(
        {
          name: "hub/concurrent/64 ranges: verified bytes",
          metric: "bytes",
          value: r4(verified / MB),
          unit: "MB",
        },
        { label: "every byte", met: errors === 0 && verified > 0 },
      );
      throughput("hub/concurrent/64 ranges: aggregate", verified / MB / rangeSeconds);
      throughput(
        `hub/concurrent/upload ${label} under range load (ingest)`,
        other.length / MB / uploadSeconds,
      );
      const back = await fetchAll(fileUrl("bench/other"));
      add(
        {
          name: "hub/concurrent/upload: downloaded back identical",
          metric: "ok",
          value: sha256(back) === sums.other ? 1 : 0,
          unit: "bool",
        },
        { label: "= 1", met: sha256(back) === sums.other },
      );

      // 4. A quantized variant: computed on first request, then served from the store's cache.
      progress("nf4 variant of the base: cold computation");
      const nf4Url = `${fileUrl("bench/base")}?format=nf4`;
      const tNf4 = performance.now();
      const nf4 = await fetchAll(nf4Url);
      const nf4Seconds = (performance.now() - tNf4) / 1000;
      add({
        name: `hub/variant/nf4 of base ${label}: cold (compute + download)`,
        metric: "time",
        value: r4(nf4Seconds),
        unit: "s",
      });
      writeFileSync(join(files, "nf4.safetensors"), nf4);
      const dNf4 = await compare([nf4Url, `${stat.url}/nf4.safetensors`], nf4.length);
      throughput(`hub/variant/nf4 (${(nf4.length / MB).toFixed(1)} MB): cached re-download`, dNf4[0]!, {
        name: "node static server",
        value: dNf4[1]!,
      });
    } finally {
      await Promise.all([stop(hub), stop(stat), stop(nginx)]).catch(() => {});
      killAll();
      process.off("exit", killAll);
      rmSync(tmp, { recursive: true, force: true });
    }

    const out: SuiteResult = {
      suite: "hub",
      date: new Date().toISOString(),
      node: process.version,
      cpu: cpus()[0]?.model.trim() ?? "unknown",
      cases: rows.map((r) => r.result),
    };
    const path = resultsPath("hub");
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`suite hub  ${out.date}\n${formatTable(rows)}`);
    console.log(
      `\n${out.node}, ${out.cpu}, ${cpus().length} CPUs; suite hub: ${((performance.now() - t0) / 1000).toFixed(1)} s → ${path}`,
    );
    return out;
  },
};
