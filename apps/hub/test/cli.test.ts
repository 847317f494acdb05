/**
 * `lowbit hub serve|token|push|pull`. serve runs as a real child process (the built dist/bin.js, as
 * `npm start` runs it) so that signals, the printed URL and the exit code are the real ones; token,
 * push and pull run in process through `hubMain` against those servers, over real HTTP.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { get as httpGet, createServer as httpServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseHeader } from "@lowbit/safetensors";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hubMain } from "../src/cli.js";
import { gitBlobOid } from "../src/names.js";
import { sink } from "./_hub.js";

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const MODEL = fileURLToPath(
  new URL("../../../../shared/datasets/models/face_expression.f32.safetensors", import.meta.url),
);
const ENV_TOKEN = "hf_cli-test-env-write-token";

let tmp = "";
const children: ChildProcess[] = [];

beforeAll(async () => {
  if (!existsSync(BIN))
    throw new Error(`${BIN} is missing: build first (npx turbo run build --filter=@lowbit/hub)`);
  if (!existsSync(MODEL)) throw new Error(`test model ${MODEL} is missing`);
  tmp = await mkdtemp(join(tmpdir(), "lowbit-hub-cli-"));
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await rm(tmp, { recursive: true, force: true });
});

/** The environment without any LOWBIT_HUB_* / HF_* setting of the machine running the tests. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("LOWBIT_HUB_") && !k.startsWith("HF_")) env[k] = v;
  }
  return { ...env, ...extra };
}

interface Served {
  readonly url: string;
  readonly data: string;
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node dist/bin.js serve …`; resolves once it prints its listening line. */
async function serve(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Served> {
  const child = spawn(process.execPath, [BIN, "serve", ...args], {
    cwd: options.cwd ?? tmp,
    env: cleanEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (t: string) => {
    out += t;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once("exit", (code, signal) => r({ code, signal })),
  );
  const listening = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`serve printed no URL in 30 s; stderr:\n${err}`)),
      30_000,
    );
    child.stderr!.setEncoding("utf8").on("data", (t: string) => {
      err += t;
      const m = /^lowbit hub listening on (http:\/\/\S+) \(data: (.+)\)$/m.exec(err);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before listening; stderr:\n${err}`));
    });
  });
  return { url: listening[1]!, data: listening[2]!, child, stdout: () => out, stderr: () => err, exited };
}

/** `lowbit hub …` in process, with nothing taken from the machine's environment. */
async function hub(args: string[], options: { tty?: boolean; env?: Record<string, string> } = {}) {
  const stdout = sink();
  const stderr = sink(options.tty === true);
  const code = await hubMain(args, { stdout, stderr, env: options.env ?? {}, cwd: tmp });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function filesUnder(root: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (e.isFile())
      out.set(
        relative(root, join(e.parentPath, e.name)).split("\\").join("/"),
        await readFile(join(e.parentPath, e.name)),
      );
  }
  return out;
}

/** Starts a GET, reads its first chunk, then stops reading: the server is left with a request in flight. */
function slowDownload(url: string): Promise<{ res: IncomingMessage; first: Buffer }> {
  return new Promise((resolve, reject) => {
    // agent: false, so the finished response closes its connection rather than idling in a pool.
    const req = httpGet(url, { agent: false }, (res) => {
      res.once("data", (first: Buffer) => {
        res.pause();
        resolve({ res, first });
      });
    });
    req.on("error", reject);
  });
}

function readRest(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on("data", (b: Buffer) => parts.push(b));
    res.on("end", () => resolve(Buffer.concat(parts)));
    res.on("error", reject);
    res.resume();
  });
}

/** A port nothing listens on (free a moment ago). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = httpServer().listen(0, "127.0.0.1", () => {
      const p = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("lowbit hub serve", () => {
  // Random bytes do not compress: 24 MB outlast the socket buffers, so a paused reader keeps the
  // response in flight.
  const big = randomBytes(24 * 1024 * 1024);
  let data = "";

  it("prints the bound URL, answers /healthz, logs JSON; SIGTERM lets a slow download finish, exit 0", async () => {
    data = join(tmp, "serve-data");
    const s = await serve(["--port", "0", "--data", data], { env: { LOWBIT_HUB_TOKEN: ENV_TOKEN } });
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s.url).not.toMatch(/:0$/);
    expect(s.data).toBe(data);
    expect(existsSync(join(data, "hub.db"))).toBe(true);
    const health = await fetch(`${s.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });

    const src = join(tmp, "big");
    await mkdir(src);
    await writeFile(join(src, "big.bin"), big);
    const pushed = await hub(["push", src, "org/big", "--endpoint", s.url, "--json"], {
      env: { LOWBIT_HUB_TOKEN: ENV_TOKEN },
    });
    expect(pushed.stderr).toBe("");
    expect(pushed.code).toBe(0);

    const { res, first } = await slowDownload(`${s.url}/org/big/resolve/main/big.bin`);
    expect(res.statusCode).toBe(200);
    s.child.kill("SIGTERM");
    await delay(500);
    // Still running for the download in flight, but no longer accepting connections.
    expect(s.child.exitCode).toBeNull();
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
    const rest = await readRest(res);
    expect(sha256(Buffer.concat([first, rest]))).toBe(sha256(big));
    const { code } = await s.exited;
    expect(code).toBe(0);
    expect(s.stderr()).toMatch(/SIGTERM received: finishing requests in flight/);
    expect(s.stderr()).toMatch(/lowbit hub: stopped/);
    // stdout is JSON lines only: the listening entry, the requests (with their routes), the stop.
    const logs = s
      .stdout()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { msg: string; route?: string });
    expect(logs.map((l) => l.msg)).toContain("listening");
    expect(logs.some((l) => l.route === "healthz")).toBe(true);
    expect(logs.at(-1)!.msg).toBe("stopped");
  });

  it("a second signal exits at once: 143 for SIGTERM", async () => {
    const s = await serve(["--port", "0", "--data", data]);
    const { res } = await slowDownload(`${s.url}/org/big/resolve/main/big.bin`);
    s.child.kill("SIGTERM");
    await delay(300);
    expect(s.child.exitCode).toBeNull();
    const t0 = Date.now();
    s.child.kill("SIGTERM");
    const { code } = await s.exited;
    expect(code).toBe(143);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(s.stderr()).toMatch(/SIGTERM again: exiting now/);
    res.destroy();
  });

  it("takes LOWBIT_HUB_PORT and LOWBIT_HUB_DATA (relative to the working directory); SIGINT exits 0", async () => {
    const port = await freePort();
    const cwd = join(tmp, "envcwd");
    await mkdir(cwd);
    const s = await serve([], { cwd, env: { LOWBIT_HUB_PORT: String(port), LOWBIT_HUB_DATA: "envdata" } });
    expect(s.url).toBe(`http://127.0.0.1:${port}`);
    expect(s.data).toBe(join(cwd, "envdata"));
    expect(existsSync(join(cwd, "envdata", "hub.db"))).toBe(true);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    s.child.kill("SIGINT");
    expect((await s.exited).code).toBe(0);
    expect(s.stderr()).toMatch(/SIGINT received: finishing requests in flight/);
  });

  it("defaults the data folder to ./hub-data; a flag wins over its environment variable", async () => {
    const cwd = join(tmp, "defaultcwd");
    await mkdir(cwd);
    const s = await serve(["--port", "0"], { cwd });
    expect(s.data).toBe(join(cwd, "hub-data"));
    s.child.kill("SIGTERM");
    expect((await s.exited).code).toBe(0);
    const t = await serve(["--port", "0", "--data", "flagdata"], {
      cwd,
      env: { LOWBIT_HUB_DATA: "envdata" },
    });
    expect(t.data).toBe(join(cwd, "flagdata"));
    t.child.kill("SIGTERM");
    expect((await t.exited).code).toBe(0);
  });

  it("stops in process when io.signal aborts", async () => {
    const controller = new AbortController();
    const stdout = sink();
    const stderr = sink();
    const running = hubMain(["serve", "--port", "0", "--data", join(tmp, "inproc")], {
      stdout,
      stderr,
      env: {},
      cwd: tmp,
      signal: controller.signal,
    });
    for (let i = 0; i < 200 && !stderr.text.includes("listening on"); i++) await delay(25);
    const url = /listening on (\S+)/.exec(stderr.text)![1]!;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    controller.abort();
    expect(await running).toBe(0);
    expect(stdout.text).toContain('"msg":"stopped"');
  });
});

