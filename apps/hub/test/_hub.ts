import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHub } from "../src/server.js";
import type { Hub, HubOptions } from "../src/types.js";

export const SHARED = join(import.meta.dirname, "../../../../shared");
export const MODELS = join(SHARED, "datasets/models");
export const TOKEN = "hf_test-write-token-for-the-hub-tests";

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A hub on a free port over a fresh temp folder; `stop()` closes it and removes the folder. */
export async function tempHub(
  options: Partial<HubOptions> = {},
): Promise<{ hub: Hub; dir: string; stop: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "lowbit-hub-"));
  const hub = await startHub({ dataDir: dir, port: 0, token: TOKEN, log: false, ...options });
  return {
    hub,
    dir,
    stop: async () => {
      await hub.close(1000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function auth(token = TOKEN): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

/** A stdout/stderr stand-in that records what a command writes (TTY or not, 120 columns). */
export function sink(isTTY = false) {
  const s = {
    text: "",
    isTTY,
    columns: 120,
    write(t: string) {
      s.text += t;
      return true;
    },
  };
  return s;
}
