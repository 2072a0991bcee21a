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
  // Miniflare 5 (wrangler 4.117 on): a Worker is its deployed config (manifest, env,
  // exports) plus local-only `dev` settings.
  // MIA_BENCH_BUILD: another build's folder, to compare two builds in one sitting.
  const build = process.env.MIA_BENCH_BUILD ?? path.join(ROOT, "build");
  const text = (value) => ({ type: "text", value: String(value) });
  const mf = new Miniflare({
    workers: [{
      config: {
        name: "mia",
        compatibilityDate,
        compatibilityFlags,
        manifest: {
          mainModule: "index.js",
          modulesRoot: build,
          modules: {
            "index.js": { type: "esm", contents: fs.readFileSync(path.join(build, "index.js"), "utf8") },
            "index_bg.wasm": { type: "wasm", contents: new Uint8Array(fs.readFileSync(path.join(build, "index_bg.wasm"))) },
          },
        },
        env: {
          MIA_SESSION: { type: "durable-object", worker: "mia", exportName: "MiaSession" },
          MIA_LIMITER: { type: "durable-object", worker: "mia", exportName: "MiaLimiter" },
          ...Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, text(v)])),
        },
        exports: {
          MiaSession: { type: "durable-object", storage: "sqlite" },
          MiaLimiter: { type: "durable-object", storage: "sqlite" },
        },
      },
      dev: { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] },
    }],
    host: "127.0.0.1",
    port: 0,
    inspectorPort,
  });
  await mf.ready;
  const url = (await mf.unsafeGetDirectURL()).toString().replace(/\/$/, "");
  return { url, stop: () => mf.dispose() };
}