describe("lowbit hub token, push and pull against a running server", () => {
  let s: Served;
  let data = "";

  beforeAll(async () => {
    data = join(tmp, "main-data");
    s = await serve(["--port", "0", "--data", data]);
  });
  afterAll(async () => {
    s.child.kill("SIGTERM");
    await s.exited;
  });

  let writeToken = "";

  it("token create/list/revoke act on hub.db while the server runs: write ok, read 403, revoked 401", async () => {
    const empty = await hub(["token", "list", "--data", data, "--json"]);
    expect(empty.code).toBe(0);
    expect(JSON.parse(empty.stdout)).toEqual([]);

    const w = await hub(["token", "create", "ci", "--data", data]);
    expect(w.code).toBe(0);
    writeToken = w.stdout.trim();
    expect(writeToken).not.toContain("\n");
    expect(w.stderr).toMatch(/created write token "ci" \(id [0-9a-f]+\); it is shown only this once/);
    const r = await hub(["token", "create", "reader", "--read", "--data", data, "--json"]);
    expect(r.code).toBe(0);
    const reader = JSON.parse(r.stdout) as { token: string; id: string; name: string; role: string };
    expect(reader).toMatchObject({ name: "reader", role: "read" });
    expect(reader.token.length).toBeGreaterThan(20);

    const dup = await hub(["token", "create", "ci", "--data", data]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/^lowbit hub: .*already exists/);

    const listed = await hub(["token", "list", "--data", data, "--json"]);
    const tokens = JSON.parse(listed.stdout) as { id: string; name: string; role: string }[];
    expect(tokens.map((t) => [t.name, t.role]).sort()).toEqual([
      ["ci", "write"],
      ["reader", "read"],
    ]);
    // Only hashes are stored: the secrets are nowhere in the listing.
    expect(listed.stdout).not.toContain(writeToken);
    const text = await hub(["token", "list", "--data", data]);
    expect(text.stdout).toMatch(/^ID +NAME +ROLE +CREATED\n/);
    expect(text.stdout).toMatch(/ reader +read /);

    // A write with the new write token succeeds against the server that was already running.
    const create = (token: string, name: string) =>
      fetch(`${s.url}/api/repos/create`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ name, organization: "tok", type: "model" }),
      });
    expect((await create(writeToken, "by-writer")).status).toBe(200);
    const denied = await create(reader.token, "by-reader");
    expect(denied.status).toBe(403);
    const pushDenied = await hub([
      "push",
      join(tmp, "big"),
      "tok/by-reader",
      "--endpoint",
      s.url,
      "--token",
      reader.token,
    ]);
    expect(pushDenied.code).toBe(1);
    expect(pushDenied.stderr).toMatch(
      /^lowbit hub: .*read-only.*\(HTTP 403 from POST http:\/\/127\.0\.0\.1:\d+\/api\/repos\/create\)/,
    );

    // Revoke by id, then by name.
    const byId = await hub(["token", "revoke", reader.id, "--data", data]);
    expect(byId.code).toBe(0);
    expect(byId.stdout).toBe(`revoked read token "reader" (id ${reader.id})\n`);
    expect((await create(reader.token, "after-revoke")).status).toBe(401);
    const again = await hub(["token", "revoke", "reader", "--data", data]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^lowbit hub: no token with id or name "reader"/);
  });

  const pushed = new Map<string, Buffer>();
  let commit = "";

  it("push uploads a directory (nested files, a real safetensors) as one commit; skips .git, junk and outside links", async () => {
    const src = join(tmp, "model-src");
    await mkdir(join(src, "sub", "deeper"), { recursive: true });
    await mkdir(join(src, ".git"));
    const put = async (path: string, content: Buffer) => {
      await writeFile(join(src, ...path.split("/")), content);
      pushed.set(path, content);
    };
    await put("config.json", Buffer.from(JSON.stringify({ model_type: "face_expression", hidden: 7 })));
    await put("README.md", Buffer.from("# face expression\n\nA small real network.\n"));
    await put("sub/deeper/notes.txt", Buffer.from("nested\n"));
    await copyFile(MODEL, join(src, "model.safetensors"));
    pushed.set("model.safetensors", await readFile(MODEL));
    await writeFile(join(src, ".git", "HEAD"), "ref: refs/heads/main\n");
    await writeFile(join(src, ".DS_Store"), "junk");
    await writeFile(join(tmp, "secret.txt"), "outside DIR");
    await symlink(join(tmp, "secret.txt"), join(src, "leak.txt"));
    // A link to a file inside DIR is followed: its content goes up under the link's name.
    await symlink(join(src, "README.md"), join(src, "README-link.md"));
    pushed.set("README-link.md", pushed.get("README.md")!);

    const total = [...pushed.values()].reduce((a, b) => a + b.length, 0);
    const r = await hub(["push", src, "lowbit/face", "--endpoint", s.url, "--token", writeToken, "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: skipping leak\.txt: a link to .*secret\.txt, outside/);
    const summary = JSON.parse(r.stdout) as {
      repo: string;
      commit: string;
      files: number;
      bytes: number;
      seconds: number;
    };
    expect(summary).toMatchObject({ repo: "lowbit/face", files: pushed.size, bytes: total });
    expect(summary.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(summary.seconds).toBeGreaterThan(0);
    commit = summary.commit;

    const tree = (await (await fetch(`${s.url}/api/models/lowbit/face/tree/main?recursive=true`)).json()) as {
      type: string;
      path: string;
      oid: string;
    }[];
    const files = tree.filter((e) => e.type === "file").map((e) => e.path);
    expect(files.sort()).toEqual([...pushed.keys()].sort());
    const readme = tree.find((e) => e.path === "README.md")!;
    expect(readme.oid).toBe(gitBlobOid(pushed.get("README.md")!));

    // On a terminal: a byte counter on stderr; pushing the same files again is a new commit.
    const tty = await hub(
      ["push", src, "lowbit/face", "--endpoint", s.url, "--token", writeToken, "--message", "again"],
      {
        tty: true,
      },
    );
    expect(tty.code).toBe(0);
    expect(tty.stderr).toContain(`${total}/${total} bytes`);
    expect(tty.stdout).toMatch(/^pushed 5 file\(s\), \d+ bytes to lowbit\/face@main: commit [0-9a-f]{40}; /);
  });

  it("pull downloads every file of one commit byte for byte, checked against the tree", async () => {
    const out = join(tmp, "pulled");
    const r = await hub(["pull", "lowbit/face", out, "--revision", commit, "--endpoint", s.url, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as { commit: string; files: number; bytes: number };
    expect(summary.commit).toBe(commit);
    expect(summary.files).toBe(pushed.size);
    const got = await filesUnder(out);
    expect([...got.keys()].sort()).toEqual([...pushed.keys()].sort());
    for (const [path, bytes] of pushed) expect(sha256(got.get(path)!), path).toBe(sha256(bytes));
  });

  it("pull --format nf4 fetches the quantized variant of each .safetensors file", async () => {
    const out = join(tmp, "pulled-nf4");
    const r = await hub(["pull", "lowbit/face", out, "--format", "nf4", "--endpoint", s.url, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const got = await filesUnder(out);
    expect(got.has("model.safetensors")).toBe(false);
    const nf4 = got.get("model.nf4.safetensors")!;
    expect(nf4).toBeDefined();
    const header = parseHeader(new Uint8Array(nf4));
    const lowbit = JSON.parse(header.metadata["lowbit"]!) as unknown;
    expect(JSON.stringify(lowbit)).toContain("nf4");
    expect(nf4.length).toBeLessThan(pushed.get("model.safetensors")!.length / 3);
    expect(sha256(got.get("config.json")!)).toBe(sha256(pushed.get("config.json")!));
  });

  it("pull refuses a file whose bytes do not match the tree, names it and writes nothing", async () => {
    // A proxy that flips one byte of config.json on full downloads: the hub itself never serves wrong bytes.
    const proxy = httpServer(async (req, res) => {
      const body =
        req.method === "GET" || req.method === "HEAD"
          ? undefined
          : await new Response(req as never).arrayBuffer();
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers))
        if (k !== "host" && typeof v === "string") headers.set(k, v);
      const up = await fetch(`${s.url}${req.url}`, {
        method: req.method!,
        headers,
        ...(body ? { body } : {}),
      });
      const bytes = Buffer.from(await up.arrayBuffer());
      if (req.url!.endsWith("/config.json") && req.headers.range === undefined) bytes[0]! ^= 1;
      const out: Record<string, string> = {};
      up.headers.forEach((v, k) => {
        if (k !== "content-encoding" && k !== "transfer-encoding" && k !== "connection") out[k] = v;
      });
      res.writeHead(up.status, out);
      res.end(bytes);
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const via = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const out = join(tmp, "pulled-bad");
      const r = await hub(["pull", "lowbit/face", out, "--endpoint", via]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^lowbit hub: config\.json: git blob id [0-9a-f]{40} does not match the hub's [0-9a-f]{40}/,
      );
      expect(existsSync(join(out, "config.json"))).toBe(false);
      // No temporary file is left behind either.
      expect((await readdir(out)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  });

  it("HTTP errors exit 1 with the server's message: a wrong token, a missing repo, no server", async () => {
    const wrong = await hub([
      "push",
      join(tmp, "model-src"),
      "lowbit/face",
      "--endpoint",
      s.url,
      "--token",
      "hf_wrong",
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^lowbit hub: invalid or revoked token \(HTTP 401 from POST /m);
    const missing = await hub(["pull", "lowbit/nope", join(tmp, "nope"), "--endpoint", s.url]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^lowbit hub: .*not found.*\(HTTP 404 from /);
    const closed = await hub([
      "pull",
      "lowbit/face",
      join(tmp, "nope"),
      "--endpoint",
      `http://127.0.0.1:${await freePort()}`,
    ]);
    expect(closed.code).toBe(1);
    expect(closed.stderr).toMatch(/^lowbit hub: cannot reach the hub: .*ECONNREFUSED/);
  });

  it("push takes its endpoint and token from HF_ENDPOINT and LOWBIT_HUB_TOKEN", async () => {
    const src = join(tmp, "envpush");
    await mkdir(src);
    await writeFile(join(src, "a.txt"), "from the environment\n");
    const r = await hub(["push", src, "envrepo", "--json"], {
      env: { HF_ENDPOINT: s.url, LOWBIT_HUB_TOKEN: writeToken },
    });
    expect(r.code).toBe(0);
    const got = await fetch(`${s.url}/envrepo/resolve/main/a.txt`);
    expect(await got.text()).toBe("from the environment\n");
  });
});

describe("lowbit hub usage errors", () => {
  it.each([
    [[], "hub"],
    [["frob"], "hub"],
    [["serve", "--port", "70000"], "serve"],
    [["serve", "--token", "secret"], "serve"],
    [["serve", "extra"], "serve"],
    [["token"], "token"],
    [["token", "create"], "token"],
    [["token", "create", "x", "--read", "--write"], "token"],
    [["token", "create", "bad name!"], "token"],
    [["push", "onlydir"], "push"],
    [["push", "dir", "a/b/c", "--token", "t"], "push"],
    [["push", "dir", "org/m"], "push"],
    [["push", "dir", "org/m", "--token", "t", "--endpoint", "ftp://x"], "push"],
    [["pull", "org/m"], "pull"],
    [["pull", "org/m", "dir", "--format", "../x"], "pull"],
    [["pull", "org/m", "dir", "--bogus"], "pull"],
  ])("%j exits 2 with a usage line", async (args, sub) => {
    const r = await hub(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    if (sub === "hub") expect(r.stderr).toMatch(/lowbit hub/);
    else expect(r.stderr).toMatch(new RegExp(`^lowbit hub: .+\\nusage: lowbit hub ${sub} `));
  });

  it("--help prints each command's help on stdout and exits 0", async () => {
    for (const sub of ["serve", "token", "push", "pull"]) {
      const r = await hub([sub, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`lowbit hub ${sub}`));
    }
    const top = await hub(["--help"]);
    expect(top.stdout).toContain("lowbit hub push DIR REPO");
  });
});
