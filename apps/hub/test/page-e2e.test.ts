/**
 * The web page end to end: a real hub with a real model pushed by @huggingface/hub, opened in
 * headless Debian Chromium; the links the page shows are followed and their bytes checked.
 */
import { readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRepo, uploadFiles } from "@huggingface/hub";
import { parseHeader } from "@lowbit/safetensors";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasChromium, launchBrowser } from "./_browser.js";
import { MODELS, sha256, TOKEN, tempHub } from "./_hub.js";

const SHOTS = process.env["LOWBIT_SCREENSHOT_DIR"] ?? tmpdir();

describe.skipIf(!hasChromium())("the page against a running hub", () => {
  let ctx: Awaited<ReturnType<typeof tempHub>>;
  let model: Buffer;

  beforeAll(async () => {
    ctx = await tempHub();
    model = await readFile(join(MODELS, "face_expression.f32.safetensors"));
    const hubUrl = ctx.hub.url;
    const repo = { type: "model" as const, name: "demo/face-expression" };
    await createRepo({ repo, accessToken: TOKEN, hubUrl });
    await uploadFiles({
      repo,
      accessToken: TOKEN,
      hubUrl,
      files: [
        { path: "weights/model.safetensors", content: new Blob([model]) },
        { path: "config.json", content: new Blob(['{"model_type":"face"}']) },
      ],
    });
  });
  afterAll(async () => ctx?.stop());

  it("lists the repo, shows its files and serves what its links point at", async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`${ctx.hub.url}/`);
      await page.getByTestId("repo-item").first().waitFor();
      expect(await page.getByTestId("repo-link").allTextContents()).toEqual(["demo/face-expression"]);
      expect(await page.getByTestId("chart-bar").count()).toBe(2);
      await page.getByTestId("repo-link").first().click();
      await page.getByTestId("file-row").first().waitFor();
      await page.getByTestId("download-link").first().waitFor();
      const hrefs = await page
        .getByTestId("download-link")
        .evaluateAll((as) => as.map((a) => (a as unknown as { href: string }).href));
      const weights = hrefs.find((h) => h.endsWith("/weights/model.safetensors"))!;
      expect(weights).toBe(`${ctx.hub.url}/demo/face-expression/resolve/main/weights/model.safetensors`);
      const nf4 = await page.locator('[data-testid="variant-link"][data-format="nf4"]').getAttribute("href");
      expect(nf4).toBe("/demo/face-expression/resolve/main/weights/model.safetensors?format=nf4");
      const shot = join(SHOTS, "lowbit-hub-e2e.png");
      await page.screenshot({ path: shot, fullPage: true });
      expect((await stat(shot)).size).toBeGreaterThan(10_000);
      expect(errors).toEqual([]);

      // What the links point at: the file itself, and a quantized variant of it.
      const got = Buffer.from(await (await fetch(weights)).arrayBuffer());
      expect(sha256(got)).toBe(sha256(model));
      const variant = new Uint8Array(await (await fetch(`${ctx.hub.url}${nf4}`)).arrayBuffer());
      expect(parseHeader(variant).metadata["lowbit"]).toContain("nf4");
    } finally {
      await browser.close();
    }
  });
});
