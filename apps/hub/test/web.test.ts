import { mkdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PAGE_HTML } from "../src/web.js";
import { type Browser, CHROMIUM_PATH, hasChromium, launchBrowser } from "./_browser.js";

// The page's data contract: the JSON the hub's read APIs answer, served by a tiny node:http server so the
// page is tested on its own in a real browser (the end-to-end page test runs against the real hub).

const TINY = "acme/tiny-llama";
const NESTED = "demo-nested"; // a bare repo id (one segment)
const oid = (c: string) => c.repeat(40);
const NASTY_TAG = "<img src=x onerror=alert(1)>";

interface Entry {
  type: "file" | "directory";
  path: string;
  size: number;
  oid: string;
  lfs?: { oid: string; size: number; pointerSize: number };
  variants?: string[];
}
const file = (path: string, size: number, extra: Partial<Entry> = {}): Entry => ({
  type: "file",
  path,
  size,
  oid: oid("f"),
  ...extra,
});
const dir = (path: string): Entry => ({ type: "directory", path, size: 0, oid: oid("d") });
const lfs = (size: number) => ({ oid: "e".repeat(64), size, pointerSize: 134 });

const commit = (id: string, title: string, date: string, parents: string[]) => ({
  id,
  title,
  message: `${title}\n\nmore words`,
  authors: [{ user: "env" }],
  date,
  parents,
});

const TINY_MAIN = [
  file("README.md", 2_048),
  file("config.json", 612),
  file("model.safetensors", 1_234_567, {
    lfs: lfs(1_234_567),
    // int4 and float8_e4m3fn are absent on purpose: only the present common formats get a chip.
    variants: ["mxfp4", "nf4", "int8", "q8_0", "nvfp4"],
  }),
];
const TINY_DEV = [...TINY_MAIN, file("adapter.safetensors", 45_000, { variants: ["int4"] })];
// Sorted like the hub sorts a recursive listing; served in two pages to exercise the Link header.
const NESTED_MAIN = [
  file("README.md", 999),
  dir("tokenizer"),
  file("tokenizer/tokenizer.json", 2_100_000),
  dir("weights"),
  file("weights/index.json", 15_300),
  dir("weights/layer 1"),
  file("weights/layer 1/model part.safetensors", 2_500_000_000, {
    lfs: lfs(2_500_000_000),
    variants: ["float8_e4m3fn", "nf4"],
  }),
];

