import type { Hono } from "hono";
import { env } from "../../_shared/env.ts";
import { openApiDocument } from "../openapi.ts";

// A readable reference that works offline: the page renders /openapi.json itself, no CDN.
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>PDF chatbot API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1c1c1c}
h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem;text-transform:capitalize}
.op{border:1px solid #e3e3e3;border-radius:6px;margin:.6rem 0;padding:.5rem .8rem}
.m{display:inline-block;min-width:4.2rem;font-weight:700;font-family:monospace}
.get{color:#1a7f37}.post{color:#0550ae}.patch{color:#9a6700}.delete{color:#cf222e}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f6f8fa;padding:.5rem;overflow:auto;border-radius:4px}
details summary{cursor:pointer;color:#555}.lock{color:#888;font-size:12px}
</style></head><body>
<h1>PDF chatbot API</h1><p id="intro"></p><div id="ops">Loading…</div>
<script>
fetch(location.pathname.replace(/\\/docs\\/?$/, "/openapi.json")).then(r => r.json()).then(doc => {
  const esc = s => String(s).replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
  document.getElementById("intro").textContent = doc.info.description + " Base URL: " + doc.servers[0].url;
  // data of the first JSON success (a route that streams also answers 200 as text/event-stream).
  const successData = op => Object.entries(op.responses).filter(([s, r]) => s < "300" && r.content["application/json"])
    .map(([, r]) => r.content["application/json"].schema.properties.data)[0] ?? null;
  const byTag = {};
  for (const [path, ops] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(ops)) (byTag[op.tags[0]] ??= []).push({ path, method, op });
  document.getElementById("ops").innerHTML = Object.entries(byTag).map(([tag, list]) => "<h2>" + esc(tag) + "</h2>" + list.map(({ path, method, op }) =>
    '<div class="op"><span class="m ' + method + '">' + method.toUpperCase() + "</span><code>" + esc(path) + "</code> " +
    (op.security.length ? '<span class="lock">(Bearer token)</span>' : "") + "<div>" + esc(op.summary) + "</div>" +
    (op.description ? "<p>" + esc(op.description) + "</p>" : "") +
    (op.requestBody ? "<details><summary>Request body</summary>" + (op.requestBody.description ? "<p>" + esc(op.requestBody.description) + "</p>" : "") +
      Object.entries(op.requestBody.content).map(([type, media]) => "<code>" + esc(type) + "</code><pre>" + esc(JSON.stringify(media.schema, null, 2)) + "</pre>").join("") + "</details>" : "") +
    "<details><summary>Responses: " + Object.keys(op.responses).join(", ") + "</summary><ul>" +
      Object.entries(op.responses).map(([status, r]) => "<li><code>" + esc(status) + "</code> " + esc(r.description) + " (" + esc(Object.keys(r.content).join(", ")) + ")</li>").join("") +
      "</ul><pre>" + esc(JSON.stringify(successData(op), null, 2)) + "</pre></details></div>"
  ).join("")).join("");
});
</script></body></html>`;

export function docsRoutes(app: Hono) {
  // The public URL comes from configuration, never from request headers (a client's
  // X-Forwarded-Host must not end up in the document).
  app.get("/openapi.json", (c) => c.json(openApiDocument(env.publicApiUrl)));
  app.get("/docs", (c) => c.html(PAGE));
}
