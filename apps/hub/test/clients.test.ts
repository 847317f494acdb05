/**
 * The official JavaScript clients against a real hub on 127.0.0.1: @huggingface/hub (create, upload,
 * list, download with its Range probe, model info, commits, delete) and transformers.js (tokenizer,
 * config and an ONNX model loaded through `env.remoteHost`, then run).
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  commit,
  createRepo,
  deleteFile,
  downloadFile,
  fileExists,
  listCommits,
  listFiles,
  modelInfo,
  uploadFiles,
} from "@huggingface/hub";
import { parseHeader } from "@lowbit/safetensors";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitBlobOid } from "../src/names.js";
import { MODELS, sha256, TOKEN, tempHub } from "./_hub.js";

let ctx: Awaited<ReturnType<typeof tempHub>>;
let base: Buffer;
let tune: Buffer;
let onnx: Buffer;

beforeAll(async () => {
  ctx = await tempHub();
  base = await readFile(join(MODELS, "faceres.f16.safetensors"));
  tune = await readFile(join(MODELS, "faceres-deep.f16.safetensors"));
  onnx = await readFile(join(MODELS, "silero_vad_v5.onnx"));
});
afterAll(async () => ctx?.stop());

const CONFIG = { model_type: "silero_vad", architectures: ["SileroVAD"], sampling_rate: 16000 };

describe("@huggingface/hub against the hub", () => {
  const repo = { type: "model" as const, name: "lowbit/faceres" };

  it("creates a repo, uploads a model, lists and downloads it byte for byte", async () => {
    const hubUrl = ctx.hub.url;
    const created = await createRepo({ repo, accessToken: TOKEN, hubUrl });
    expect(created.repoUrl).toBe(`${hubUrl}/lowbit/faceres`);
    // A second create is a clear conflict, not a silent success.
    await expect(createRepo({ repo, accessToken: TOKEN, hubUrl })).rejects.toThrow(/already/i);

    const readme = Buffer.from("# faceres\n\nA real face-description network, float16.\n");
    const out = await uploadFiles({
      repo,
      accessToken: TOKEN,
      hubUrl,
      files: [
        { path: "model.safetensors", content: new Blob([base]) },
        { path: "README.md", content: new Blob([readme]) },
        { path: "config/nested/config.json", content: new Blob([JSON.stringify(CONFIG)]) },
      ],
    });
    expect(out?.commit.oid).toMatch(/^[0-9a-f]{40}$/);

    const files = [];
    for await (const f of listFiles({ repo, hubUrl, recursive: true })) files.push(f);
    const byPath = new Map(files.map((f) => [f.path, f]));
    expect([...byPath.keys()].sort()).toEqual([
      "README.md",
      "config",
      "config/nested",
      "config/nested/config.json",
      "model.safetensors",
    ]);
    const m = byPath.get("model.safetensors")!;
    expect(m.size).toBe(base.length);
    expect(m.lfs?.oid).toBe(sha256(base));
    expect(byPath.get("README.md")!.oid).toBe(gitBlobOid(readme));
    expect(byPath.get("config")!.type).toBe("directory");

    // downloadFile probes with Range: bytes=0-0 and needs Content-Range and an ETag.
    const blob = await downloadFile({ repo, path: "model.safetensors", hubUrl });
    expect(blob).not.toBeNull();
    expect(blob!.size).toBe(base.length);
    const bytes = Buffer.from(await blob!.arrayBuffer());
    expect(sha256(bytes)).toBe(sha256(base));
    // Slices become Range requests served without rebuilding the file.
    const slice = Buffer.from(await blob!.slice(1_000_003, 2_000_011).arrayBuffer());
    expect(slice.equals(base.subarray(1_000_003, 2_000_011))).toBe(true);
    const text = await downloadFile({ repo, path: "README.md", hubUrl });
    expect(Buffer.from(await text!.arrayBuffer()).equals(readme)).toBe(true);
    expect(await downloadFile({ repo, path: "missing.bin", hubUrl })).toBeNull();
    expect(await fileExists({ repo, path: "README.md", hubUrl })).toBe(true);
    expect(await fileExists({ repo, path: "nope.md", hubUrl })).toBe(false);

    const info = await modelInfo({ name: repo.name, hubUrl });
    expect(info.name).toBe(repo.name);
    expect(info.private).toBe(false);
  });

  it("stores a fine-tune as a delta against its base, and restores it exactly", async () => {
    const hubUrl = ctx.hub.url;
    const tuneRepo = { type: "model" as const, name: "lowbit/faceres-deep" };
    await createRepo({ repo: tuneRepo, accessToken: TOKEN, hubUrl });
    await uploadFiles({
      repo: tuneRepo,
      accessToken: TOKEN,
      hubUrl,
      files: [{ path: "model.safetensors", content: new Blob([tune]) }],
    });
    const blob = await downloadFile({ repo: tuneRepo, path: "model.safetensors", hubUrl });
    expect(sha256(Buffer.from(await blob!.arrayBuffer()))).toBe(sha256(tune));
    const stats = (await (await fetch(`${hubUrl}/api/stats`)).json()) as {
      repos: { id: string; logicalBytes: number; storedBytes: number }[];
    };
    const row = stats.repos.find((r) => r.id === tuneRepo.name)!;
    expect(row.logicalBytes).toBe(tune.length);
    // faceres-deep.f16 against faceres.f16 measured 0.68 of its size in the store's bench.
    expect(row.storedBytes / row.logicalBytes).toBeLessThan(0.8);
  });

  it("commits deletions and keeps every earlier commit readable", async () => {
    const hubUrl = ctx.hub.url;
    const commits0 = [];
    for await (const c of listCommits({ repo, hubUrl })) commits0.push(c);
    await deleteFile({ repo, path: "README.md", accessToken: TOKEN, hubUrl });
    const commits = [];
    for await (const c of listCommits({ repo, hubUrl })) commits.push(c);
    expect(commits.length).toBe(commits0.length + 1);
    expect(await downloadFile({ repo, path: "README.md", hubUrl })).toBeNull();
    // The previous commit still has it.
    const old = await downloadFile({ repo, path: "README.md", hubUrl, revision: commits0[0]!.oid });
    expect(old).not.toBeNull();
    // A stale parentCommit is refused: someone else moved the branch.
    await expect(
      commit({
        repo,
        accessToken: TOKEN,
        hubUrl,
        title: "stale",
        parentCommit: commits0[0]!.oid,
        operations: [{ operation: "addOrUpdate", path: "x.txt", content: new Blob(["x"]) }],
      }),
    ).rejects.toThrow();
  });

  it("serves an NF4 variant of a stored safetensors file, computed once", async () => {
    const url = `${ctx.hub.url}/lowbit/faceres/resolve/main/model.safetensors?format=nf4`;
    const first = await fetch(url);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-lowbit-cache")).toBe("miss");
    const bytes = new Uint8Array(await first.arrayBuffer());
    const header = parseHeader(bytes);
    const lowbit = JSON.parse(header.metadata["lowbit"] ?? "{}") as {
      tensors: Record<string, { format: string }>;
    };
    const formats = new Set(Object.values(lowbit.tensors).map((t) => t.format));
    expect(formats).toEqual(new Set(["nf4"]));
    expect(bytes.length).toBeLessThan(base.length / 2);
    expect(first.headers.get("etag")).toBe(`"${sha256(bytes)}"`);
    const again = await fetch(url);
    expect(again.headers.get("x-lowbit-cache")).toBe("hit");
    expect(sha256(new Uint8Array(await again.arrayBuffer()))).toBe(sha256(bytes));
    const bad = await fetch(`${ctx.hub.url}/lowbit/faceres/resolve/main/model.safetensors?format=nf5`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/nf5/);
  });

  it("keeps private repos private", async () => {
    const hubUrl = ctx.hub.url;
    const secret = { type: "model" as const, name: "lowbit/secret" };
    await createRepo({ repo: secret, accessToken: TOKEN, hubUrl, visibility: "private" });
    await uploadFiles({
      repo: secret,
      accessToken: TOKEN,
      hubUrl,
      files: [{ path: "w.bin", content: new Blob([onnx.subarray(0, 4096)]) }],
    });
    await expect(downloadFile({ repo: secret, path: "w.bin", hubUrl })).rejects.toThrow();
    const anon = await fetch(`${hubUrl}/lowbit/secret/resolve/main/w.bin`);
    expect(anon.status).toBe(401);
    const withToken = await downloadFile({ repo: secret, path: "w.bin", hubUrl, accessToken: TOKEN });
    expect(withToken!.size).toBe(4096);
    const list = (await (await fetch(`${hubUrl}/api/models`)).json()) as { id: string }[];
    expect(list.map((r) => r.id)).not.toContain("lowbit/secret");
  });
});

describe("transformers.js against the hub", () => {
  it("loads a tokenizer, a config and an ONNX model through env.remoteHost, byte for byte", async () => {
    const hubUrl = ctx.hub.url;
    const repo = { type: "model" as const, name: "lowbit/silero-vad" };
    await createRepo({ repo, accessToken: TOKEN, hubUrl });
    // A real WordLevel tokenizer in the tokenizers JSON format.
    const vocab: Record<string, number> = { "[UNK]": 0, hello: 1, lowbit: 2, hub: 3 };
    const tokenizer = {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [
        {
          id: 0,
          content: "[UNK]",
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: false,
          special: true,
        },
      ],
      normalizer: { type: "Lowercase" },
      pre_tokenizer: { type: "Whitespace" },
      post_processor: null,
      decoder: null,
      model: { type: "WordLevel", vocab, unk_token: "[UNK]" },
    };
    const tokenizerConfig = {
      tokenizer_class: "PreTrainedTokenizer",
      unk_token: "[UNK]",
      model_max_length: 512,
    };
    await uploadFiles({
      repo,
      accessToken: TOKEN,
      hubUrl,
      files: [
        { path: "config.json", content: new Blob([JSON.stringify(CONFIG)]) },
        { path: "tokenizer.json", content: new Blob([JSON.stringify(tokenizer)]) },
        { path: "tokenizer_config.json", content: new Blob([JSON.stringify(tokenizerConfig)]) },
        { path: "onnx/model.onnx", content: new Blob([onnx]) },
      ],
    });

    const { AutoConfig, AutoModel, AutoTokenizer, env, Tensor } = await import("@huggingface/transformers");
    const seen: string[] = [];
    const onnxBodies: Buffer[] = [];
    env.allowLocalModels = false;
    env.allowRemoteModels = true;
    // In Node, transformers.js hands onnxruntime a file path from its file cache.
    const cacheDir = await mkdtemp(join(tmpdir(), "lowbit-tjs-"));
    env.useFSCache = true;
    env.cacheDir = cacheDir;
    env.useBrowserCache = false;
    env.remoteHost = `${hubUrl}/`;
    // Wrap fetch only to record what transformers.js asked for and received.
    const realFetch = globalThis.fetch;
    env.fetch = async (input: string | URL | Request, init?: RequestInit) => {
      const res = await realFetch(input, init);
      seen.push(`${res.status} ${String(input).replace(hubUrl, "")}`);
      if (String(input).endsWith("onnx/model.onnx") && res.status === 200) {
        const copy = res.clone();
        onnxBodies.push(Buffer.from(await copy.arrayBuffer()));
      }
      return res;
    };

    const config = await AutoConfig.from_pretrained(repo.name);
    expect((config as unknown as { model_type: string }).model_type).toBe("silero_vad");
    const tok = await AutoTokenizer.from_pretrained(repo.name);
    expect(tok.encode("Hello lowbit hub zzz", { add_special_tokens: false })).toEqual([1, 2, 3, 0]);

    const model = await AutoModel.from_pretrained(repo.name, { dtype: "fp32" });
    expect(onnxBodies.length).toBeGreaterThan(0);
    expect(sha256(onnxBodies[0]!)).toBe(sha256(onnx));
    // The model runs: silero VAD on 32 ms of a tone gives a speech probability in [0, 1].
    const input = new Tensor(
      "float32",
      new Float32Array(512).map((_, i) => Math.sin(i / 5) * 0.5),
      [1, 512],
    );
    const state = new Tensor("float32", new Float32Array(256), [2, 1, 128]);
    const sr = new Tensor("int64", BigInt64Array.from([16000n]), []);
    const out = (await model({ input, state, sr })) as Record<string, { data: Float32Array }>;
    const p = out["output"]!.data[0]!;
    expect(p).toBeGreaterThanOrEqual(0);
    expect(p).toBeLessThanOrEqual(1);
    await model.dispose();
    // The copy transformers.js cached on disk is the uploaded file, byte for byte.
    const cached = (await readdir(cacheDir, { recursive: true })).filter((p) => p.endsWith("model.onnx"));
    expect(cached.length).toBe(1);
    expect(sha256(await readFile(join(cacheDir, cached[0]!)))).toBe(sha256(onnx));
    await rm(cacheDir, { recursive: true, force: true });
    expect(seen.some((s) => s.startsWith("200 /lowbit/silero-vad/resolve/main/onnx/model.onnx"))).toBe(true);
    expect(seen.some((s) => s.startsWith("200 /lowbit/silero-vad/resolve/main/tokenizer.json"))).toBe(true);
  });
});
