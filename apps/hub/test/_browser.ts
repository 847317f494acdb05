import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

/** Debian's chromium, installed by tools/ensure-chromium.sh (playwright's own browsers are never downloaded). */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** No network beyond the test's own server, no first-run, update or sync chatter, no GPU. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function hasChromium(): boolean {
  return existsSync(CHROMIUM_PATH);
}

export interface Browser {
  readonly context: BrowserContext;
  /** Closes the browser and removes its profile folder. */
  close(): Promise<void>;
}

/** Starts headless Chromium with a fresh profile in a temp folder. */
export async function launchBrowser(
  options: { readonly viewport?: { readonly width: number; readonly height: number } } = {},
): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), "lowbit-chromium-"));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport: options.viewport ? { ...options.viewport } : { width: 1280, height: 900 },
      timeout: 30_000,
    });
    return {
      context,
      close: async () => {
        await context.close();
        await rm(profile, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await rm(profile, { recursive: true, force: true });
    throw e;
  }
}
