/** `lowbit hub gc`: what deleted repos leave behind goes; what any commit references stays. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hubMain } from "../src/cli.js";
import { startHub } from "../src/server.js";
import { auth, MODELS, sha256, sink, TOKEN, tempHub } from "./_hub.js";

async function push(url: string, repo: string, path: string, data: Uint8Array) {
  const json = { ...auth(), "Content-Type": "application/json" };
  expect(
    (
      await fetch(`${url}/api/repos/create`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ name: repo }),
      })
    ).status,
  ).toBe(200);
  const batch = await fetch(`${url}/${repo}.git/info/lfs/objects/batch`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ operation: "upload", objects: [{ oid: sha256(data), size: data.length }] }),
  });
  const href = ((await batch.json()) as { objects: { actions: { upload: { href: string } } }[] }).objects[0]!
    .actions.upload.href;
  expect((await fetch(href, { method: "PUT", body: data })).status).toBe(200);
  const body = [
    JSON.stringify({ key: "header", value: { summary: "add" } }),
    JSON.stringify({ key: "lfsFile", value: { path, algo: "sha256", oid: sha256(data), size: data.length } }),
  ].join("\n");
  const res = await fetch(`${url}/api/models/${repo}/commit/main`, {
    method: "POST",
    headers: { ...auth(), "Content-Type": "application/x-ndjson" },
    body,
  });
  expect(res.status).toBe(200);
}

describe("lowbit hub gc", () => {
  it("removes the files of a deleted repo and keeps every referenced one", async () => {
    const { hub, dir, stop } = await tempHub();
    const kept = await readFile(join(MODELS, "face_expression.f32.safetensors"));
    const dropped = await readFile(join(MODELS, "face_landmark_68.f32.safetensors"));
    await push(hub.url, "org/kept", "w.safetensors", kept);
    await push(hub.url, "org/dropped", "w.safetensors", dropped);
    const del = await fetch(`${hub.url}/api/repos/delete`, {
      method: "DELETE",
      headers: { ...auth(), "Content-Type": "application/json" },
      body: JSON.stringify({ name: "org/dropped" }),
    });
    expect(del.status).toBe(200);
    const before = (await (await fetch(`${hub.url}/api/stats`)).json()) as { storedBytes: number };
    // With the default grace period nothing this young is touched.
    const out = sink();
    expect(await hubMain(["gc", "--data", dir, "--json"], { stdout: out, stderr: sink() })).toBe(0);
    expect(JSON.parse(out.text).removed).toBe(0);
    const out2 = sink();
    expect(
      await hubMain(["gc", "--data", dir, "--grace", "0", "--json"], { stdout: out2, stderr: sink() }),
    ).toBe(0);
    expect(JSON.parse(out2.text).removed).toBe(1);
    await hub.close();
    const again = await startHub({ dataDir: dir, port: 0, token: TOKEN, log: false });
    try {
      const after = (await (await fetch(`${again.url}/api/stats`)).json()) as { storedBytes: number };
      expect(after.storedBytes).toBeLessThan(before.storedBytes - dropped.length / 4);
      const got = Buffer.from(
        await (await fetch(`${again.url}/org/kept/resolve/main/w.safetensors`)).arrayBuffer(),
      );
      expect(sha256(got)).toBe(sha256(kept));
    } finally {
      await again.close();
      await stop().catch(() => {});
    }
  });

  it("refuses a folder without hub data", async () => {
    const err = sink();
    expect(await hubMain(["gc", "--data", "/nonexistent-lowbit-hub"], { stdout: sink(), stderr: err })).toBe(
      1,
    );
    expect(err.text).toMatch(/no hub data/);
  });
});
