/**
 * The hub's web page: one self-contained HTML document (inline CSS and JS, no external resources, no
 * build step) served at `GET /`. It only reads the public JSON APIs of the same origin (`/api/models`,
 * `/api/models/{id}/refs|commits|tree`, `/api/stats`, `/api/formats`) and routes on the URL hash
 * (`#/`, `#/repo/{id}`, `#/repo/{id}/tree/{rev}`) so every view is linkable and the back button works.
 *
 * Every string from the API reaches the DOM through text nodes or attributes, never through HTML parsing.
 * Sizes are decimal (1 KB = 1000 bytes), as the Hugging Face Hub shows them.
 */

const CSS = `
:root {
  color-scheme: light dark;
  --bg: #f5f6f8;
  --surface: #ffffff;
  --surface-2: #f0f2f5;
  --border: #e2e5ea;
  --text: #1a1d23;
  --muted: #5d6573;
  --accent: #4f46e5;
  --accent-hover: #4338ca;
  --accent-soft: #eef0ff;
  --accent-text: #3730a3;
  --ok: #067647;
  --ok-soft: #e7f6ee;
  --danger: #b42318;
  --danger-soft: #fef3f2;
  --danger-border: #fecdca;
  --bar-logical: #c9ced8;
  --bar-stored: #4f46e5;
  --radius: 12px;
  --shadow: 0 1px 2px rgba(16, 24, 40, 0.05), 0 1px 3px rgba(16, 24, 40, 0.07);
  --mono: ui-monospace, "SFMono-Regular", "Cascadia Mono", Menlo, Consolas, "Liberation Mono", monospace;
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117;
    --surface: #151a22;
    --surface-2: #1c222c;
    --border: #2a313c;
    --text: #e6e9ef;
    --muted: #9aa3b2;
    --accent: #8b8df9;
    --accent-hover: #a5a7fb;
    --accent-soft: rgba(139, 141, 249, 0.14);
    --accent-text: #c7c8fd;
    --ok: #5ad49a;
    --ok-soft: rgba(90, 212, 154, 0.12);
    --danger: #ff9b8f;
    --danger-soft: rgba(255, 110, 90, 0.1);
    --danger-border: rgba(255, 110, 90, 0.35);
    --bar-logical: #3b4452;
    --bar-stored: #8b8df9;
    --shadow: 0 1px 2px rgba(0, 0, 0, 0.3);
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0;
  background: var(--bg);
  color: var(--text);
  font: 15px/1.5 var(--sans);
  min-height: 100vh;
  display: flex;
  flex-direction: column;
}
a { color: var(--accent); text-decoration: none; }
a:hover { color: var(--accent-hover); text-decoration: underline; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; border-radius: 4px; }
[tabindex="-1"]:focus { outline: none; }
code, pre, .mono { font-family: var(--mono); font-size: 0.86em; }
h1, h2, h3 { line-height: 1.25; margin: 0; }
h1 { font-size: 1.5rem; font-weight: 650; letter-spacing: -0.01em; overflow-wrap: anywhere; }
h2 { font-size: 1.02rem; font-weight: 620; }
.wrap { width: 100%; max-width: 1120px; margin: 0 auto; padding: 0 20px; }
.sr-only {
  position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}

/* header */
.top {
  position: sticky; top: 0; z-index: 10;
  background: color-mix(in srgb, var(--surface) 88%, transparent);
  backdrop-filter: saturate(1.4) blur(8px);
  border-bottom: 1px solid var(--border);
}
.top-inner { display: flex; align-items: center; justify-content: space-between; gap: 16px; min-height: 60px; flex-wrap: wrap; padding-top: 8px; padding-bottom: 8px; }
.brand { display: inline-flex; align-items: center; gap: 10px; color: var(--text); font-weight: 680; font-size: 1.08rem; letter-spacing: -0.01em; }
.brand:hover { color: var(--text); text-decoration: none; }
.logo { display: inline-grid; place-items: center; width: 30px; height: 30px; border-radius: 8px; background: var(--accent); color: #fff; }
.logo svg { width: 18px; height: 18px; }
.brand small { color: var(--muted); font-weight: 450; font-size: 0.82rem; }
.totals { display: flex; align-items: center; gap: 6px 10px; flex-wrap: wrap; color: var(--muted); font-size: 0.9rem; }
.totals strong { color: var(--text); font-weight: 620; font-variant-numeric: tabular-nums; }
.pill {
  display: inline-flex; align-items: center; gap: 4px; padding: 2px 10px; border-radius: 999px;
  background: var(--ok-soft); color: var(--ok); font-weight: 620; font-size: 0.85rem; white-space: nowrap;
}
.pill.neutral { background: var(--surface-2); color: var(--muted); }

main.wrap { flex: 1; padding-top: 24px; padding-bottom: 40px; }
#view { display: grid; gap: 20px; }
.card {
  background: var(--surface); border: 1px solid var(--border); border-radius: var(--radius);
  box-shadow: var(--shadow); padding: 20px; min-width: 0;
}
.card-head { display: flex; align-items: baseline; justify-content: space-between; gap: 12px; flex-wrap: wrap; margin-bottom: 14px; }
.card-head .sub { color: var(--muted); font-size: 0.88rem; }
.muted { color: var(--muted); }
.loading { color: var(--muted); padding: 8px 0; }
.loading::before {
  content: ""; display: inline-block; width: 12px; height: 12px; margin-right: 8px; vertical-align: -1px;
  border: 2px solid var(--border); border-top-color: var(--accent); border-radius: 50%;
  animation: spin 0.8s linear infinite;
}
@keyframes spin { to { transform: rotate(360deg); } }
@media (prefers-reduced-motion: reduce) { .loading::before { animation: none; } }

/* alerts */
.alert {
  border: 1px solid var(--danger-border); background: var(--danger-soft); color: var(--danger);
  border-radius: 10px; padding: 12px 14px; display: flex; gap: 12px; align-items: flex-start; justify-content: space-between; flex-wrap: wrap;
}
.alert strong { display: block; margin-bottom: 2px; }
.alert .msg { color: var(--text); overflow-wrap: anywhere; }
button, .btn, select, input {
  font: inherit; font-size: 0.88rem; color: var(--text);
  border: 1px solid var(--border); background: var(--surface); border-radius: 8px;
}
button, .btn { padding: 5px 12px; cursor: pointer; display: inline-flex; align-items: center; gap: 6px; white-space: nowrap; }
button:hover, .btn:hover { border-color: var(--accent); color: var(--accent); text-decoration: none; }
.btn.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
.btn.primary:hover { background: var(--accent-hover); color: #fff; }
select { padding: 5px 28px 5px 10px; cursor: pointer; max-width: 100%; }
input[type="search"] { padding: 7px 12px; width: 100%; max-width: 320px; }

/* chart */
.legend { display: flex; gap: 16px; flex-wrap: wrap; font-size: 0.85rem; color: var(--muted); margin: -4px 0 12px; }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
.swatch { width: 12px; height: 12px; border-radius: 3px; display: inline-block; }
.swatch.logical { background: var(--bar-logical); }
.swatch.stored { background: var(--bar-stored); }
.chart-box { width: 100%; }
.chart { display: block; width: 100%; height: auto; overflow: visible; }
.chart .bar-logical { fill: var(--bar-logical); }
.chart .bar-stored { fill: var(--bar-stored); }
.chart text { fill: var(--text); font-family: var(--sans); font-size: 13px; }
.chart .chart-label { font-weight: 600; }
.chart .chart-value { fill: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
.chart .chart-saved { fill: var(--ok); font-size: 12px; font-weight: 600; }
.chart-foot { margin-top: 10px; color: var(--muted); font-size: 0.85rem; }

/* repo list */
.list-tools { display: flex; gap: 12px; align-items: center; justify-content: space-between; flex-wrap: wrap; margin-bottom: 12px; }
.repos { list-style: none; margin: 0; padding: 0; display: grid; gap: 10px; }
.repo {
  position: relative; display: flex; justify-content: space-between; gap: 16px; align-items: center;
  padding: 14px 16px; border: 1px solid var(--border); border-radius: 10px; background: var(--surface);
  transition: border-color 0.12s, background 0.12s;
}
.repo:hover { border-color: var(--accent); background: var(--accent-soft); }
.repo[hidden] { display: none; }
.repo-name { font-weight: 620; font-size: 1rem; color: var(--text); overflow-wrap: anywhere; }
.repo-name::after { content: ""; position: absolute; inset: 0; border-radius: 10px; }
.repo-name:hover { color: var(--accent); text-decoration: none; }
.repo-meta { color: var(--muted); font-size: 0.84rem; margin-top: 2px; display: flex; gap: 4px 12px; flex-wrap: wrap; }
.tags { display: flex; gap: 6px; flex-wrap: wrap; margin-top: 6px; }
.tag { font-size: 0.75rem; padding: 1px 8px; border-radius: 999px; background: var(--surface-2); color: var(--muted); border: 1px solid var(--border); }
.badge { font-size: 0.72rem; padding: 1px 8px; border-radius: 999px; border: 1px solid var(--border); color: var(--muted); vertical-align: middle; font-weight: 500; }
.repo-size { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.repo-size strong { display: block; font-size: 0.95rem; }
.repo-size span { color: var(--muted); font-size: 0.82rem; }

/* empty state */
.empty { text-align: left; }
.empty h2 { font-size: 1.2rem; margin-bottom: 6px; }
.empty p { margin: 4px 0 16px; color: var(--muted); }
.snippet { min-width: 0; border: 1px solid var(--border); border-radius: 8px; overflow: hidden; background: var(--surface-2); }
.snippet-bar {
  display: flex; align-items: center; justify-content: space-between; gap: 8px; padding: 6px 8px 6px 14px;
  border-bottom: 1px solid var(--border); color: var(--muted); font-size: 0.82rem; font-weight: 560; background: var(--surface);
}
.snippet-bar button { padding: 1px 10px; font-size: 0.78rem; }
.snippet pre { margin: 0; padding: 12px 14px; overflow-x: auto; line-height: 1.55; white-space: pre; }

/* repo detail */
.crumbs { font-size: 0.9rem; }
.repo-head { display: flex; justify-content: space-between; align-items: flex-end; gap: 12px 24px; flex-wrap: wrap; }
.repo-head .repo-meta { margin-top: 6px; }
.toolbar { display: flex; align-items: center; gap: 10px 16px; flex-wrap: wrap; }
.toolbar label { display: inline-flex; align-items: center; gap: 8px; color: var(--muted); font-size: 0.9rem; }
.toolbar code { background: var(--surface-2); padding: 2px 8px; border-radius: 6px; border: 1px solid var(--border); }
.detail-grid { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 20px; align-items: start; }
@media (max-width: 880px) { .detail-grid { grid-template-columns: minmax(0, 1fr); } }

.tree, .tree ul { list-style: none; margin: 0; padding: 0; }
.tree li { border-top: 1px solid var(--border); }
.tree > li:first-child { border-top: 0; }
.tree ul[hidden] { display: none; }
.frow {
  display: grid; grid-template-columns: minmax(0, 1fr) 90px auto; gap: 12px; align-items: center;
  padding: 8px 4px 8px calc(4px + var(--depth, 0) * 20px);
}
.frow:hover { background: var(--surface-2); }
.fname { display: flex; align-items: center; gap: 8px; min-width: 0; overflow-wrap: break-word; }
.fname > span { min-width: 0; }
.fname .ico { flex: none; width: 16px; height: 16px; color: var(--muted); }
.dir .fname .ico { color: var(--accent); }
.toggle { border: 0; background: none; padding: 0; gap: 6px; font-weight: 560; color: var(--text); font-size: 0.92rem; }
.toggle:hover { color: var(--accent); }
.toggle .chev { width: 12px; height: 12px; transition: transform 0.12s; color: var(--muted); }
.toggle[aria-expanded="false"] .chev { transform: rotate(-90deg); }
.fsize { color: var(--muted); font-size: 0.86rem; text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.factions { display: flex; justify-content: flex-end; }
.factions .btn { padding: 3px 10px; font-size: 0.8rem; }
.ico-btn { width: 14px; height: 14px; }
.lfs { flex: none; white-space: nowrap; font-size: 0.68rem; padding: 0 6px; border-radius: 4px; border: 1px solid var(--border); color: var(--muted); letter-spacing: 0.04em; }
.variants {
  grid-column: 1 / -1; display: flex; align-items: center; flex-wrap: wrap; gap: 6px;
  padding-left: 24px; font-size: 0.8rem;
}
.variants .vlabel { color: var(--muted); margin-right: 2px; }
.chip {
  display: inline-flex; align-items: center; padding: 1px 9px; border-radius: 999px; font-family: var(--mono);
  font-size: 0.76rem; background: var(--accent-soft); color: var(--accent-text); border: 1px solid transparent;
}
.chip:hover { border-color: var(--accent); text-decoration: none; color: var(--accent-text); }
.variants select { max-width: 11rem; padding: 1px 24px 1px 8px; font-size: 0.78rem; font-family: var(--mono); border-radius: 999px; }
@media (max-width: 560px) {
  .frow { grid-template-columns: minmax(0, 1fr) auto auto; gap: 8px; }
  .factions .btn { padding: 4px 7px; }
  .btn-text { display: none; }
  .repo { flex-direction: column; align-items: flex-start; }
  .repo-size { text-align: left; }
  .wrap { padding: 0 14px; }
  .card { padding: 16px; }
}

.commits { list-style: none; margin: 0; padding: 0; }
.commit { display: grid; grid-template-columns: auto minmax(0, 1fr); gap: 2px 12px; padding: 10px 0; border-top: 1px solid var(--border); }
.commit:first-child { border-top: 0; padding-top: 0; }
.commit .oid {
  font-family: var(--mono); font-size: 0.8rem; padding: 1px 7px; border-radius: 6px; background: var(--surface-2);
  border: 1px solid var(--border); align-self: start; color: var(--accent-text);
}
.commit[aria-current="true"] .oid { background: var(--accent); color: #fff; border-color: var(--accent); }
.ctitle { font-weight: 540; overflow-wrap: anywhere; }
.cmeta { grid-column: 2; color: var(--muted); font-size: 0.8rem; }
.stack { display: grid; gap: 14px; }
.use-grid { align-items: start; display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 340px), 1fr)); gap: 14px; }
.foot { color: var(--muted); font-size: 0.82rem; padding-top: 8px; padding-bottom: 24px; display: flex; gap: 6px 16px; flex-wrap: wrap; }
.foot a { color: var(--muted); }
`;