interface RepoFixture {
  refs: { branches: { name: string; ref: string; targetCommit: string }[]; tags: never[]; converts: never[] };
  revs: Record<string, { commits: ReturnType<typeof commit>[]; tree: Entry[] }>;
}
const c1 = commit(oid("1"), "initial commit", "2025-03-01T09:00:00.000Z", []);
const c2 = commit(oid("2"), "Upload weights <b>bold</b>", "2025-03-02T10:00:00.000Z", [oid("1")]);
const c3 = commit(oid("3"), "Add adapter", "2025-03-03T11:00:00.000Z", [oid("2")]);
const n1 = commit(oid("a"), "initial commit", "2025-04-01T09:00:00.000Z", []);
const n2 = commit(oid("b"), "Nested layout", "2025-04-02T09:00:00.000Z", [oid("a")]);
const REPOS: Record<string, RepoFixture> = {
  [TINY]: {
    refs: {
      branches: [
        { name: "dev", ref: "refs/heads/dev", targetCommit: oid("3") },
        { name: "main", ref: "refs/heads/main", targetCommit: oid("2") },
      ],
      tags: [],
      converts: [],
    },
    revs: {
      main: { commits: [c2, c1], tree: TINY_MAIN },
      dev: { commits: [c3, c2, c1], tree: TINY_DEV },
      [oid("2")]: { commits: [c2, c1], tree: TINY_MAIN },
      [oid("1")]: { commits: [c1], tree: [] },
    },
  },
  [NESTED]: {
    refs: {
      branches: [{ name: "main", ref: "refs/heads/main", targetCommit: oid("b") }],
      tags: [],
      converts: [],
    },
    revs: { main: { commits: [n2, n1], tree: NESTED_MAIN } },
  },
};
const MODELS = [
  {
    _id: "1",
    id: TINY,
    private: false,
    sha: oid("2"),
    lastModified: "2025-03-02T10:00:00.000Z",
    createdAt: "2025-03-01T09:00:00.000Z",
    downloads: 1234,
    likes: 5,
    tags: ["safetensors", NASTY_TAG],
  },
  {
    _id: "2",
    id: NESTED,
    private: false,
    sha: oid("b"),
    lastModified: "2025-04-02T09:00:00.000Z",
    createdAt: "2025-04-01T09:00:00.000Z",
    downloads: 0,
    likes: 0,
    tags: [],
  },
];
const STATS = {
  logicalBytes: 2_600_000_000,
  storedBytes: 1_040_000_000,
  ratio: 0.4,
  variants: { count: 3, logicalBytes: 900_000_000, storedBytes: 300_000_000 },
  repos: [
    { id: TINY, private: false, files: 3, logicalBytes: 1_300_000, storedBytes: 325_000, ratio: 0.25 },
    {
      id: NESTED,
      private: false,
      files: 4,
      logicalBytes: 2_500_000_000,
      storedBytes: 1_000_000_000,
      ratio: 0.4,
    },
    // The hub only lists private repos to a token holder; the page never charts them anyway.
    {
      id: "acme/secret",
      private: true,
      files: 1,
      logicalBytes: 98_700_000,
      storedBytes: 39_000_000,
      ratio: 0.4,
    },
  ],
};
const FORMATS = [
  { name: "nf4", description: "4-bit NormalFloat (bitsandbytes)", defaults: { blockSize: 64 } },
  { name: "int8", description: "8-bit integers per channel", defaults: {} },
];

/** Switches the test server between the normal fixture, a failing `/api/models` and an empty hub. */
const mode = { failModels: false, empty: false };

interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}
const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  body,
  headers,
});

/** What the hub's read APIs would answer for `url`, from the fixture. */
function answer(url: URL): Reply {
  const p = url.pathname;
  if (p === "/api/models") {
    if (mode.failModels) return json(500, { error: "database is locked", code: "ERR_LOCKED" });
    return json(200, mode.empty ? [] : MODELS);
  }
  if (p === "/api/stats") {
    const empty = { ...STATS, logicalBytes: 0, storedBytes: 0, repos: [] };
    return json(200, mode.empty ? empty : STATS);
  }
  if (p === "/api/formats") return json(200, FORMATS);
  for (const [id, repo] of Object.entries(REPOS)) {
    const prefix = `/api/models/${id}/`;
    if (!p.startsWith(prefix)) continue;
    const [what, ...revParts] = p.slice(prefix.length).split("/");
    if (what === "refs") return json(200, repo.refs);
    const rev = repo.revs[decodeURIComponent(revParts.join("/"))];
    if (rev === undefined) return json(404, { error: "Revision not found" });
    if (what === "commits") return json(200, rev.commits);
    if (what === "tree" && url.searchParams.get("recursive") === "true") {
      const offset = Number(url.searchParams.get("cursor") ?? 0);
      const headers: Record<string, string> = {};
      if (offset + 3 < rev.tree.length) {
        const next = new URL(url);
        next.searchParams.set("cursor", String(offset + 3));
        headers["Link"] = `<${next.href}>; rel="next"`;
      }
      return json(200, rev.tree.slice(offset, offset + 3), headers);
    }
  }
  return json(404, { error: `Repository not found: ${p}` });
}

function handle(req: IncomingMessage, res: ServerResponse, origin: string): void {
  const url = new URL(req.url ?? "/", origin);
  if (url.pathname === "/") {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(PAGE_HTML);
    return;
  }
  const reply = answer(url);
  res.writeHead(reply.status, { "Content-Type": "application/json", ...reply.headers });
  res.end(JSON.stringify(reply.body));
}

const SHOTS = process.env["LOWBIT_SCREENSHOT_DIR"] ?? tmpdir();

