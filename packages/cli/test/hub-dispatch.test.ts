import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/index.js";
import { sink } from "./_helpers.js";

// `lowbit hub …` is forwarded to the hub app (apps/hub, built) found at run time; these check that
// the forwarding reaches it, with the arguments, output streams and exit codes intact.
const HUB_CLI = fileURLToPath(new URL("../../../apps/hub/dist/cli.js", import.meta.url));

let dir = "";
beforeAll(() => {
  if (!existsSync(HUB_CLI)) throw new Error(`${HUB_CLI} is missing: build first (npx turbo run build)`);
  dir = mkdtempSync(join(tmpdir(), "lowbit-hub-dispatch-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function lowbit(...args: string[]) {
  const stdout = sink();
  const stderr = sink();
  const code = await main(args, { stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe("lowbit hub", () => {
  it("token list reaches the hub: an empty data folder has no tokens", async () => {
    const text = await lowbit("hub", "token", "list", "--data", dir);
    expect(text.stderr).toBe("");
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(`no tokens in ${join(dir, "hub.db")}\n`);
    const json = await lowbit("hub", "token", "list", "--data", dir, "--json");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([]);
    // Listing creates nothing.
    expect(existsSync(join(dir, "hub.db"))).toBe(false);
  });

  it("--help after a hub command is the hub's own help; usage errors keep exit code 2", async () => {
    const help = await lowbit("hub", "push", "--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: lowbit hub push DIR REPO/);
    const bad = await lowbit("hub", "push", "only-one-argument");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /^lowbit hub: expected DIR and REPO, got 1 argument\(s\)\nusage: lowbit hub push /,
    );
  });

  it("is listed in the main help, and 'lowbit help hub' works without the app", async () => {
    const top = await lowbit("--help");
    expect(top.stdout).toContain("lowbit hub serve|token|push|pull");
    const topic = await lowbit("help", "hub");
    expect(topic.code).toBe(0);
    expect(topic.stdout).toContain("lowbit hub pull REPO DIR");
  });
});