// Plain ES2020 in a String.raw literal: the script uses no backticks and no dollar-brace, so nothing here
// is interpolated by TypeScript, and backslashes reach the browser as written.
const SCRIPT = String.raw`
(function () {
  "use strict";
  var COMMON_FORMATS = ["nf4", "int4", "int8", "float8_e4m3fn", "mxfp4"];
  var SVG_NS = "http://www.w3.org/2000/svg";
  var MAX_PAGES = 100;
  var view = document.getElementById("view");
  var totals = document.getElementById("totals");
  var fatal = document.getElementById("fatal");
  var cache = { stats: null, formats: null };
  var generation = 0;
  var chartRedraw = null;

  // ---------------------------------------------------------------- DOM helpers (text only, no HTML)
  function setAttrs(el, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k.slice(0, 2) === "on" && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (k === "testid") el.setAttribute("data-testid", v);
      else el.setAttribute(k, v === true ? "" : String(v));
    });
  }
  function add(el, children) {
    children.forEach(function (c) {
      if (Array.isArray(c)) add(el, c);
      else if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
    });
    return el;
  }
  function h(tag, attrs) {
    var el = document.createElement(tag);
    setAttrs(el, attrs);
    return add(el, Array.prototype.slice.call(arguments, 2));
  }
  function s(tag, attrs) {
    var el = document.createElementNS(SVG_NS, tag);
    setAttrs(el, attrs);
    return add(el, Array.prototype.slice.call(arguments, 2));
  }
  function icon(name) {
    var paths = {
      folder: "M2 4.5A1.5 1.5 0 0 1 3.5 3h3l1.5 1.5h4.5A1.5 1.5 0 0 1 14 6v5.5a1.5 1.5 0 0 1-1.5 1.5h-9A1.5 1.5 0 0 1 2 11.5z",
      file: "M4 2h5l3 3v8.5a.5.5 0 0 1-.5.5h-7a.5.5 0 0 1-.5-.5v-11A.5.5 0 0 1 4 2zm5 0v3h3",
      chev: "M4 6l4 4 4-4",
      down: "M8 2.5v8M4.5 7L8 10.5 11.5 7M3 13.5h10",
      repo: "M3 2.5h9a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1H3zm0 8h10M5.5 2.5v8",
    };
    var filled = name === "folder";
    return s("svg", { viewBox: "0 0 16 16", class: name === "chev" ? "chev" : name === "down" ? "ico-btn" : "ico", "aria-hidden": "true" },
      s("path", { d: paths[name], fill: filled ? "currentColor" : "none", stroke: filled ? "none" : "currentColor",
        "stroke-width": "1.3", "stroke-linejoin": "round", "stroke-linecap": "round" }));
  }

  // ---------------------------------------------------------------- formatting
  function formatBytes(n) {
    if (typeof n !== "number" || !isFinite(n) || n < 0) return "\u2014";
    if (n < 1000) return Math.round(n) + " B";
    var units = ["KB", "MB", "GB", "TB", "PB"];
    var v = n / 1000;
    var i = 0;
    while (v >= 999.95 && i < units.length - 1) { v /= 1000; i++; }
    return v.toFixed(1) + " " + units[i];
  }
  function savedPercent(logical, stored) {
    return logical > 0 ? (1 - stored / logical) * 100 : 0;
  }
  function savedText(logical, stored) {
    var p = savedPercent(logical, stored);
    return p >= 0 ? "saved " + p.toFixed(1) + "%" : (-p).toFixed(1) + "% overhead";
  }
  function formatDate(iso) {
    var d = new Date(iso);
    if (typeof iso !== "string" || isNaN(d.getTime())) return typeof iso === "string" ? iso : "";
    return d.toISOString().slice(0, 10);
  }
  function formatCount(n) {
    return typeof n === "number" && isFinite(n) ? n.toLocaleString("en-US") : "0";
  }
  function plural(n, one, many) { return formatCount(n) + " " + (n === 1 ? one : many); }
  function num(v) { return typeof v === "number" && isFinite(v) ? v : 0; }
  function str(v) { return typeof v === "string" ? v : v === undefined || v === null ? "" : String(v); }

  // ---------------------------------------------------------------- URLs
  var enc = encodeURIComponent;
  function segs(p) { return p.split("/").map(enc).join("/"); }
  function apiRepo(id, what, rev) {
    return "/api/models/" + segs(id) + "/" + what + (rev === undefined ? "" : "/" + enc(rev));
  }
  function fileHref(id, rev, path, format) {
    var u = "/" + segs(id) + "/resolve/" + enc(rev) + "/" + segs(path);
    return format ? u + "?format=" + enc(format) : u;
  }
  function repoHash(id, rev) {
    return "#/repo/" + segs(id) + (rev === undefined ? "" : "/tree/" + enc(rev));
  }
  function parseRoute(hash) {
    var raw = hash.replace(/^#\/?/, "");
    var parts = raw.split("/");
    while (parts.length && parts[parts.length - 1] === "") parts.pop();
    if (parts.length === 0) return { view: "home" };
    parts = parts.map(function (p) { try { return decodeURIComponent(p); } catch (e) { return p; } });
    if (parts[0] !== "repo" || parts.length < 2) return { view: "notfound" };
    var r = parts.slice(1);
    // Repo ids have one or two segments; "tree" after them starts the revision.
    if (r.length >= 4 && r[2] === "tree") return { view: "repo", id: r[0] + "/" + r[1], rev: r.slice(3).join("/") };
    if (r.length >= 3 && r[1] === "tree") return { view: "repo", id: r[0], rev: r.slice(2).join("/") };
    if (r.length <= 2) return { view: "repo", id: r.join("/") };
    return { view: "notfound" };
  }

  // ---------------------------------------------------------------- API
  function ApiError(message, status) { this.message = message; this.status = status; }
  ApiError.prototype = Object.create(Error.prototype);
  ApiError.prototype.name = "ApiError";

  function request(url) {
    return fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" }).then(
      function (res) {
        if (res.ok) {
          return res.json().then(function (body) { return { body: body, res: res }; }, function () {
            throw new ApiError("The hub sent a response that is not JSON (" + url + ").", res.status);
          });
        }
        return res.text().then(function (text) {
          var detail = text;
          try {
            var j = JSON.parse(text);
            if (j && typeof j.error === "string") detail = j.error;
            else if (j && typeof j.message === "string") detail = j.message;
            if (j && typeof j.code === "string") detail += " (" + j.code + ")";
          } catch (e) { /* not JSON: show the text */ }
          detail = str(detail).trim().slice(0, 400);
          throw new ApiError("HTTP " + res.status + (res.statusText ? " " + res.statusText : "") + " from " + url +
            (detail ? ": " + detail : ""), res.status);
        });
      },
      function (err) {
        throw new ApiError("Could not reach the hub at " + url + " (" + str(err && err.message) + ").", 0);
      });
  }
  function api(url) { return request(url).then(function (r) { return r.body; }); }
  function expectArray(v, url) {
    if (!Array.isArray(v)) throw new ApiError("Unexpected response from " + url + ": expected a list.", 0);
    return v;
  }
  function nextLink(res) {
    var link = res.headers.get("link");
    if (!link) return null;
    var m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(link);
    return m ? m[1] : null;
  }
  // Lists that the hub paginates with a Link header (the recursive tree): follow "next" to the end.
  function apiAll(url) {
    var out = [];
    function page(u, n) {
      return request(u).then(function (r) {
        out = out.concat(expectArray(r.body, url));
        var next = nextLink(r.res);
        return next && n < MAX_PAGES ? page(next, n + 1) : out;
      });
    }
    return page(url, 1);
  }
  function loadFormats() {
    if (cache.formats) return Promise.resolve(cache.formats);
    // Descriptions only decorate the variant links: the page works without them.
    return api("/api/formats").then(function (list) {
      var map = {};
      if (Array.isArray(list)) list.forEach(function (f) { if (f && typeof f.name === "string") map[f.name] = str(f.description); });
      cache.formats = map;
      return map;
    }, function () { return {}; });
  }

  // ---------------------------------------------------------------- shared pieces
  function errorBox(err, retry) {
    var msg = err && err.message ? err.message : str(err);
    return h("div", { class: "alert", role: "alert", testid: "error" },
      h("div", null, h("strong", null, "Something went wrong"), h("span", { class: "msg", testid: "error-message" }, msg)),
      retry ? h("button", { type: "button", onclick: retry, testid: "retry" }, "Retry") : null);
  }
  function loading(text) { return h("div", { class: "loading", role: "status" }, text || "Loading\u2026"); }
  function snippet(label, code, testid) {
    var btn = h("button", { type: "button", "aria-label": "Copy to clipboard" }, "Copy");
    btn.addEventListener("click", function () {
      var done = function (t) { btn.textContent = t; setTimeout(function () { btn.textContent = "Copy"; }, 1500); };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(code).then(function () { done("Copied"); }, function () { done("Select & copy"); });
      } else done("Select & copy");
    });
    return h("div", { class: "snippet" },
      h("div", { class: "snippet-bar" }, h("span", null, label), btn),
      h("pre", { testid: testid }, h("code", null, code)));
  }
  function renderTotals(stats) {
    if (!stats) {
      totals.replaceChildren(h("span", { class: "pill neutral" }, "storage stats unavailable"));
      return;
    }
    var logical = num(stats.logicalBytes);
    var stored = num(stats.storedBytes);
    totals.replaceChildren(
      h("span", null, h("strong", { testid: "totals-logical" }, formatBytes(logical)), " logical"),
      h("span", { "aria-hidden": "true" }, "\u2192"),
      h("span", null, h("strong", { testid: "totals-stored" }, formatBytes(stored)), " stored"),
      " ",
      h("span", { class: "pill", testid: "totals-saved" }, savedText(logical, stored)));
  }
  function loadStats() {
    return api("/api/stats").then(function (st) {
      if (!st || typeof st !== "object" || Array.isArray(st)) throw new ApiError("Unexpected response from /api/stats.", 0);
      cache.stats = st;
      renderTotals(st);
      return st;
    }, function (err) { renderTotals(null); throw err; });
  }
  function repoStats(stats, id) {
    var list = stats && Array.isArray(stats.repos) ? stats.repos : [];
    for (var i = 0; i < list.length; i++) if (list[i] && list[i].id === id) return list[i];
    return null;
  }

  // ---------------------------------------------------------------- home
  function emptyState() {
    var origin = location.origin;
    return h("section", { class: "card empty", testid: "empty-state" },
      h("h2", null, "No repositories yet \u2014 push one with \u2026"),
      h("p", null, "A push needs a write token: create one with ", h("code", null, "lowbit hub token"),
        " on the server, or start it with ", h("code", null, "LOWBIT_HUB_TOKEN"), " set."),
      h("div", { class: "stack" },
      snippet("the lowbit CLI", "lowbit hub push ./my-model my-org/my-model --endpoint " + origin, "empty-cli"),
      snippet("or the Hugging Face JS client", [
        'import { createRepo, uploadFiles } from "@huggingface/hub";',
        "",
        'const hubUrl = "' + origin + '";',
        'const accessToken = process.env.LOWBIT_HUB_TOKEN; // a write token',
        'const repo = "my-org/my-model";',
        "",
        "await createRepo({ repo, accessToken, hubUrl });",
        "await uploadFiles({",
        "  repo, accessToken, hubUrl,",
        '  files: [{ path: "config.json", content: new Blob([JSON.stringify(config)]) }],',
        "});",
      ].join("\n"), "empty-js")));
  }

  function buildChart(repos, width) {
    var labelH = 22, barH = 14, gap = 3, rowGap = 16, valueW = 82;
    var rowH = labelH + 2 * barH + gap + rowGap;
    var height = repos.length * rowH - rowGap;
    var barMax = Math.max(40, width - valueW);
    var maxChars = Math.max(8, Math.floor((width - 120) / 7.4));
    var summary = repos.map(function (r) {
      return r.id + ": " + formatBytes(num(r.logicalBytes)) + " logical, " + formatBytes(num(r.storedBytes)) +
        " stored, " + savedText(num(r.logicalBytes), num(r.storedBytes));
    }).join("; ");
    var title = "Storage per repository: logical bytes (what users download) vs stored bytes (on disk after dedup, delta and compression)";
    var svg = s("svg", { class: "chart", viewBox: "0 0 " + width + " " + height, width: width, height: height,
      role: "img", "aria-label": title, "aria-describedby": "chart-desc", testid: "chart" },
      s("title", { id: "chart-title" }, title),
      s("desc", { id: "chart-desc" }, summary));
    repos.forEach(function (r, i) {
      var y = i * rowH;
      var logical = num(r.logicalBytes), stored = num(r.storedBytes);
      // Each pair is scaled to its own repo: a 1 MB repo beside a 10 GB one still shows what it saved.
      var max = Math.max(1, logical, stored);
      var id = str(r.id);
      var label = id.length > maxChars ? id.slice(0, maxChars - 1) + "\u2026" : id;
      var g = s("g", { testid: "chart-row", "data-repo": id }, s("title", null, id));
      g.append(s("text", { x: 0, y: y + 15, class: "chart-label", testid: "chart-label" }, label));
      g.append(s("text", { x: width, y: y + 15, "text-anchor": "end", class: "chart-saved", testid: "chart-saved" },
        savedText(logical, stored)));
      [["logical", logical, y + labelH], ["stored", stored, y + labelH + barH + gap]].forEach(function (b) {
        var w = b[1] > 0 ? Math.max(2, (b[1] / max) * barMax) : 0;
        g.append(s("rect", { x: 0, y: b[2], width: w.toFixed(1), height: barH, rx: 3, class: "bar bar-" + b[0],
          testid: "chart-bar", "data-kind": b[0] }, s("title", null, id + ": " + formatBytes(b[1]) + " " + b[0])));
        g.append(s("text", { x: (w + 6).toFixed(1), y: b[2] + barH - 3, class: "chart-value" }, formatBytes(b[1])));
      });
      svg.append(g);
    });
    return svg;
  }

  function chartCard(stats) {
    var repos = (Array.isArray(stats.repos) ? stats.repos : []).filter(function (r) { return r && !r.private && typeof r.id === "string"; });
    var v = stats.variants || {};
    var box = h("div", { class: "chart-box" });
    var card = h("section", { class: "card", testid: "chart-card", "aria-labelledby": "chart-h" },
      h("div", { class: "card-head" },
        h("h2", { id: "chart-h" }, "Storage saved by dedup and delta"),
        h("span", { class: "sub" }, formatBytes(num(stats.logicalBytes)) + " logical \u2192 " + formatBytes(num(stats.storedBytes)) +
          " stored \u00b7 " + savedText(num(stats.logicalBytes), num(stats.storedBytes)))),
      h("div", { class: "legend", "aria-hidden": "true" },
        h("span", null, h("i", { class: "swatch logical" }), "Logical \u2014 what users download"),
        h("span", null, h("i", { class: "swatch stored" }), "Stored \u2014 on disk after dedup, delta and zstd")),
      repos.length ? box : h("p", { class: "muted" }, "No public repositories to chart yet."),
      h("div", { class: "chart-foot", testid: "variants-stats" },
        "Each pair of bars is scaled to its repository. " + plural(num(v.count), "cached quantized variant", "cached quantized variants") + " \u00b7 " +
        formatBytes(num(v.logicalBytes)) + " logical, " + formatBytes(num(v.storedBytes)) + " stored"));
    var lastWidth = 0;
    chartRedraw = function () {
      if (!repos.length || !box.isConnected) return;
      var w = Math.max(260, Math.floor(box.clientWidth || 640));
      if (w === lastWidth) return;
      lastWidth = w;
      box.replaceChildren(buildChart(repos, w));
    };
    return card;
  }

  function repoItem(m, stats) {
    var id = str(m.id);
    var st = repoStats(stats, id);
    var tags = Array.isArray(m.tags) ? m.tags.filter(function (t) { return typeof t === "string"; }).slice(0, 6) : [];
    return h("li", { class: "repo", testid: "repo-item", "data-repo": id },
      h("div", { style: "min-width:0" },
        h("a", { class: "repo-name", href: repoHash(id), testid: "repo-link" }, id),
        m.private ? h("span", { class: "badge" }, " private") : null,
        h("div", { class: "repo-meta" },
          m.lastModified ? h("span", null, "Updated " + formatDate(m.lastModified)) : null,
          h("span", null, plural(num(m.downloads), "download", "downloads")),
          h("span", null, plural(num(m.likes), "like", "likes")),
          st ? h("span", null, plural(num(st.files), "file", "files")) : null),
        tags.length ? h("div", { class: "tags" }, tags.map(function (t) { return h("span", { class: "tag" }, t); })) : null),
      st ? h("div", { class: "repo-size", testid: "repo-size" },
        h("strong", null, formatBytes(num(st.logicalBytes))),
        h("span", null, formatBytes(num(st.storedBytes)) + " stored \u00b7 " + savedText(num(st.logicalBytes), num(st.storedBytes))))
        : null);
  }

  function reposCard(models, stats) {
    var items = models.map(function (m) { return repoItem(m, stats); });
    var none = h("p", { class: "muted", hidden: true, testid: "repo-filter-empty" }, "No repository matches.");
    var filter = h("input", { type: "search", placeholder: "Filter repositories", "aria-label": "Filter repositories", testid: "repo-filter" });
    filter.addEventListener("input", function () {
      var q = filter.value.trim().toLowerCase();
      var shown = 0;
      items.forEach(function (li) {
        var hit = li.getAttribute("data-repo").toLowerCase().indexOf(q) !== -1;
        li.hidden = !hit;
        if (hit) shown++;
      });
      none.hidden = shown > 0;
    });
    return h("section", { class: "card", testid: "repos-card", "aria-labelledby": "repos-h" },
      h("div", { class: "list-tools" },
        h("h2", { id: "repos-h" }, "Repositories ", h("span", { class: "muted", testid: "repo-count" }, "(" + models.length + ")")),
        models.length > 3 ? filter : null),
      h("ul", { class: "repos", testid: "repo-list" }, items), none);
  }

  function renderHome(my) {
    document.title = "lowbit hub";
    var chartSlot = h("section", { class: "card" }, h("h2", null, "Storage saved by dedup and delta"), loading());
    var listSlot = h("section", { class: "card" }, h("h2", null, "Repositories"), loading());
    view.replaceChildren(chartSlot, listSlot);
    var retry = function () { route(); };
    return Promise.all([
      api("/api/models").then(function (v) { return expectArray(v, "/api/models"); }).then(ok, fail),
      loadStats().then(ok, fail),
    ]).then(function (r) {
      if (my !== generation) return;
      var models = r[0], stats = r[1];
      if (models.ok && models.value.length === 0) {
        view.replaceChildren.apply(view, stats.ok ? [emptyState()] : [errorBox(stats.error, retry), emptyState()]);
        return;
      }
      chartSlot.replaceWith(stats.ok ? chartCard(stats.value) :
        h("section", { class: "card" }, h("h2", { style: "margin-bottom:12px" }, "Storage saved by dedup and delta"), errorBox(stats.error, retry)));
      listSlot.replaceWith(models.ok ? reposCard(models.value, stats.ok ? stats.value : null) :
        h("section", { class: "card" }, h("h2", { style: "margin-bottom:12px" }, "Repositories"), errorBox(models.error, retry)));
      if (chartRedraw) chartRedraw();
    });
  }
  function ok(value) { return { ok: true, value: value }; }
  function fail(error) { return { ok: false, error: error }; }

  // ---------------------------------------------------------------- repo detail
  function buildTree(entries) {
    var root = { name: "", path: "", dir: true, children: {}, size: 0 };
    function child(parent, name, path, isDir) {
      var c = parent.children[name];
      if (!c || (c.dir !== isDir && isDir)) {
        if (!c) c = parent.children[name] = { name: name, path: path, dir: isDir, children: {}, size: 0 };
      }
      return c;
    }
    entries.forEach(function (e) {
      if (!e || typeof e.path !== "string" || e.path === "") return;
      var parts = e.path.split("/");
      var node = root;
      for (var i = 0; i < parts.length - 1; i++) node = child(node, parts[i], parts.slice(0, i + 1).join("/"), true);
      var name = parts[parts.length - 1];
      if (e.type === "directory") { child(node, name, e.path, true); return; }
      node.children[name] = { name: name, path: e.path, dir: false, size: num(e.size), lfs: !!e.lfs,
        variants: Array.isArray(e.variants) ? e.variants.filter(function (v) { return typeof v === "string"; }) : [] };
    });
    (function sum(n) {
      if (!n.dir) return n.size;
      n.size = 0;
      Object.keys(n.children).forEach(function (k) { n.size += sum(n.children[k]); });
      return n.size;
    })(root);
    return root;
  }
  function sortedChildren(n) {
    return Object.keys(n.children).map(function (k) { return n.children[k]; }).sort(function (a, b) {
      if (a.dir !== b.dir) return a.dir ? -1 : 1;
      return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    });
  }
  function variantsRow(id, rev, f, formats) {
    if (!/\.safetensors$/i.test(f.name) || f.variants.length === 0) return null;
    var common = COMMON_FORMATS.filter(function (x) { return f.variants.indexOf(x) !== -1; });
    var rest = f.variants.filter(function (x) { return COMMON_FORMATS.indexOf(x) === -1; }).sort();
    var row = h("div", { class: "variants", testid: "variants" }, h("span", { class: "vlabel" }, "Quantized:"));
    common.forEach(function (fmt) {
      row.append(h("a", { class: "chip", href: fileHref(id, rev, f.path, fmt), testid: "variant-link", "data-format": fmt,
        title: formats[fmt] ? fmt + " \u2014 " + formats[fmt] : fmt, download: true }, fmt));
    });
    if (rest.length) {
      var sel = h("select", { testid: "variant-select", "aria-label": "More quantized formats for " + f.name },
        rest.map(function (fmt) { return h("option", { value: fmt, title: formats[fmt] || null }, fmt); }));
      var get = h("a", { class: "chip", testid: "variant-select-link", href: fileHref(id, rev, f.path, rest[0]), download: true }, "Get \u2193");
      sel.addEventListener("change", function () { get.setAttribute("href", fileHref(id, rev, f.path, sel.value)); });
      row.append(common.length ? h("span", { class: "muted" }, "or") : null, sel, get);
    }
    return row;
  }
  // Lets a long file name wrap after a dot, dash or underscore rather than inside a word.
  function breakable(name) {
    var out = [];
    var parts = name.split(/([._-])/);
    for (var i = 0; i < parts.length; i++) {
      if (parts[i]) out.push(parts[i]);
      if (i % 2 === 1) out.push(h("wbr"));
    }
    return out;
  }
  function treeList(id, rev, node, depth, formats) {
    return sortedChildren(node).map(function (n) {
      var style = "--depth:" + depth;
      if (n.dir) {
        var sub = h("ul", { role: "group" }, treeList(id, rev, n, depth + 1, formats));
        var toggle = h("button", { type: "button", class: "toggle", "aria-expanded": "true", testid: "dir-toggle" },
          icon("chev"), icon("folder"), n.name);
        toggle.addEventListener("click", function () {
          var open = toggle.getAttribute("aria-expanded") !== "true";
          toggle.setAttribute("aria-expanded", open ? "true" : "false");
          sub.hidden = !open;
        });
        return h("li", { class: "dir", testid: "file-row", "data-path": n.path, "data-type": "directory" },
          h("div", { class: "frow", style: style },
            h("span", { class: "fname" }, toggle),
            h("span", { class: "fsize", testid: "file-size" }, formatBytes(n.size)),
            h("span", null)),
          sub);
      }
      return h("li", { testid: "file-row", "data-path": n.path, "data-type": "file" },
        h("div", { class: "frow", style: style },
          h("span", { class: "fname" }, icon("file"), h("span", { testid: "file-name" }, breakable(n.name)), n.lfs ? h("span", { class: "lfs", title: "Stored with Git LFS" }, "LFS") : null),
          h("span", { class: "fsize", testid: "file-size" }, formatBytes(n.size)),
          h("span", { class: "factions" },
            h("a", { class: "btn", href: fileHref(id, rev, n.path), download: n.name, testid: "download-link",
              "aria-label": "Download " + n.path, title: "Download " + n.name }, icon("down"), h("span", { class: "btn-text" }, "Download"))),
          variantsRow(id, rev, n, formats)));
    });
  }
  function commitList(id, commits, headOid) {
    if (!commits.length) return h("p", { class: "muted" }, "No commits.");
    return h("ol", { class: "commits", testid: "commit-list" }, commits.map(function (c) {
      var oid = str(c && c.id);
      var authors = Array.isArray(c.authors) ? c.authors.map(function (a) { return str(a && a.user); }).filter(Boolean) : [];
      return h("li", { class: "commit", testid: "commit-row", "aria-current": oid === headOid ? "true" : null },
        h("a", { class: "oid", href: repoHash(id, oid), title: oid, testid: "commit-oid" }, oid.slice(0, 7)),
        h("span", { class: "ctitle", title: str(c.message) || null }, str(c.title) || "(no message)"),
        h("span", { class: "cmeta" }, [authors.join(", "), formatDate(c.date)].filter(Boolean).join(" \u00b7 ")));
    }));
  }
  function revSelect(id, refs, rev) {
    var branches = Array.isArray(refs.branches) ? refs.branches : [];
    var tags = Array.isArray(refs.tags) ? refs.tags : [];
    var names = branches.concat(tags).map(function (b) { return str(b && b.name); });
    var sel = h("select", { testid: "branch-select", "aria-label": "Branch" });
    if (names.indexOf(rev) === -1) sel.append(h("option", { value: rev }, /^[0-9a-f]{40}$/.test(rev) ? "commit " + rev.slice(0, 7) : rev));
    var group = function (label, list) {
      if (!list.length) return null;
      return h("optgroup", { label: label }, list.map(function (b) { return h("option", { value: str(b.name) }, str(b.name)); }));
    };
    add(sel, [group("Branches", branches), group("Tags", tags)]);
    sel.value = rev;
    sel.addEventListener("change", function () { location.hash = repoHash(id, sel.value); });
    return sel;
  }
  function exampleFile(tree) {
    var files = tree.filter(function (e) { return e && e.type !== "directory" && typeof e.path === "string"; });
    var config = files.filter(function (e) { return e.path === "config.json"; })[0];
    return config ? config.path : files.length ? files[0].path : "config.json";
  }
  function useCard(id, rev, path) {
    var origin = location.origin;
    return h("section", { class: "card", "aria-labelledby": "use-h" },
      h("div", { class: "card-head" }, h("h2", { id: "use-h" }, "Use this model")),
      h("div", { class: "use-grid" },
        snippet("Python (huggingface_hub)", "HF_ENDPOINT=" + origin + " \\\nHF_HUB_DISABLE_XET=1 \\\nhf download " + id + " --revision " + rev, "use-python"),
        snippet("JavaScript (@huggingface/hub)", [
          'import { downloadFile } from "@huggingface/hub";',
          "",
          "const blob = await downloadFile({",
          "  repo: " + JSON.stringify(id) + ", path: " + JSON.stringify(path) + ",",
          "  revision: " + JSON.stringify(rev) + ", hubUrl: " + JSON.stringify(origin) + ",",
          "});",
        ].join("\n"), "use-js")));
  }

  function renderRepo(my, id, wantedRev) {
    document.title = id + " \u00b7 lowbit hub";
    var head = h("div", null,
      h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/", testid: "back-link" }, "\u2190 All repositories")));
    var body = h("div", { style: "display:grid;gap:20px" }, loading());
    view.replaceChildren(head, body);
    var retry = function () { route(); };
    var statsP = cache.stats ? Promise.resolve(cache.stats) : loadStats().catch(function () { return null; });
    return api(apiRepo(id, "refs")).then(function (refs) {
      if (!refs || typeof refs !== "object") throw new ApiError("Unexpected response from " + apiRepo(id, "refs") + ".", 0);
      var branches = Array.isArray(refs.branches) ? refs.branches : [];
      var rev = wantedRev;
      if (rev === undefined) {
        var main = branches.filter(function (b) { return b && b.name === "main"; })[0];
        rev = main ? "main" : branches.length ? str(branches[0].name) : "main";
      }
      var treeUrl = apiRepo(id, "tree", rev) + "?recursive=true";
      var commitsUrl = apiRepo(id, "commits", rev);
      return Promise.all([
        api(commitsUrl).then(function (v) { return expectArray(v, commitsUrl); }),
        apiAll(treeUrl),
        statsP,
        loadFormats(),
      ]).then(function (r) { return { refs: refs, rev: rev, commits: r[0], tree: r[1], stats: r[2], formats: r[3] }; });
    }).then(function (d) {
      if (my !== generation) return;
      var rev = d.rev;
      var headOid = d.commits.length ? str(d.commits[0].id) : "";
      var st = repoStats(d.stats, id);
      var root = buildTree(d.tree);
      var fileCount = d.tree.filter(function (e) { return e && e.type !== "directory"; }).length;
      head.append(h("div", { class: "repo-head", style: "margin-top:10px" },
        h("div", { style: "min-width:0" },
          h("h1", { testid: "repo-title", tabindex: "-1" }, id),
          h("div", { class: "repo-meta" },
            h("span", null, plural(fileCount, "file", "files") + " \u00b7 " + formatBytes(root.size) + " at this revision"),
            st ? h("span", { testid: "repo-stats" }, formatBytes(num(st.logicalBytes)) + " logical \u2192 " +
              formatBytes(num(st.storedBytes)) + " stored (" + savedText(num(st.logicalBytes), num(st.storedBytes)) + ")") : null)),
        h("div", { class: "toolbar" },
          h("label", null, "Revision", revSelect(id, d.refs, rev)),
          headOid ? h("code", { testid: "head-oid", title: headOid }, headOid.slice(0, 7)) : null)));
      var files = fileCount
        ? h("ul", { class: "tree", testid: "file-tree" }, treeList(id, rev, root, 0, d.formats))
        : h("p", { class: "muted", testid: "file-tree-empty" }, "No files at this revision yet.");
      body.replaceChildren(
        h("div", { class: "detail-grid" },
          h("section", { class: "card", "aria-labelledby": "files-h" },
            h("div", { class: "card-head" }, h("h2", { id: "files-h" }, "Files"), h("span", { class: "sub" }, plural(fileCount, "file", "files"))),
            files),
          h("section", { class: "card", "aria-labelledby": "commits-h" },
            h("div", { class: "card-head" }, h("h2", { id: "commits-h" }, "History"), h("span", { class: "sub" }, plural(d.commits.length, "commit", "commits"))),
            commitList(id, d.commits, headOid))),
        useCard(id, rev, exampleFile(d.tree)));
    }).catch(function (err) {
      if (my !== generation) return;
      var notFound = err && err.status === 404;
      body.replaceChildren(h("h1", { style: "margin-top:4px" }, id),
        errorBox(notFound ? new ApiError("Repository or revision not found. " + err.message, 404) : err, notFound ? null : retry));
    });
  }

  // ---------------------------------------------------------------- router
  function route() {
    var my = ++generation;
    chartRedraw = null;
    var r = parseRoute(location.hash);
    var p;
    if (r.view === "home") p = renderHome(my);
    else if (r.view === "repo" && r.id) p = renderRepo(my, r.id, r.rev);
    else {
      document.title = "Not found \u00b7 lowbit hub";
      view.replaceChildren(h("section", { class: "card", testid: "not-found" },
        h("h2", null, "Page not found"), h("p", null, h("a", { href: "#/" }, "Back to all repositories"))));
      p = Promise.resolve();
    }
    return p.catch(showFatal);
  }
  function showFatal(err) {
    fatal.hidden = false;
    fatal.replaceChildren(errorBox(err && err.message ? err : new Error(str(err) || "Unexpected error"), function () { fatal.hidden = true; route(); }));
  }
  window.addEventListener("error", function (e) { showFatal(e.error || e.message); });
  window.addEventListener("unhandledrejection", function (e) { showFatal(e.reason); });
  window.addEventListener("hashchange", function () {
    window.scrollTo(0, 0);
    route().then(function () {
      var t = document.querySelector("[data-testid=repo-title]");
      if (t) t.focus({ preventScroll: true });
    });
  });
  var resizeQueued = false;
  window.addEventListener("resize", function () {
    if (resizeQueued) return;
    resizeQueued = true;
    requestAnimationFrame(function () { resizeQueued = false; if (chartRedraw) chartRedraw(); });
  });
  route();
})();
`;