async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, name);
  await page.screenshot({ path, fullPage: true });
  // A real PNG with content: signature plus far more than an empty image's few hundred bytes.
  expect(readFileSync(path).subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
  expect(statSync(path).size).toBeGreaterThan(10_000);
  return path;
}

/** A page that records console errors and uncaught exceptions. */
async function openPage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  return { page, errors };
}

const texts = (page: Page, selector: string) => page.locator(selector).allTextContents();

/** Missing fields must never leak into the page as "null", "undefined" or "NaN". */
async function expectNoJunk(page: Page): Promise<void> {
  expect(await page.locator("body").innerText()).not.toMatch(/\b(null|undefined|NaN)\b/);
}

if (!hasChromium()) {
  console.warn(
    `web.test.ts skipped: ${CHROMIUM_PATH} is missing (install it with: bash tools/ensure-chromium.sh)`,
  );
}

describe.skipIf(!hasChromium())("hub web page in headless Chromium", () => {
  let server: Server;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    server = createServer((req, res) => handle(req, res, base));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it("shows totals, the storage chart and the repo list, with API strings escaped", async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${base}/`);
    await page.getByTestId("repo-item").first().waitFor();

    expect(await texts(page, "[data-testid=repo-link]")).toEqual([TINY, NESTED]);
    expect(await page.getByTestId("totals-logical").textContent()).toBe("2.6 GB");
    expect(await page.getByTestId("totals-stored").textContent()).toBe("1.0 GB");
    expect(await page.getByTestId("totals-saved").textContent()).toBe("saved 60.0%");
    expect(await page.getByTestId("repo-size").first().textContent()).toBe(
      "1.3 MB325.0 KB stored · saved 75.0%",
    );

    // Chart: one logical/stored pair per public repo, labelled, stored shorter than logical.
    const chart = page.locator("svg[data-testid=chart]");
    expect(await chart.locator("rect[data-testid=chart-bar]").count()).toBe(2 * MODELS.length);
    expect(await texts(page, "[data-testid=chart-label]")).toEqual([TINY, NESTED]);
    expect(await texts(page, "[data-testid=chart-saved]")).toEqual(["saved 75.0%", "saved 60.0%"]);
    expect(await chart.getAttribute("role")).toBe("img");
    expect(await chart.getAttribute("aria-label")).toMatch(/logical .* stored/);
    const child = (tag: string) =>
      chart.evaluate((svg, t) => svg.querySelector(`:scope > ${t}`)?.textContent, tag);
    expect(await child("title")).toMatch(/^Storage per repository/);
    expect(await child("desc")).toContain(`${NESTED}: 2.5 GB logical, 1.0 GB stored`);
    for (const id of [TINY, NESTED]) {
      const row = chart.locator(`g[data-repo="${id}"]`);
      const logical = Number(await row.locator("rect[data-kind=logical]").getAttribute("width"));
      const stored = Number(await row.locator("rect[data-kind=stored]").getAttribute("width"));
      expect(stored).toBeGreaterThan(0);
      expect(stored).toBeLessThan(logical);
    }
    expect(await page.getByTestId("chart-card").textContent()).not.toContain("acme/secret");
    expect(await page.getByTestId("variants-stats").textContent()).toContain("3 cached quantized variants");

    // A tag full of markup is shown as text, never parsed.
    expect(await page.getByTestId("repos-card").textContent()).toContain(NASTY_TAG);
    expect(await page.locator("#view img").count()).toBe(0);

    await expectNoJunk(page);
    await screenshot(page, "lowbit-hub-home.png");
    await page.emulateMedia({ colorScheme: "dark" });
    await page.reload();
    await page.getByTestId("chart").waitFor();
    await screenshot(page, "lowbit-hub-home-dark.png");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("opens a repo: file tree with sizes and encoded links, variants, branches, commits, back button", async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${base}/`);
    await page.locator(`[data-testid=repo-link]:text-is("${NESTED}")`).click();
    await page.getByTestId("file-tree").waitFor();
    expect(new URL(page.url()).hash).toBe(`#/repo/${NESTED}`);
    expect(await page.getByTestId("repo-title").textContent()).toBe(NESTED);
    expect(await page.getByTestId("repo-stats").textContent()).toBe(
      "2.5 GB logical → 1.0 GB stored (saved 60.0%)",
    );

    // Every entry, including those on the tree's second page; folders first, each with its total size.
    const rows = page.getByTestId("file-row");
    expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-path")))).toEqual([
      "tokenizer",
      "tokenizer/tokenizer.json",
      "weights",
      "weights/layer 1",
      "weights/layer 1/model part.safetensors",
      "weights/index.json",
      "README.md",
    ]);
    const size = (path: string) =>
      page.locator(`[data-path="${path}"] > .frow [data-testid=file-size]`).textContent();
    expect(await size("README.md")).toBe("999 B");
    expect(await size("weights/index.json")).toBe("15.3 KB");
    expect(await size("tokenizer/tokenizer.json")).toBe("2.1 MB");
    expect(await size("weights/layer 1/model part.safetensors")).toBe("2.5 GB");
    expect(await size("weights")).toBe("2.5 GB");

    const deep = page.locator('[data-path="weights/layer 1/model part.safetensors"]');
    expect(await deep.getByTestId("download-link").getAttribute("href")).toBe(
      `/${NESTED}/resolve/main/weights/layer%201/model%20part.safetensors`,
    );
    expect(
      await deep.getByTestId("variant-link").evaluateAll((els) => els.map((e) => e.getAttribute("href"))),
    ).toEqual([
      `/${NESTED}/resolve/main/weights/layer%201/model%20part.safetensors?format=nf4`,
      `/${NESTED}/resolve/main/weights/layer%201/model%20part.safetensors?format=float8_e4m3fn`,
    ]);
    expect(await page.locator('[data-path="weights/index.json"] [data-testid=variants]').count()).toBe(0);

    // Folding a folder hides what is under it.
    await page.locator('[data-path="weights"] > .frow [data-testid=dir-toggle]').click();
    expect(await deep.isVisible()).toBe(false);
    await page.locator('[data-path="weights"] > .frow [data-testid=dir-toggle]').click();
    expect(await deep.isVisible()).toBe(true);

    // Back to the list, into the other repo.
    await page.goBack();
    await page.getByTestId("repo-list").waitFor();
    expect(new URL(page.url()).hash).toBe("");
    await page.locator(`[data-testid=repo-link]:text-is("${TINY}")`).click();
    await page.getByTestId("file-tree").waitFor();
    expect(new URL(page.url()).hash).toBe(`#/repo/${TINY}`);

    const weights = page.locator('[data-path="model.safetensors"]');
    expect(await weights.getByTestId("download-link").getAttribute("href")).toBe(
      `/${TINY}/resolve/main/model.safetensors`,
    );
    expect(
      await weights.getByTestId("variant-link").evaluateAll((els) => els.map((e) => e.dataset["format"])),
    ).toEqual(["nf4", "int8", "mxfp4"]);
    expect(await weights.locator("[data-format=nf4]").getAttribute("href")).toBe(
      `/${TINY}/resolve/main/model.safetensors?format=nf4`,
    );
    expect(await weights.locator("[data-format=nf4]").getAttribute("title")).toContain("NormalFloat");
    const more = weights.getByTestId("variant-select");
    expect(await more.locator("option").allTextContents()).toEqual(["nvfp4", "q8_0"]);
    await more.selectOption("q8_0");
    expect(await weights.getByTestId("variant-select-link").getAttribute("href")).toBe(
      `/${TINY}/resolve/main/model.safetensors?format=q8_0`,
    );
    expect(await size("model.safetensors")).toBe("1.2 MB");
    expect(await size("README.md")).toBe("2.0 KB");

    // Branches from refs (main first selected), commits with short oids, titles as text.
    const branch = page.getByTestId("branch-select");
    expect(await branch.inputValue()).toBe("main");
    expect(await branch.locator("option").allTextContents()).toEqual(["dev", "main"]);
    expect(await texts(page, "[data-testid=commit-oid]")).toEqual(["2222222", "1111111"]);
    expect(await page.getByTestId("commit-list").textContent()).toContain("Upload weights <b>bold</b>");
    expect(await page.getByTestId("head-oid").textContent()).toBe("2222222");
    expect(await page.getByTestId("use-js").textContent()).toContain(`repo: "${TINY}", path: "config.json",`);
    await expectNoJunk(page);
    await screenshot(page, "lowbit-hub-repo.png");

    await branch.selectOption("dev");
    await page.waitForFunction("document.querySelectorAll('[data-testid=commit-oid]').length === 3");
    expect(new URL(page.url()).hash).toBe(`#/repo/${TINY}/tree/dev`);
    expect(
      await page.locator('[data-path="adapter.safetensors"] [data-format=int4]').getAttribute("href"),
    ).toBe(`/${TINY}/resolve/dev/adapter.safetensors?format=int4`);

    // A commit opens the tree at that commit; the back button retraces every view.
    await page.locator('[data-testid=commit-oid]:text-is("1111111")').click();
    await page.getByTestId("file-tree-empty").waitFor();
    expect(new URL(page.url()).hash).toBe(`#/repo/${TINY}/tree/${oid("1")}`);
    expect(await page.getByTestId("branch-select").inputValue()).toBe(oid("1"));
    await page.goBack();
    await page.locator('[data-path="adapter.safetensors"]').waitFor();
    expect(await page.getByTestId("branch-select").inputValue()).toBe("dev");
    await page.goBack();
    await page.waitForFunction("document.querySelectorAll('[data-testid=commit-oid]').length === 2");
    expect(await page.getByTestId("branch-select").inputValue()).toBe("main");
    await page.goBack();
    await page.getByTestId("repo-list").waitFor();

    // Deep links work on a fresh load, and on a narrow screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: "dark" });
    await page.goto(`${base}/#/repo/${NESTED}/tree/main`);
    await page.getByTestId("file-tree").waitFor();
    await screenshot(page, "lowbit-hub-repo-mobile-dark.png");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows API errors instead of a blank page, and the empty state", async () => {
    const { page, errors } = await openPage(browser);
    mode.failModels = true;
    try {
      await page.goto(`${base}/`);
      await page.getByTestId("error").waitFor();
      const message = await page.getByTestId("error-message").textContent();
      expect(message).toContain("HTTP 500");
      expect(message).toContain("database is locked (ERR_LOCKED)");
      expect(await page.getByTestId("chart").count()).toBe(1); // stats still answered
      await screenshot(page, "lowbit-hub-error.png");
    } finally {
      mode.failModels = false;
    }
    await page.getByTestId("retry").click();
    await page.getByTestId("repo-item").first().waitFor();
    expect(await page.getByTestId("error").count()).toBe(0);

    await page.goto(`${base}/#/repo/nobody/nothing`);
    await page.getByTestId("error").waitFor();
    expect(await page.getByTestId("error-message").textContent()).toContain("not found");
    expect(await page.getByTestId("back-link").isVisible()).toBe(true);

    // Only the failed requests themselves may be logged, nothing from the page's script.
    expect(errors.filter((e) => !e.startsWith("Failed to load resource"))).toEqual([]);
    expect(errors.length).toBeGreaterThan(0);

    mode.empty = true;
    try {
      await page.goto(`${base}/#/`);
      await page.reload();
      await page.getByTestId("empty-state").waitFor();
      expect(await page.getByTestId("empty-state").textContent()).toContain("No repositories yet");
      expect(await page.getByTestId("empty-cli").textContent()).toContain(
        `lowbit hub push ./my-model my-org/my-model --endpoint ${base}`,
      );
      const js = await page.getByTestId("empty-js").textContent();
      expect(js).toContain('from "@huggingface/hub"');
      expect(js).toContain(`const hubUrl = "${base}"`);
      expect(await page.getByTestId("totals-saved").textContent()).toBe("saved 0.0%");
      await expectNoJunk(page);
      await screenshot(page, "lowbit-hub-empty.png");
    } finally {
      mode.empty = false;
    }
    await page.close();
  });
});
