// Runs the built Worker in workerd through Miniflare's API: the same runtime as
// `wrangler dev`, without wrangler's dev proxy, inspector and request logging. Clients
// reach the Worker's own socket, not Miniflare's entry worker, as they would in production.
import fs from "node:fs";
import path from "node:path";
import { Miniflare } from "miniflare";
import { ROOT } from "../tests/support/wrangler.mjs";

export async function startMiniflare(vars, { inspectorPort } = {}) {
  const wrangler = fs.readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  const compatibilityDate = /^compatibility_date = "(.*)"$/m.exec(wrangler)[1];
  const compatibilityFlags = JSON.parse(/^compatibility_flags = (\[.*\])$/m.exec(wrangler)?.[1] ?? "[]");
  const mf = new Miniflare({
    modules: [
      { type: "ESModule", path: path.join(ROOT, "build/index.js"), contents: fs.readFileSync(path.join(ROOT, "build/index.js"), "utf8") },
      { type: "CompiledWasm", path: path.join(ROOT, "build/index_bg.wasm"), contents: fs.readFileSync(path.join(ROOT, "build/index_bg.wasm")) },
    ],
    compatibilityDate,
    compatibilityFlags,
    durableObjects: {
      MIA_SESSION: { className: "MiaSession", useSQLite: true },
      MIA_LIMITER: { className: "MiaLimiter", useSQLite: true },
    },
    bindings: Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, String(v)])),
    host: "127.0.0.1",
    port: 0,
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    inspectorPort,
  });
  await mf.ready;
  const url = (await mf.unsafeGetDirectURL()).toString().replace(/\/$/, "");
  return { url, stop: () => mf.dispose() };
}