const LOGO = `<svg viewBox="0 0 16 16" aria-hidden="true"><path d="M3 12.5V9m3.3 3.5V6m3.4 6.5V3.5m3.3 9v-5" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>`;

/** The whole page, served as is at `GET /` (`text/html; charset=utf-8`). */
export const PAGE_HTML: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>lowbit hub</title>
<link rel="icon" href="data:,">
<style>${CSS}</style>
</head>
<body>
<header class="top" data-testid="header">
  <div class="wrap top-inner">
    <a class="brand" href="#/" data-testid="brand"><span class="logo">${LOGO}</span><span>lowbit hub</span><small>model storage</small></a>
    <div class="totals" id="totals" data-testid="totals" aria-live="polite"></div>
  </div>
</header>
<main class="wrap" id="main">
  <div id="fatal" hidden style="margin-bottom:20px"></div>
  <div id="view" data-testid="view"><noscript><div class="alert" role="alert">This page needs JavaScript. The JSON API is at <a href="/api/models">/api/models</a>.</div></noscript></div>
</main>
<footer class="wrap foot">
  <span>lowbit hub \u00b7 Hugging Face Hub compatible API</span>
  <a href="/api/models">/api/models</a><a href="/api/stats">/api/stats</a><a href="/healthz">/healthz</a><a href="/metrics">/metrics</a>
</footer>
<script>${SCRIPT}</script>
</body>
</html>
`;
